#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace cmlr::api {

// The one place where an HTTP answer of CML becomes a Status (house style points 8 and 11).
//
// 2xx is OK. Otherwise, when the body is a runtimeError whose gRPC `code` is one that a
// grpc-gateway (v1 or v2, whose tables differ) sends with this HTTP status, the code decides:
//   CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE,
//   DATA_LOSS                      -> UNAVAILABLE (back off and retry), so that v1's
//                                     403 + RESOURCE_EXHAUSTED is throttling like v2's 429,
//                                     and 408/499 + CANCELLED or DEADLINE_EXCEEDED and
//                                     504 + DEADLINE_EXCEEDED are retried
//   any other code                 -> the same StatusCode (NOT_FOUND, ALREADY_EXISTS,
//                                     FAILED_PRECONDITION from v1's 412 or v2's 400, ...)
// Otherwise (no body, no code, or a code no gateway sends with this status, so that a body can
// neither turn a 400 into a retry nor a 503 into a permanent error) the HTTP status decides:
//   408, 429, 499, 5xx (but 501)   -> UNAVAILABLE
//   501                            -> UNIMPLEMENTED
//   400, 413, 414, 422 and other 4xx -> INVALID_ARGUMENT, 401 -> UNAUTHENTICATED,
//   403 -> PERMISSION_DENIED, 404 -> NOT_FOUND, 409 -> ABORTED (conflict: re-read),
//   412 -> FAILED_PRECONDITION, 1xx/3xx/other -> UNKNOWN.
// The message reads "<operation>: HTTP 404: <runtimeError message or error>", the detail passed
// through SanitizeServerText; the Status carries the HTTP status (Status::http_status()).
// `body` may be anything, including non-JSON; it is never trusted to be well-formed.
common::Status StatusFromHttp(std::string_view operation, int http_status, std::string_view body);

// Text a server sent, made fit for a Status message, which may end up in logs and JSON (the
// daemon's /api/v1/status): control characters become spaces, bytes that are not well-formed
// UTF-8 become U+FFFD, and text longer than 300 bytes is cut at a character boundary, "..."
// marking the cut.
std::string SanitizeServerText(std::string_view text);

// True for HTTP statuses after which an idempotent read may be tried again (408, 429, 499 and
// 5xx but 501).
bool IsRetryableHttpStatus(int http_status);

// True when the answer says "slow down": HTTP 429, or a runtimeError with RESOURCE_EXHAUSTED
// under a status a gateway sends for it (grpc-gateway v1 sends 403). The server did not
// process the request, so even a write may be sent again once its Retry-After has passed.
bool IsThrottled(int http_status, std::string_view body);

}  // namespace cmlr::api
