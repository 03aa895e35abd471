#include "controllers/write_budget.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::controllers {

namespace {

constexpr auto kHour = std::chrono::hours(1);

void Refuse(Plan& plan, Reason reason, std::string message) {
  plan.action.reset();
  plan.stalled = true;
  plan.reconciling = false;
  plan.sync = SyncState::kOutOfSync;
  if (plan.health == HealthState::kProgressing) plan.health = HealthState::kDegraded;
  plan.reason = reason;
  plan.message = std::move(message);
  plan.next = NextCheck::kStalled;
  plan.awaiting.reset();
}

// Builds carrying this generation's marker, as CML shows them (they survive a restart).
int MarkedBuilds(const config::ModelDeploymentSpec& desired, const ObservedState& observed,
                 const PlanContext& context) {
  const std::string marker = BuildMarker(desired);
  return static_cast<int>(
      std::count_if(observed.builds.begin(), observed.builds.end(), [&](const api::ModelBuild& b) {
        return b.comment == marker &&
               b.created_at.value_or(common::TimePoint{}) >= context.attempts_since;
      }));
}

// The ceiling for `action`, or nullopt when it has none of its own (self-heals, stops).
std::optional<int> Ceiling(const config::ModelDeploymentSpec& desired, const WriteLedger& ledger,
                           ActionKind kind) {
  switch (kind) {
    case ActionKind::kCreateRegisteredModel:
    case ActionKind::kCreateModel:
    case ActionKind::kUpdateModel:
      return 1;
    case ActionKind::kCreateBuild:
      return desired.sync.max_attempts;
    case ActionKind::kCreateDeployment:
      return desired.sync.max_attempts + ledger.self_heals + ledger.restores;
    case ActionKind::kStopDeployment:
      break;
  }
  return std::nullopt;
}

void Remember(std::deque<std::string>& ids, const std::string& id) {
  ids.push_back(id);
  if (ids.size() > kRememberedDeployments) ids.pop_front();
}

bool Contains(const std::deque<std::string>& ids, std::string_view id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

void WriteLedger::Record(const PlannedAction& action, Reason reason, common::TimePoint now) {
  ++sent[action.kind];
  if (action.kind == ActionKind::kStopDeployment) {
    stopped.insert(action.deployment_id);
    Remember(stopped_deployments, action.deployment_id);
  }
  if (action.kind == ActionKind::kUpdateModel) description_sent = action.update_request.description;
  if (reason == Reason::kRollingBack && action.kind == ActionKind::kCreateDeployment) ++restores;
  if (reason == Reason::kUndoingDrift) {
    ++self_heals;
    while (!recent_self_heals.empty() && recent_self_heals.front() <= now - kHour) {
      recent_self_heals.pop_front();
    }
    recent_self_heals.push_back(now);
  }
}

void WriteLedger::NewGeneration() {
  sent.clear();
  stopped.clear();
  self_heals = 0;
  restores = 0;
  description_sent.reset();
}

int WriteLedger::Sent(ActionKind kind) const {
  const auto it = sent.find(kind);
  return it == sent.end() ? 0 : it->second;
}

void WriteLedger::RememberCreated(const std::string& deployment_id) {
  Remember(created_deployments, deployment_id);
}

bool WriteLedger::CreatedByUs(std::string_view deployment_id) const {
  return Contains(created_deployments, deployment_id);
}

bool WriteLedger::StoppedByUs(std::string_view deployment_id) const {
  return Contains(stopped_deployments, deployment_id);
}

int WriteLedger::SentInAll() const {
  int total = 0;
  for (const auto& [kind, count] : sent) total += count;
  return total;
}

void ApplyWriteBudget(const config::ModelDeploymentSpec& desired, const ObservedState& observed,
                      const PlanContext& context, Plan& plan) {
  if (!plan.action || context.ledger == nullptr) return;
  const WriteLedger& ledger = *context.ledger;
  const PlannedAction& action = *plan.action;
  if (plan.reason == Reason::kUndoingDrift) {
    const int recent = static_cast<int>(
        std::count_if(ledger.recent_self_heals.begin(), ledger.recent_self_heals.end(),
                      [&](common::TimePoint at) { return at > context.now - kHour; }));
    if (recent >= kSelfHealsPerHour) {
      const common::TimePoint next =
          ledger.recent_self_heals[ledger.recent_self_heals.size() - kSelfHealsPerHour] + kHour;
      plan.action.reset();
      plan.reconciling = false;
      plan.sync = SyncState::kOutOfSync;
      plan.reason = Reason::kSelfHealBudgetExhausted;
      plan.message = fmt::format(
          "drift was undone {} times in the last hour (at most {}); the next self-heal is "
          "allowed in {}",
          recent, kSelfHealsPerHour, common::FormatDuration(next - context.now));
      plan.next = NextCheck::kResync;
      return;
    }
    return;  // a self-heal within the hourly budget adds to the deployment ceiling
  }
  if (plan.reason == Reason::kRollingBack && action.kind == ActionKind::kCreateDeployment) {
    if (ledger.restores == 0) return;  // one restore per generation, on top of the ceiling
    Refuse(plan, Reason::kWriteBudgetExhausted,
           "the last good deployment was already restored once in this generation; no more "
           "writes until the spec changes or a retry");
    return;
  }
  if (action.kind == ActionKind::kStopDeployment) {
    if (ledger.stopped.count(action.deployment_id) == 0) return;
    Refuse(plan, Reason::kWriteBudgetExhausted,
           fmt::format("a stop was already sent for deployment {} in this generation and it still "
                       "runs; no more writes until the spec changes or a retry",
                       action.deployment_id));
    return;
  }
  if (action.kind == ActionKind::kUpdateModel && ledger.description_sent &&
      *ledger.description_sent == action.update_request.description) {
    Refuse(plan, Reason::kUpdateNotApplied,
           fmt::format("update_model set the description to \"{}\" but CML still shows \"{}\"; "
                       "not repeated",
                       *ledger.description_sent,
                       observed.model ? observed.model->description : std::string()));
    return;
  }
  int sent = ledger.Sent(action.kind);
  if (action.kind == ActionKind::kCreateBuild) {
    sent = std::max(sent, MarkedBuilds(desired, observed, context));
  }
  const std::optional<int> ceiling = Ceiling(desired, ledger, action.kind);
  if (!ceiling || sent < *ceiling) return;
  Refuse(plan, Reason::kWriteBudgetExhausted,
         fmt::format("{} {} already sent for this generation (at most {}), {} in all; no more "
                     "writes until the spec changes or a retry",
                     sent, ActionName(action.kind), *ceiling, ledger.SentInAll()));
}

}  // namespace cmlr::controllers
