#include "controllers/write_budget.h"

#include <string>

#include <gtest/gtest.h>

#include "common/time_format.h"

namespace cmlr::controllers {
namespace {

using std::chrono::minutes;

common::TimePoint T0() { return *common::ParseRfc3339("2026-12-04T10:00:00Z"); }

config::ModelDeploymentSpec Spec() {
  config::ModelDeploymentSpec spec;
  spec.name = "fraud-classifier";
  spec.project_id = "p";
  spec.model_name = "m";
  spec.sync.max_attempts = 3;
  spec.digest = "0123456789abcdef0123456789abcdef";
  return spec;
}

Plan Planned(ActionKind kind, Reason reason = Reason::kCreatingDeployment) {
  Plan plan;
  plan.action = PlannedAction{.kind = kind, .deployment_id = "d-1"};
  plan.action->update_request.description = "new";
  plan.reason = reason;
  plan.sync = SyncState::kOutOfSync;
  plan.health = HealthState::kProgressing;
  plan.next = NextCheck::kProgress;
  return plan;
}

Plan Apply(const WriteLedger& ledger, Plan plan, const ObservedState& observed = {},
           common::TimePoint now = T0()) {
  ApplyWriteBudget(Spec(), observed, {.now = now, .ledger = &ledger}, plan);
  return plan;
}

void Send(WriteLedger& ledger, ActionKind kind, Reason reason = Reason::kCreatingDeployment,
          common::TimePoint at = T0()) {
  Plan plan = Planned(kind, reason);
  ledger.Record(*plan.action, reason, at);
}

// Verifies the one-per-generation writes: a second create_model, create_registered_model or
// update_model is refused with WriteBudgetExhausted, and a new generation allows one again.
TEST(WriteBudgetTest, OncePerGenerationWrites) {
  for (ActionKind kind : {ActionKind::kCreateModel, ActionKind::kCreateRegisteredModel}) {
    WriteLedger ledger;
    EXPECT_TRUE(Apply(ledger, Planned(kind)).action);
    Send(ledger, kind);
    const Plan refused = Apply(ledger, Planned(kind));
    EXPECT_FALSE(refused.action);
    EXPECT_TRUE(refused.stalled);
    EXPECT_EQ(refused.reason, Reason::kWriteBudgetExhausted);
    EXPECT_NE(refused.message.find("1 " + std::string(ActionName(kind))), std::string::npos)
        << refused.message;
    ledger.NewGeneration();
    EXPECT_TRUE(Apply(ledger, Planned(kind)).action);
  }
}

// Verifies that the same description sent twice is UpdateNotApplied, another one is a budget
// refusal.
TEST(WriteBudgetTest, UpdateThatDidNotStick) {
  WriteLedger ledger;
  Send(ledger, ActionKind::kUpdateModel, Reason::kUpdatingModel);
  Plan again = Apply(ledger, Planned(ActionKind::kUpdateModel, Reason::kUpdatingModel));
  EXPECT_EQ(again.reason, Reason::kUpdateNotApplied);
  EXPECT_TRUE(again.stalled);
  Plan other = Planned(ActionKind::kUpdateModel, Reason::kUpdatingModel);
  other.action->update_request.description = "newer";
  EXPECT_EQ(Apply(ledger, other).reason, Reason::kWriteBudgetExhausted);
}

// Verifies the build ceiling, counted from memory or from CML's marked builds, whichever is
// higher (a restart forgets memory, not CML).
TEST(WriteBudgetTest, BuildsUpToMaxAttempts) {
  WriteLedger ledger;
  for (int i = 0; i < 2; ++i) Send(ledger, ActionKind::kCreateBuild, Reason::kCreatingBuild);
  EXPECT_TRUE(Apply(ledger, Planned(ActionKind::kCreateBuild)).action);
  Send(ledger, ActionKind::kCreateBuild, Reason::kCreatingBuild);
  EXPECT_EQ(Apply(ledger, Planned(ActionKind::kCreateBuild)).reason, Reason::kWriteBudgetExhausted);

  WriteLedger restarted;
  ObservedState observed;
  for (int i = 0; i < 3; ++i) {
    observed.builds.push_back({.id = "b-" + std::to_string(i),
                               .comment = BuildMarker(Spec()),
                               .created_at = T0() - minutes(10)});
  }
  EXPECT_EQ(Apply(restarted, Planned(ActionKind::kCreateBuild), observed).reason,
            Reason::kWriteBudgetExhausted);
}

// Verifies that deployments are bounded by maxAttempts plus the self-heals made, and that a
// stop is sent once per deployment.
TEST(WriteBudgetTest, DeploymentsAndStops) {
  WriteLedger ledger;
  for (int i = 0; i < 3; ++i) Send(ledger, ActionKind::kCreateDeployment);
  EXPECT_FALSE(Apply(ledger, Planned(ActionKind::kCreateDeployment)).action);
  // A self-heal within the hourly budget is allowed, and raises the ceiling by one.
  EXPECT_TRUE(Apply(ledger, Planned(ActionKind::kCreateDeployment, Reason::kUndoingDrift)).action);
  Send(ledger, ActionKind::kCreateDeployment, Reason::kUndoingDrift);
  EXPECT_FALSE(Apply(ledger, Planned(ActionKind::kCreateDeployment)).action);

  EXPECT_TRUE(Apply(ledger, Planned(ActionKind::kStopDeployment)).action);
  Send(ledger, ActionKind::kStopDeployment, Reason::kStoppingOldDeployment);
  const Plan again = Apply(ledger, Planned(ActionKind::kStopDeployment));
  EXPECT_EQ(again.reason, Reason::kWriteBudgetExhausted);
  EXPECT_NE(again.message.find("d-1"), std::string::npos);
}

// Verifies the rolling hour of self-heals: the sixth within an hour waits (OutOfSync, not
// Stalled) and says when the next one is allowed; the hour spans generations.
TEST(WriteBudgetTest, SelfHealsPerRollingHour) {
  WriteLedger ledger;
  for (int i = 0; i < kSelfHealsPerHour; ++i) {
    Send(ledger, ActionKind::kCreateDeployment, Reason::kUndoingDrift, T0() + minutes(i));
  }
  ledger.NewGeneration();
  const Plan sixth = Apply(ledger, Planned(ActionKind::kCreateDeployment, Reason::kUndoingDrift),
                           {}, T0() + minutes(10));
  EXPECT_FALSE(sixth.action);
  EXPECT_FALSE(sixth.stalled);
  EXPECT_EQ(sixth.sync, SyncState::kOutOfSync);
  EXPECT_EQ(sixth.reason, Reason::kSelfHealBudgetExhausted);
  EXPECT_NE(sixth.message.find("50m"), std::string::npos) << sixth.message;
  EXPECT_TRUE(Apply(ledger, Planned(ActionKind::kCreateDeployment, Reason::kUndoingDrift), {},
                    T0() + minutes(61))
                  .action);
}

// Verifies that the deployments this daemon created and stopped are remembered across
// generations (a revert is not drift), each memory bounded to the newest kRememberedDeployments.
TEST(WriteBudgetTest, RemembersItsOwnDeploymentsAcrossGenerations) {
  WriteLedger ledger;
  const auto stop = [&](const std::string& id) {
    ledger.Record({.kind = ActionKind::kStopDeployment, .deployment_id = id},
                  Reason::kStoppingOldDeployment, T0());
  };
  stop("d-0");
  ledger.RememberCreated("c-0");
  ledger.NewGeneration();
  EXPECT_TRUE(ledger.StoppedByUs("d-0"));
  EXPECT_TRUE(ledger.CreatedByUs("c-0"));
  EXPECT_FALSE(ledger.StoppedByUs("c-0"));
  EXPECT_FALSE(ledger.CreatedByUs("d-0"));
  for (std::size_t i = 1; i <= kRememberedDeployments; ++i) {
    stop("d-" + std::to_string(i));
    ledger.RememberCreated("c-" + std::to_string(i));
  }
  EXPECT_FALSE(ledger.StoppedByUs("d-0"));  // the oldest made room
  EXPECT_FALSE(ledger.CreatedByUs("c-0"));
  EXPECT_TRUE(ledger.StoppedByUs("d-1"));
  EXPECT_TRUE(ledger.CreatedByUs("c-" + std::to_string(kRememberedDeployments)));
  EXPECT_EQ(ledger.stopped_deployments.size(), kRememberedDeployments);
  EXPECT_EQ(ledger.created_deployments.size(), kRememberedDeployments);
}

}  // namespace
}  // namespace cmlr::controllers
