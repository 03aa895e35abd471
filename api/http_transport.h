#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// A base URL split into its parts: "https://host[:port][/prefix]".
struct BaseUrl {
  bool tls = true;
  std::string host;         // without brackets for IPv6
  std::string port;         // "443" or "80" when not given
  std::string path_prefix;  // "" or "/prefix" without a trailing slash
};

// INVALID_ARGUMENT for anything but http:// or https:// with a host, an optional numeric port
// and an optional path (no query, fragment or user info).
[[nodiscard]] common::StatusOr<BaseUrl> ParseBaseUrl(std::string_view url);

// "localhost", 127.0.0.0/8 and ::1.
bool IsLoopbackHost(std::string_view host);

// RFC 3986 percent-encoding of everything but the unreserved characters; for path segments
// and query values.
std::string PercentEncode(std::string_view text);

// The most bytes of status line and headers read from one response; more is INTERNAL.
inline constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;

struct HttpTransportOptions {
  common::Duration connect_timeout = std::chrono::seconds(10);  // resolve + TCP connect
  common::Duration tls_handshake_timeout = std::chrono::seconds(10);
  common::Duration request_timeout = std::chrono::seconds(30);  // write + read of one exchange
  // Pooled connections idle for longer are closed instead of reused; keep it below the
  // server's keep-alive timeout so a request rarely meets a connection the server just closed.
  common::Duration idle_timeout = std::chrono::seconds(15);
  std::size_t max_response_bytes = 16 * 1024 * 1024;
  std::size_t max_idle_connections = 8;
  std::string ca_file;  // extra PEM trust anchors besides the system store
};

// The outcome of one exchange.
struct TransportResult {
  // The response, or UNAVAILABLE for a network failure or deadline, INTERNAL for a malformed
  // or oversized response.
  common::StatusOr<HttpResponse> response;
  // False only when the server cannot have received the whole request (nothing was written):
  // a write that failed with request_sent == false was certainly not applied.
  bool request_sent = false;
};

// HTTP/1.1 to one host over TCP or TLS (1.2 or later, SNI, host-name verification against the
// system trust store plus the CA file), with keep-alive connection reuse and a deadline on every
// step. Exceptions never escape. Use from the executor's thread only; the clock must outlive
// the transport. Destroying it closes the idle connections; calls in flight must have finished.
class HttpTransport {
 public:
  // INVALID_ARGUMENT when the CA file cannot be loaded.
  [[nodiscard]] static common::StatusOr<std::unique_ptr<HttpTransport>> Create(
      boost::asio::any_io_executor executor, common::Clock& clock, BaseUrl url,
      HttpTransportOptions options);

  virtual ~HttpTransport() = default;

  // Sends one request (Host, Content-Length and keep-alive are set here) on a pooled or new
  // connection and reads the answer. `timeout` replaces the options' request_timeout for this
  // exchange (writing the request and reading the answer).
  virtual boost::asio::awaitable<TransportResult> Send(
      HttpRequest request, std::optional<common::Duration> timeout = std::nullopt) = 0;

  // Closes every idle pooled connection (graceful shutdown).
  virtual void CloseIdle() = 0;
  virtual std::size_t idle_connections() const = 0;
  // Connections opened so far (for tests of reuse).
  virtual std::size_t connections_opened() const = 0;
};

}  // namespace cmlr::api
