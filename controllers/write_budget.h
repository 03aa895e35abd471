#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "config/model_deployment.h"
#include "controllers/planner.h"

namespace cmlr::controllers {

// Self-heals per model in any rolling hour (design 4a).
inline constexpr int kSelfHealsPerHour = 5;
// Deployments of one model this daemon created, and those it stopped, remembered across
// generations: the newest this many of each.
inline constexpr std::size_t kRememberedDeployments = 32;

// The writes CML accepted for one model (design 4a, bounded writes), kept by the reconciler in
// memory: a restart resets what CML cannot show (CML shows builds, through their marker). A
// write CML answered with success counts; one that failed does not, since it is repeated only
// after a fresh observation shows it is still needed, and with exponential backoff, so it
// cannot loop fast; one applied despite an error answer shows up in the observation.
struct WriteLedger {
  // In the current generation (since the spec last changed or a retry).
  std::map<ActionKind, int> sent;
  std::set<std::string> stopped;  // deployment ids a stop was sent for
  int self_heals = 0;             // deployments sent to undo drift
  int restores = 0;               // deployments sent to restore the last good one (4b)
  std::optional<std::string> description_sent;  // what update_model set
  // Self-heals of the last hour, whatever the generation.
  std::deque<common::TimePoint> recent_self_heals;
  // Deployments this daemon created and stopped, whatever the generation (newest last, at most
  // kRememberedDeployments each). CML says neither who stopped a deployment nor who created
  // one, and a deployment of the desired resources that this daemon replaced (CML stops the
  // old deployment when a new one of the model deploys) or stopped is not drift when the
  // desired state returns to it (a revert in git).
  std::deque<std::string> created_deployments;
  std::deque<std::string> stopped_deployments;

  // Counts `action`, sent for a plan with `reason` at `now`.
  void Record(const PlannedAction& action, Reason reason, common::TimePoint now);
  // A new generation (spec change or retry): the per-generation counts start again.
  void NewGeneration();
  int Sent(ActionKind kind) const;
  int SentInAll() const;
  // Remembers a deployment CML created for this daemon's create_model_deployment.
  void RememberCreated(const std::string& deployment_id);
  bool CreatedByUs(std::string_view deployment_id) const;
  bool StoppedByUs(std::string_view deployment_id) const;
};

// Replaces the action of `plan` by no write when it would exceed the budget of design 4a for
// `desired` (per generation: one create_registered_model, one create_model, one update_model,
// maxAttempts builds, maxAttempts deployments plus self-heals plus one rollback restore, one
// stop per deployment;
// at most kSelfHealsPerHour self-heals in any rolling hour): Stalled WriteBudgetExhausted
// naming the counts, Stalled UpdateNotApplied when a sent description did not stick, or
// OutOfSync SelfHealBudgetExhausted until the hour allows one again. Pure.
void ApplyWriteBudget(const config::ModelDeploymentSpec& desired, const ObservedState& observed,
                      const PlanContext& context, Plan& plan);

}  // namespace cmlr::controllers
