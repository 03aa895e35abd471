// Fuzz target: what HttpCmlClient does with one HTTP response of a server: the parse of the
// bytes with the transport's limits, ReadResponse (Retry-After, JSON body of a 2xx, the error
// mapping of StatusFromHttp) and the decoding of a 2xx body by the operation's decoder.
//
// Input: the first byte picks the operation (its low bits, modulo the operations of
// wire_decoders.h) and the mode (its high bit):
//   - wire mode (high bit clear): the rest is the raw response, status line to body, read the
//     way the transport reads it (Beast's parser, header and body limits, a body that ends
//     with the connection);
//   - direct mode (high bit set): two bytes of status (big-endian, modulo 1000), one byte N, N
//     bytes of Retry-After value (when N > 0), then the body. It reaches the mapping and the
//     decoders without spending mutations on HTTP syntax.
//
// Contract checked: nothing throws or crashes; a 2xx body is parsed JSON or INVALID_ARGUMENT;
// any other status is an error that carries the HTTP status, names the operation, stays short
// and on one line, and says UNAVAILABLE for the statuses the client retries; every message can
// go into JSON (valid UTF-8); Retry-After is read only on throttling answers (429, or 403 with
// gRPC code 8 from grpc-gateway v1) and 503, and is never negative nor above kMaxRetryAfter.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/error_mapping.h"
#include "api/http_cml_client.h"
#include "api/http_response.h"
#include "api/http_transport.h"
#include "common/status.h"
#include "tests/fuzz/wire_decoders.h"

namespace cmlr::fuzz {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using common::StatusCode;

constexpr std::uint8_t kDirectMode = 0x80;
// The longest message StatusFromHttp makes besides the operation: ": HTTP 999: ", a detail of
// 300 characters and "...".
constexpr std::size_t kMaxMessageExtra = 12 + 300 + 3;

// A fixed "now", so that a Retry-After date gives the same delay on every run.
const common::TimePoint kNow{std::chrono::sys_days(std::chrono::year(2026) / 11 / 27)};

// Reads `bytes` as HttpTransport does: one response, with its header and body limits; a body
// without a length ends where the bytes end (the server closed the connection). False when the
// transport would have failed with a malformed, oversized or incomplete response.
bool ParseWire(std::string_view bytes, api::HttpResponse& response) {
  http::response_parser<http::string_body> parser;
  parser.header_limit(api::kMaxResponseHeaderBytes);
  parser.body_limit(api::HttpCmlClientOptions{}.max_response_bytes);
  parser.eager(true);
  net::const_buffer input(bytes.data(), bytes.size());
  beast::error_code ec;
  while (input.size() > 0 && !parser.is_done()) {
    const std::size_t used = parser.put(input, ec);
    input += used;
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;  // the rest is an incomplete header or chunk
    } else if (ec) {
      return false;
    }
  }
  if (!parser.is_done()) {
    // What the read loop does at end of stream: nothing at all is end_of_stream, otherwise the
    // parser decides whether the message may end here.
    if (!parser.got_some()) return false;
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return false;
  }
  response = parser.release();
  return true;
}

// Builds the response of the direct mode, or false when the input is too short.
bool BuildDirect(std::string_view bytes, api::HttpResponse& response) {
  if (bytes.size() < 3) return false;
  const unsigned status =
      (static_cast<std::uint8_t>(bytes[0]) << 8 | static_cast<std::uint8_t>(bytes[1])) % 1000;
  const std::size_t retry_after_size = static_cast<std::uint8_t>(bytes[2]);
  bytes.remove_prefix(3);
  if (bytes.size() < retry_after_size) return false;
  response.result(status);
  if (retry_after_size > 0) {
    response.set(http::field::retry_after, bytes.substr(0, retry_after_size));
  }
  response.body() = std::string(bytes.substr(retry_after_size));
  return true;
}

void CheckReading(const Decoder& decoder, const api::HttpResponse& response,
                  const api::ResponseReading& reading) {
  const int status = static_cast<int>(response.result_int());
  Check(reading.http_status == status, "http_status");
  if (reading.retry_after.has_value()) {
    Check(reading.throttled || status == 503, "Retry-After read on another status");
    Check(*reading.retry_after >= common::Duration::zero() &&
              *reading.retry_after <= api::kMaxRetryAfter,
          "Retry-After delay out of range", std::to_string(reading.retry_after->count()) + "ns");
  }

  if (status >= 200 && status <= 299) {
    if (!reading.body.ok()) {
      Check(reading.body.status().code() == StatusCode::kInvalidArgument, "2xx body",
            reading.body.status().ToString());
      CheckJsonSafe("2xx body", reading.body.status());
      return;
    }
    CheckDecoded(decoder, decoder.decode(*reading.body));
    return;
  }

  Check(!reading.body.ok(), "a non-2xx response read as OK");
  const common::Status& error = reading.body.status();
  const std::string& message = error.message();
  Check(error.http_status() == status, "the error does not carry the HTTP status");
  Check(message.starts_with(std::string(decoder.name) + ": HTTP " + std::to_string(status)),
        "message prefix", message);
  Check(message.size() <= decoder.name.size() + kMaxMessageExtra, "message too long", message);
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    Check(u >= 0x20 && u != 0x7f, "control character in the message", message);
  }
  CheckJsonSafe("error", error);
  if (api::IsRetryableHttpStatus(status)) {
    Check(error.code() == StatusCode::kUnavailable, "retryable status not UNAVAILABLE",
          error.ToString());
  }
}

}  // namespace
}  // namespace cmlr::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cmlr::fuzz;  // NOLINT(google-build-using-namespace): the entry point only
  if (size == 0) return 0;
  const Decoder& decoder = kDecoders[(data[0] & ~kDirectMode) % kOperationDecoders];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  cmlr::api::HttpResponse response;
  const bool built =
      (data[0] & kDirectMode) != 0 ? BuildDirect(rest, response) : ParseWire(rest, response);
  if (!built) return 0;
  const cmlr::api::ResponseReading reading = cmlr::api::ReadResponse(decoder.name, response, kNow);
  CheckReading(decoder, response, reading);
  return 0;
}
