#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::daemon {

// Renders the daemon's `GET /api/v1/status` answer ({"models": [ENTRY, ...]}, design section 5)
// as an aligned text table for `cml-reconciler status`, one line per model:
//
//   NAME  SYNC  HEALTH  VERSION  REPLICAS  LAST ACTION  MESSAGE
//
// VERSION is live.version, REPLICAS is "live/desired", LAST ACTION the newest history entry
// ("create_model_build 201", or "... failed" when it had no HTTP answer), MESSAGE the Ready
// condition's message, shortened so that no line exceeds kMaxStatusLineWidth. Missing or
// mistyped fields show as "-"; with no models it prints one line saying so. Ends with '\n'.
std::string FormatStatusTable(const nlohmann::json& status_response);

inline constexpr std::size_t kMaxStatusLineWidth = 160;

// Fetches `<base_url>/api/v1/status` with one plain HTTP/1.1 GET and parses the JSON body.
// `base_url` is "http://HOST[:PORT][/PREFIX]" (port 80 by default; IPv6 as "[::1]"); `timeout`
// bounds the whole exchange (name resolution, connect, request, response). Blocks the calling
// thread on a private io_context; do not call it from an io_context thread.
//
// INVALID_ARGUMENT for a malformed or non-http:// URL; UNAVAILABLE when the daemon cannot be
// reached or does not answer in time ("cannot reach the daemon at http://127.0.0.1:9464:
// connection refused") or answers 5xx; FAILED_PRECONDITION for another non-200 answer; INTERNAL
// for a body that is not JSON. Non-200 statuses carry the HTTP status (Status::http_status()).
[[nodiscard]] common::StatusOr<nlohmann::json> FetchStatus(const std::string& base_url,
                                                           common::Duration timeout);

}  // namespace cmlr::daemon
