#include "controllers/model_status.h"

#include <algorithm>

#include "common/time_format.h"

namespace cmlr::controllers {

std::string_view ToString(SyncState sync) {
  switch (sync) {
    case SyncState::kSynced:
      return "Synced";
    case SyncState::kOutOfSync:
      return "OutOfSync";
    case SyncState::kUnknown:
      break;
  }
  return "Unknown";
}

std::string_view ToString(HealthState health) {
  switch (health) {
    case HealthState::kHealthy:
      return "Healthy";
    case HealthState::kProgressing:
      return "Progressing";
    case HealthState::kDegraded:
      return "Degraded";
    case HealthState::kSuspended:
      return "Suspended";
    case HealthState::kMissing:
      return "Missing";
    case HealthState::kUnknown:
      break;
  }
  return "Unknown";
}

void ModelStatus::AddHistory(HistoryEntry entry) {
  if (!entry.revision) entry.revision = revision;
  history.push_back(std::move(entry));
  while (history.size() > kHistoryLimit) history.pop_front();
}

void ModelStatus::SetCondition(Condition condition, common::TimePoint now) {
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Condition& c) { return c.type == condition.type; });
  if (it == conditions.end()) {
    condition.last_transition_time = now;
    conditions.push_back(std::move(condition));
    return;
  }
  condition.last_transition_time = it->status == condition.status ? it->last_transition_time : now;
  *it = std::move(condition);
}

const Condition* ModelStatus::FindCondition(std::string_view type) const {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

namespace {

nlohmann::json OptionalTime(const std::optional<common::TimePoint>& time) {
  return time ? nlohmann::json(common::FormatRfc3339(*time)) : nlohmann::json(nullptr);
}

}  // namespace

std::string_view ToString(VerificationResult result) {
  switch (result) {
    case VerificationResult::kPassed:
      return "Passed";
    case VerificationResult::kFailed:
      return "Failed";
    case VerificationResult::kPending:
      break;
  }
  return "Pending";
}

nlohmann::json ToJson(const ModelStatus& status) {
  nlohmann::json conditions = nlohmann::json::array();
  for (const Condition& c : status.conditions) {
    conditions.push_back({{"type", c.type},
                          {"status", c.status},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"observedGeneration", c.observed_generation},
                          {"lastTransitionTime", common::FormatRfc3339(c.last_transition_time)}});
  }
  nlohmann::json history = nlohmann::json::array();
  for (const HistoryEntry& h : status.history) {
    history.push_back({{"time", common::FormatRfc3339(h.time, true)},
                       {"operation", h.operation},
                       {"httpStatus", h.http_status},
                       {"durationSeconds", common::ToSeconds(h.duration)},
                       {"error", h.error},
                       {"message", h.message},
                       {"revision", h.revision ? nlohmann::json(*h.revision) : nullptr}});
  }
  nlohmann::json diffs = nlohmann::json::array();
  for (const FieldDiff& d : status.diffs) {
    diffs.push_back({{"field", d.field}, {"live", d.live}, {"desired", d.desired}});
  }
  const LiveState& live = status.live;
  return {
      {"name", status.name},
      {"labels", status.labels},
      {"sync", ToString(status.sync)},
      {"health", ToString(status.health)},
      {"conditions", conditions},
      {"live",
       {{"projectId", live.project_id},
        {"modelId", live.model_id},
        {"buildId", live.build_id},
        {"buildStatus", live.build_status},
        {"deploymentId", live.deployment_id},
        {"deploymentStatus", live.deployment_status},
        {"registeredModelId", live.registered_model_id},
        {"registeredModelVersionId", live.registered_model_version_id},
        {"version", live.version},
        {"runtime", live.runtime},
        {"cpu", live.cpu},
        {"memoryGiB", live.memory_gib},
        {"gpus", live.gpus},
        {"replicas", live.replicas},
        {"desiredReplicas", status.desired_replicas},
        {"authEnabled", live.auth_enabled}}},
      {"history", history},
      {"lastSyncedAt", OptionalTime(status.last_synced_at)},
      {"nextReconcileAt", OptionalTime(status.next_reconcile_at)},
      {"desiredDigest", status.desired_digest},
      {"resolvedRuntime", status.resolved_runtime},
      {"plannedAction", status.planned_action.empty() ? nlohmann::json(nullptr)
                                                      : nlohmann::json(status.planned_action)},
      {"removed", status.removed},
      {"revision", status.revision ? nlohmann::json(*status.revision) : nullptr},
      {"diffs", diffs},
      {"verification", status.verification
                           ? nlohmann::json{{"result", ToString(status.verification->result)},
                                            {"at", common::FormatRfc3339(status.verification->at)},
                                            {"message", status.verification->message}}
                           : nlohmann::json(nullptr)},
      {"lastGood", status.last_good
                       ? nlohmann::json{{"version", status.last_good->version},
                                        {"buildId", status.last_good->build_id},
                                        {"deploymentId", status.last_good->deployment_id}}
                       : nlohmann::json(nullptr)},
  };
}

}  // namespace cmlr::controllers
