#pragma once

#include <string>

#include <nlohmann/json.hpp>

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

}  // namespace cmlr::daemon
