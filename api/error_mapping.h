#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace cmlr::api {

// The one place where an HTTP answer of CML becomes a Status (house style points 8 and 11).
//
// 2xx is OK. Otherwise the code says what the caller should do next:
//   429, 408, 5xx (but 501)        -> UNAVAILABLE (back off and retry)
//   501                            -> UNIMPLEMENTED
//   other 4xx with a runtimeError body whose `code` is a valid gRPC code other than OK
//                                  -> that code, except codes that would mean "retry"
//                                     (UNAVAILABLE, DEADLINE_EXCEEDED) on a 4xx, which keep
//                                     the HTTP mapping
//   otherwise 400 -> INVALID_ARGUMENT, 401 -> UNAUTHENTICATED, 403 -> PERMISSION_DENIED,
//   404 -> NOT_FOUND, 409 -> ABORTED (conflict: re-read), 412 -> FAILED_PRECONDITION,
//   413/414/422 -> INVALID_ARGUMENT, 1xx/3xx/other -> UNKNOWN.
// The message reads "<operation>: HTTP 404: <runtimeError message or error>", the detail passed
// through SanitizeServerText; the Status carries the HTTP status (Status::http_status()).
// `body` may be anything, including non-JSON; it is never trusted to be well-formed.
common::Status StatusFromHttp(std::string_view operation, int http_status, std::string_view body);

// Text a server sent, made fit for a Status message, which may end up in logs and JSON (the
// daemon's /api/v1/status): control characters become spaces, bytes that are not well-formed
// UTF-8 become U+FFFD, and text longer than 300 bytes is cut at a character boundary, "..."
// marking the cut.
std::string SanitizeServerText(std::string_view text);

// True for HTTP statuses after which an idempotent read may be tried again.
bool IsRetryableHttpStatus(int http_status);

}  // namespace cmlr::api
