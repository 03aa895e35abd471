// The planner's side of post-deploy verification and rollback (design 4b).

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "controllers/planner.h"
#include "tests/controllers/plan_fixtures.h"

namespace cmlr::controllers {
namespace {

using namespace plan_fixtures;  // NOLINT(google-build-using-namespace): test vocabulary

// Version 3 with verify; in CML version 2 served (d-2 on b-2) before d-3 of version 3.
config::ModelDeploymentSpec Verified() {
  config::ModelDeploymentSpec spec = Spec();
  spec.verify = config::VerifySpec{.request_json = "{}", .response_has = {"predictions"}};
  return spec;
}

ObservedState Rollout(std::string old_status, std::string new_status) {
  ObservedState o = Observed();
  o.registered_model->model_versions = {
      *o.version, {.model_id = "rm-1", .model_version_id = "v-2", .number = 2}};
  o.builds.push_back(Build("b-2", "built", T0() - minutes(90)));
  o.builds.back().registered_model_version_id = "v-2";
  o.deployments.push_back(Deployment("d-2", "b-2", old_status, T0() - minutes(80)));
  o.builds.push_back(Build("b-3", "built", T0() - minutes(20)));
  o.deployments.push_back(Deployment("d-3", "b-3", new_status, T0() - minutes(10)));
  return o;
}

PlanContext WithVerifications(const std::map<std::string, Verification>& verified) {
  PlanContext context = At();
  context.verifications = &verified;
  return context;
}

// Verifies that a deployed deployment of a spec with `verify` is Verifying (the reconciler runs
// it) and not Healthy, and that the previous one is not stopped meanwhile.
TEST(RollbackTest, DeployedIsVerifiedBeforeHealthy) {
  const Plan plan = ComputePlan(Verified(), Rollout("deployed", "deployed"), At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kVerifying);
  EXPECT_EQ(plan.health, HealthState::kProgressing);
  ASSERT_TRUE(plan.awaiting);
  EXPECT_EQ(plan.awaiting->kind, Awaiting::Kind::kVerification);
  EXPECT_EQ(plan.awaiting->deployment_id, "d-3");
  ASSERT_TRUE(plan.verification);
  EXPECT_EQ(plan.verification->result, VerificationResult::kPending);
  ASSERT_TRUE(plan.last_good);
  EXPECT_EQ(plan.last_good->version, 2);
  EXPECT_EQ(plan.last_good->deployment_id, "d-2");
}

// Verifies that once verified, the previous deployment is stopped, then Synced and Healthy.
TEST(RollbackTest, PassedVerificationFinishesTheRollout) {
  const std::map<std::string, Verification> verified = {
      {"d-3", {.result = VerificationResult::kPassed, .message = "ok"}}};
  Plan plan = ComputePlan(Verified(), Rollout("deployed", "deployed"), WithVerifications(verified));
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kStopDeployment);
  EXPECT_EQ(plan.action->deployment_id, "d-2");
  plan = ComputePlan(Verified(), Rollout("stopped", "deployed"), WithVerifications(verified));
  EXPECT_EQ(plan.sync, SyncState::kSynced);
  EXPECT_EQ(plan.health, HealthState::kHealthy);
  EXPECT_EQ(plan.verification->result, VerificationResult::kPassed);
}

// Verifies rollback after a failed verification: with the last good one stopped (CML keeps one
// active deployment), one create_model_deployment on its build with its resources; with it
// still running, one stop of the failing deployment.
TEST(RollbackTest, FailedVerificationRestoresTheLastGood) {
  const std::map<std::string, Verification> failed = {
      {"d-3", {.result = VerificationResult::kFailed, .message = "HTTP 500"}}};
  ObservedState o = Rollout("stopped", "deployed");
  o.deployments[0].cpu = 3;
  o.deployments[0].environment = {{"OLD", "1"}};
  Plan plan = ComputePlan(Verified(), o, WithVerifications(failed));
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  EXPECT_EQ(plan.reason, Reason::kRollingBack);
  EXPECT_EQ(plan.action->build_id, "b-2");
  EXPECT_EQ(plan.action->deployment_request.cpu, 3);
  EXPECT_EQ(plan.action->deployment_request.environment.at("OLD"), "1");
  EXPECT_EQ(plan.health, HealthState::kDegraded);
  ASSERT_TRUE(plan.rollback_of);
  EXPECT_NE(plan.rollback_of->find("HTTP 500"), std::string::npos);

  plan = ComputePlan(Verified(), Rollout("deployed", "deployed"), WithVerifications(failed));
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kStopDeployment);
  EXPECT_EQ(plan.action->deployment_id, "d-3");
}

// Verifies the state after a rollback: Stalled RolledBack, OutOfSync, Degraded, no write,
// naming the failing and the restored version; the restore itself is waited on first.
TEST(RollbackTest, RolledBackStaysPut) {
  PlanContext context = At();
  context.rolled_back = "verification failed: HTTP 500";
  ObservedState o = Rollout("stopped", "stopped");
  o.deployments.push_back(Deployment("d-2b", "b-2", "deploying", T0() - minutes(1)));
  Plan plan = ComputePlan(Verified(), o, context);
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kRollingBack);
  EXPECT_EQ(plan.awaiting->deployment_id, "d-2b");
  o.deployments.back().status = "deployed";
  plan = ComputePlan(Verified(), o, context);
  EXPECT_FALSE(plan.action);
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kRolledBack);
  EXPECT_EQ(plan.sync, SyncState::kOutOfSync);
  EXPECT_EQ(plan.health, HealthState::kDegraded);
  EXPECT_NE(plan.message.find("version 3 failed"), std::string::npos) << plan.message;
  EXPECT_NE(plan.message.find("version 2"), std::string::npos) << plan.message;
}

// Verifies that after a restart (nothing remembered) CML's picture of a rollback (the desired
// deployment stopped, a newer one of another spec serving) is read as RolledBack, not drift;
// and that a desired deployment known to have passed is drift again.
TEST(RollbackTest, RollbackIsFoundFromCmlAfterARestart) {
  ObservedState o = Rollout("stopped", "stopped");
  o.deployments.push_back(Deployment("d-2b", "b-2", "deployed", T0() - minutes(1)));
  Plan plan = ComputePlan(Verified(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kRolledBack);
  const std::map<std::string, Verification> passed = {
      {"d-3", {.result = VerificationResult::kPassed}}};
  plan = ComputePlan(Verified(), o, WithVerifications(passed));
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kUndoingDrift);
}

// Verifies rollback after deployments failed maxAttempts times: the old one still serves, so
// no write at all; it is never stopped.
TEST(RollbackTest, FailedDeploymentsKeepTheOldOneServing) {
  ObservedState o = Rollout("deployed", "failed");
  o.deployments.push_back(Deployment("d-3b", "b-3", "failed", T0() - minutes(8)));
  o.deployments.push_back(Deployment("d-3c", "b-3", "failed", T0() - minutes(6)));
  const Plan plan = ComputePlan(Verified(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kRolledBack);
  EXPECT_EQ(plan.live.deployment_id, "d-2");
}

// Verifies that a deployment stuck past deployTimeout is stopped while the old one serves.
TEST(RollbackTest, TimedOutDeploymentIsStopped) {
  const Plan plan =
      ComputePlan(Verified(), Rollout("deployed", "deploying"), At(T0() + minutes(30)));
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kStopDeployment);
  EXPECT_EQ(plan.action->deployment_id, "d-3");
  EXPECT_EQ(plan.reason, Reason::kRollingBack);
}

// Verifies that without a previous good deployment, or with rollback off, a failed
// verification is Degraded and Stalled VerificationFailed, with no write.
TEST(RollbackTest, NothingToRollBackTo) {
  const std::map<std::string, Verification> failed = {
      {"d-1", {.result = VerificationResult::kFailed, .message = "HTTP 500"}}};
  Plan plan = ComputePlan(Verified(), Serving(), WithVerifications(failed));
  EXPECT_FALSE(plan.action);
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kVerificationFailed);
  EXPECT_EQ(plan.health, HealthState::kDegraded);
  EXPECT_NE(plan.message.find("nothing to roll back to"), std::string::npos);
  EXPECT_FALSE(plan.last_good);

  config::ModelDeploymentSpec no_rollback = Verified();
  no_rollback.sync.rollback = false;
  const std::map<std::string, Verification> failed3 = {
      {"d-3", {.result = VerificationResult::kFailed}}};
  plan = ComputePlan(no_rollback, Rollout("stopped", "deployed"), WithVerifications(failed3));
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kVerificationFailed);
}

// Verifies that without `verify` a deployed deployment is Healthy at once (today's behaviour),
// and a deployment that failed verification is never the last good one.
TEST(RollbackTest, WithoutVerifyAndNeverBackToAFailedOne) {
  Plan plan = ComputePlan(Spec(), Rollout("stopped", "deployed"), At());
  EXPECT_EQ(plan.health, HealthState::kHealthy);
  EXPECT_FALSE(plan.verification);
  const std::map<std::string, Verification> failed = {
      {"d-2", {.result = VerificationResult::kFailed}}};
  plan = ComputePlan(Verified(), Rollout("stopped", "deployed"), WithVerifications(failed));
  EXPECT_FALSE(plan.last_good);
}

}  // namespace
}  // namespace cmlr::controllers
