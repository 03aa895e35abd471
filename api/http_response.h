#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/http_transport.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

// What one HTTP response of CML means to HttpCmlClient, before retries and decoding into a
// wire type. Free of I/O and state, so that tests and the fuzz targets (tests/fuzz) drive
// exactly what the client does with the bytes a server sent.
struct ResponseReading {
  int http_status = 0;
  // 2xx: the parsed body, an empty body being an empty object, or INVALID_ARGUMENT
  // ("malformed JSON: ...") when the body is not JSON. Any other status: the error of
  // StatusFromHttp (never OK), which carries the HTTP status.
  common::StatusOr<nlohmann::json> body = nlohmann::json::object();
  // The server throttled the request (IsThrottled: a 429, or v1's 403 RESOURCE_EXHAUSTED):
  // it was not processed, so it may be sent again, a write too.
  bool throttled = false;
  // The delay a throttled answer or a 503 asks for in its Retry-After header, when present and
  // readable.
  std::optional<common::Duration> retry_after;
};

// Reads `response`, the answer to `operation` (named in error messages), at time `now` (for a
// Retry-After given as a date). Never throws; the response may hold anything a server sends.
ResponseReading ReadResponse(std::string_view operation, const HttpResponse& response,
                             common::TimePoint now);

// The longest delay ParseRetryAfter returns; later dates and larger numbers are cut to it.
inline constexpr std::chrono::seconds kMaxRetryAfter{1'000'000};

// A Retry-After value: delay-seconds ("120") or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT"),
// as a delay from `now` (zero for a date in the past), at most kMaxRetryAfter. Empty or
// unreadable text is nullopt.
std::optional<common::Duration> ParseRetryAfter(std::string_view value, common::TimePoint now);

}  // namespace cmlr::api
