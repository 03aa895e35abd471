#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace cmlr::controllers {

// Design section 5 (contract): Argo CD's sync and health vocabulary, kstatus conditions.
enum class SyncState { kSynced, kOutOfSync, kUnknown };
enum class HealthState { kHealthy, kProgressing, kDegraded, kSuspended, kMissing, kUnknown };

std::string_view ToString(SyncState sync);
std::string_view ToString(HealthState health);

inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionReconciling = "Reconciling";
inline constexpr std::string_view kConditionStalled = "Stalled";

struct Condition {
  std::string type;                // Ready, Reconciling, Stalled
  std::string status = "Unknown";  // True, False, Unknown
  std::string reason;              // CamelCase
  std::string message;
  std::string observed_generation;  // the spec digest the condition was computed for
  common::TimePoint last_transition_time{};
};

// What CML shows for the model, as of the last observation.
struct LiveState {
  std::string project_id;
  std::string model_id;
  std::string build_id;
  std::string build_status;
  std::string deployment_id;
  std::string deployment_status;
  std::string registered_model_id;
  std::string registered_model_version_id;
  int version = 0;
  std::string runtime;
  double cpu = 0;
  double memory_gib = 0;
  int gpus = 0;
  int replicas = 0;  // of the deployment that serves, 0 when none does
  bool auth_enabled = false;
};

// A difference between live and desired, for `plan` output, status and drift metrics.
struct FieldDiff {
  std::string field;  // "resources.cpu", "description", "deployment", ...
  std::string live;
  std::string desired;
};

// Post-deploy verification of one deployment (design 4b). CML records none of it: it is what
// this daemon ran.
enum class VerificationResult { kPending, kPassed, kFailed };
std::string_view ToString(VerificationResult result);

struct Verification {
  VerificationResult result = VerificationResult::kPending;
  common::TimePoint at{};
  std::string message;
};

// The deployment to return to when a rollout fails (design 4b): the newest one of the model
// that was deployed and passed verification (or, without `verify`, was deployed).
struct LastGood {
  int version = 0;  // registry version number; 0 when unknown
  std::string build_id;
  std::string deployment_id;
};

// One CML write or failed call, for "why is it stuck" without the logs.
struct HistoryEntry {
  common::TimePoint time{};
  std::string operation;  // create_model_build, ..., or the read that failed
  int http_status = 0;    // 0: no HTTP answer (transport failure) or none needed
  common::Duration duration{};
  bool error = false;
  std::string message;
  // The desired state's source revision (design 12) the pass worked from; nullopt when unknown.
  std::optional<std::string> revision;
};

inline constexpr std::size_t kHistoryLimit = 20;

struct ModelStatus {
  std::string name;
  std::map<std::string, std::string> labels;
  SyncState sync = SyncState::kUnknown;
  HealthState health = HealthState::kUnknown;
  std::vector<Condition> conditions;  // Ready, Reconciling, Stalled, in that order
  LiveState live;
  std::deque<HistoryEntry> history;  // newest last, at most kHistoryLimit
  std::optional<common::TimePoint> last_synced_at;
  std::optional<common::TimePoint> next_reconcile_at;
  std::string desired_digest;
  std::string resolved_runtime;
  std::string planned_action;                // "create_model_build: version 3 on runtime ..." or ""
  std::vector<FieldDiff> diffs;              // live -> desired, as the last plan saw them
  std::optional<Verification> verification;  // of the deployment that serves or is verified
  std::optional<LastGood> last_good;
  int desired_replicas = 0;
  bool removed = false;  // no longer in the desired state (kept for --prune reporting)
  // The source revision of the desired state the last pass worked from (design 12).
  std::optional<std::string> revision;

  // Appends, stamping the entry with `revision` unless it has one; keeps kHistoryLimit entries.
  void AddHistory(HistoryEntry entry);
  // Sets a condition, keeping its last_transition_time unless its status changes.
  void SetCondition(Condition condition, common::TimePoint now);
  const Condition* FindCondition(std::string_view type) const;
};

// The ENTRY object of design section 5, camelCase keys, RFC 3339 UTC times.
nlohmann::json ToJson(const ModelStatus& status);

}  // namespace cmlr::controllers
