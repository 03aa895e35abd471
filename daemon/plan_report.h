#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "controllers/planner.h"
#include "controllers/prune_candidates.h"

namespace cmlr::daemon {

// One model of `cml-reconciler plan`: what the planner would do next, or why it cannot say.
struct PlanRow {
  std::string name;
  std::string sync = "Unknown";
  std::string health = "Unknown";
  std::string reason;  // CamelCase, as in the status conditions
  std::string message;
  std::optional<std::string> action;  // "create_deployment: ..." (the next write)
  bool suspended = false;             // `action` is what would be done if not suspended
  bool stalled = false;
  bool prune = false;                      // removed from the desired state; --prune would stop it
  std::optional<std::string> error;        // the model could not be planned
  std::optional<std::string> rolled_back;  // a rollback is in force: how the rollout failed
  std::vector<controllers::FieldDiff> diffs;

  // A write would follow, or live differs from desired, or the model is stalled. Neither a
  // suspended model nor an error is a change.
  bool changes() const;
};

PlanRow RowFromPlan(const std::string& name, const controllers::Plan& plan);
PlanRow RowFromError(const std::string& name, const common::Status& error);
// One row per name: every running deployment of it a prune would stop.
std::vector<PlanRow> RowsFromPruneCandidates(
    const std::vector<controllers::PruneCandidate>& candidates);

// Everything `plan` prints, in the order printed (desired models by name, then prunes).
struct PlanReport {
  std::optional<std::string> revision;  // of the desired state (design 12)
  std::vector<PlanRow> models;

  int changes() const;
  bool errors() const;
};

// Design 6: 1 when any model could not be planned, else 2 when anything changes, else 0.
int PlanExitCode(const PlanReport& report);

// The readable diff per model (field: live -> desired, and the next action).
std::string FormatPlanText(const PlanReport& report);
// {"revision", "changes": N, "models": [{name, sync, health, reason, message, action, diffs:
// [{field, live, desired}], prune, suspended, stalled, rolledBack, error}]} (design 6).
nlohmann::json PlanToJson(const PlanReport& report);
// A heading, the revision and one table row per model: fit for a pull-request comment.
std::string FormatPlanMarkdown(const PlanReport& report);

}  // namespace cmlr::daemon
