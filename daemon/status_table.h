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
// Above the table: "Revision: REV" when the answer names the desired state's source revision
// (design 12), and a line when the daemon rejected its latest desired state (desiredState).
std::string FormatStatusTable(const nlohmann::json& status_response);

// The details of one ENTRY (`GET /api/v1/status/{name}`) for `cml-reconciler status NAME`,
// printed below its one-row table: the conditions (type, status, reason, since, message), the
// planned action, the diffs, the live CML ids, the verification, the sync times, the revision
// and the newest kStatusDetailHistory history entries, newest last. Lines are shortened like
// the table's; missing fields are left out or show as "-". Ends with '\n'.
std::string FormatStatusDetail(const nlohmann::json& entry);

inline constexpr std::size_t kStatusDetailHistory = 5;

inline constexpr std::size_t kMaxStatusLineWidth = 160;

}  // namespace cmlr::daemon
