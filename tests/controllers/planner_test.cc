#include "controllers/planner.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/time_format.h"
#include "controllers/write_budget.h"
#include "tests/controllers/plan_fixtures.h"

namespace cmlr::controllers {
namespace {

using namespace plan_fixtures;  // NOLINT(google-build-using-namespace): test vocabulary
using std::chrono::minutes;
using std::chrono::seconds;

// Verifies that a model that matches in every respect plans no write and is Synced+Healthy.
TEST(PlannerTest, NothingToDoWhenInSync) {
  const Plan plan = ComputePlan(Spec(), Serving(), At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.sync, SyncState::kSynced);
  EXPECT_EQ(plan.health, HealthState::kHealthy);
  EXPECT_EQ(plan.next, NextCheck::kResync);
  EXPECT_TRUE(plan.diffs.empty());
  EXPECT_EQ(plan.live.deployment_id, "d-1");
  EXPECT_EQ(plan.live.replicas, 2);
  EXPECT_EQ(plan.live.version, 3);
}

// Verifies the fromExperimentRun row: no version with the run id registers it.
TEST(PlannerTest, RegistersVersionFromRunWhenMissing) {
  config::ModelDeploymentSpec spec = Spec();
  spec.registered_model = {.name = "FraudCLF-alice",
                           .from_experiment_run = config::ExperimentRunSource{
                               "3bmr-ju29-om6c-5aeo", "8f2c1e0b", "artifacts"}};
  ObservedState o = Observed();
  o.version.reset();
  const Plan plan = ComputePlan(spec, o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateRegisteredModel);
  EXPECT_EQ(plan.action->register_request.run_id, "8f2c1e0b");
  EXPECT_EQ(plan.action->register_request.experiment_id, "3bmr-ju29-om6c-5aeo");
  EXPECT_EQ(plan.action->register_request.model_name, "FraudCLF-alice");
  EXPECT_EQ(plan.action->register_request.project_id, "abcd-1234-efgh-5678");
  EXPECT_EQ(plan.action->register_request.model_path, "artifacts");
  o.registered_model.reset();
  EXPECT_EQ(ComputePlan(spec, o, At()).action->kind, ActionKind::kCreateRegisteredModel);
}

// Verifies that a missing registry model or version without a run to register stalls.
TEST(PlannerTest, StallsWhenVersionMissing) {
  ObservedState o = Observed();
  o.version.reset();
  Plan plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kRegisteredModelVersionNotFound);
  EXPECT_EQ(plan.sync, SyncState::kOutOfSync);
  o.registered_model.reset();
  o.model.reset();
  plan = ComputePlan(Spec(), o, At());
  EXPECT_EQ(plan.reason, Reason::kRegisteredModelVersionNotFound);
  EXPECT_EQ(plan.health, HealthState::kMissing);
  EXPECT_NE(plan.message.find("FraudCLF-alice"), std::string::npos);
}

// Verifies that a runtime selector matching nothing stalls with RuntimeNotFound.
TEST(PlannerTest, StallsWhenRuntimeSelectorMatchesNothing) {
  config::ModelDeploymentSpec spec = Spec();
  spec.runtime = config::RuntimeSelector{.kernel = "Python 4.0"};
  ObservedState o = Observed();
  o.runtime_identifier.reset();
  const Plan plan = ComputePlan(spec, o, At());
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kRuntimeNotFound);
}

// Verifies the "no model" row: create_model with the spec's name, description and auth.
TEST(PlannerTest, CreatesModelWhenAbsent) {
  config::ModelDeploymentSpec spec = Spec();
  spec.authentication = false;
  ObservedState o = Observed();
  o.model.reset();
  const Plan plan = ComputePlan(spec, o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateModel);
  EXPECT_EQ(plan.action->model_request.name, "FraudCLF-endpoint");
  EXPECT_EQ(plan.action->model_request.description, "Fraud Detection 2024");
  EXPECT_TRUE(plan.action->model_request.disable_authentication);
  EXPECT_EQ(plan.action->model_request.registered_model_id, "rm-1");
  EXPECT_EQ(plan.health, HealthState::kMissing);
  EXPECT_EQ(plan.next, NextCheck::kProgress);
}

// Verifies the description row: update_model with the new description and every other
// updatable field the model has (a PATCH that replaces the whole model keeps them, design 4a).
TEST(PlannerTest, UpdatesDescriptionWhenDifferent) {
  ObservedState o = Serving();
  o.model->description = "old";
  o.model->visibility = "PRIVATE";
  o.model->resource_profile_id = 7;
  const Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kUpdateModel);
  EXPECT_EQ(plan.action->model_id, "m-1");
  const api::UpdateModelRequest& update = plan.action->update_request;
  EXPECT_EQ(update.description, "Fraud Detection 2024");
  EXPECT_EQ(update.name, "FraudCLF-endpoint");
  EXPECT_EQ(update.visibility, "PRIVATE");
  EXPECT_EQ(update.resource_profile_id, 7);
  EXPECT_FALSE(update.default_resources.has_value());
  EXPECT_FALSE(update.run_as.has_value());
  ASSERT_EQ(plan.diffs.size(), 1u);
  EXPECT_EQ(plan.diffs[0].field, "description");
  EXPECT_EQ(plan.diffs[0].live, "old");
}

// Verifies that an omitted description is not managed: whatever the model has stays, and a new
// model is created without one.
TEST(PlannerTest, OmittedDescriptionIsNotManaged) {
  config::ModelDeploymentSpec spec = Spec();
  spec.description.reset();
  ObservedState o = Serving();
  o.model->description = "written in the CML UI";
  EXPECT_FALSE(ComputePlan(spec, o, At()).action);
  o.model.reset();
  const Plan plan = ComputePlan(spec, o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateModel);
  EXPECT_EQ(api::Encode(plan.action->model_request).count("description"), 0u);
}

// Verifies that an authentication change is reported as immutable and never written.
TEST(PlannerTest, ReportsAuthenticationChangeAsImmutable) {
  ObservedState o = Serving();
  o.model->auth_enabled = false;
  const Plan plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.sync, SyncState::kOutOfSync);
  EXPECT_EQ(plan.reason, Reason::kImmutableFieldChanged);
  EXPECT_EQ(plan.health, HealthState::kHealthy);
}

// Verifies the build row: no matching build creates one, with the ownership marker.
TEST(PlannerTest, CreatesBuildWhenNoneMatches) {
  ObservedState o = Observed();
  // A build of another version and one on another runtime do not match.
  o.builds.push_back(Build("b-old", "built", T0() - minutes(60)));
  o.builds.back().registered_model_version_id = "v-2";
  o.builds.push_back(Build("b-rt", "built", T0() - minutes(50)));
  o.builds.back().runtime_identifier = "other-runtime";
  const Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateBuild);
  EXPECT_EQ(plan.action->build_request.registered_model_version_id, "v-3");
  EXPECT_EQ(plan.action->build_request.runtime_identifier, kRuntime);
  EXPECT_EQ(plan.action->build_request.model_id, "m-1");
  EXPECT_EQ(plan.action->build_request.comment, "cml-reconciler fraud-classifier 0123456789ab");
  EXPECT_EQ(plan.reason, Reason::kCreatingBuild);
}

// Verifies that every in-progress build status (known and unknown) is waited on.
TEST(PlannerTest, WaitsOnBuildInProgressForEveryNonTerminalStatus) {
  for (const char* status : {"queued", "pending", "pushing", "unknown", "Building", "NEW-THING"}) {
    ObservedState o = Observed();
    o.builds.push_back(Build("b-1", status, T0() - minutes(1)));
    const Plan plan = ComputePlan(Spec(), o, At());
    EXPECT_FALSE(plan.action) << status;
    EXPECT_EQ(plan.reason, Reason::kBuildInProgress) << status;
    EXPECT_EQ(plan.health, HealthState::kProgressing) << status;
    EXPECT_EQ(plan.next, NextCheck::kProgress) << status;
    ASSERT_TRUE(plan.awaiting) << status;
    EXPECT_EQ(plan.awaiting->kind, Awaiting::Kind::kBuild) << status;
    EXPECT_EQ(plan.awaiting->build_id, "b-1") << status;
    EXPECT_EQ(plan.awaiting->since, T0() - minutes(1));
  }
}

// Verifies that a build past buildTimeout is reported Degraded and still not duplicated.
TEST(PlannerTest, DegradesWhenBuildTimesOut) {
  ObservedState o = Observed();
  o.builds.push_back(Build("b-1", "pushing", T0() - minutes(31)));
  const Plan plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.health, HealthState::kDegraded);
  EXPECT_EQ(plan.reason, Reason::kBuildTimeout);
}

// Verifies that only `built` is success, case-insensitively, and that `succeeded` (which may
// precede `pushing`) is still in progress.
TEST(PlannerTest, ReadsOnlyBuiltAsSuccess) {
  for (const char* status : {"built", "BUILT", "Built"}) {
    EXPECT_EQ(ClassifyBuild(status), BuildPhase::kSucceeded) << status;
  }
  for (const char* status : {"succeeded", "Succeeded", "SUCCEEDED"}) {
    EXPECT_EQ(ClassifyBuild(status), BuildPhase::kInProgress) << status;
  }
  for (const char* status : {"build failed", "timedout", "Build Failed", "TIMEDOUT"}) {
    EXPECT_EQ(ClassifyBuild(status), BuildPhase::kFailed) << status;
  }
}

// Verifies the deployment status vocabulary, unknown strings included.
TEST(PlannerTest, ClassifiesDeploymentStatuses) {
  EXPECT_EQ(ClassifyDeployment("deployed"), DeploymentPhase::kDeployed);
  EXPECT_EQ(ClassifyDeployment("Deployed"), DeploymentPhase::kDeployed);
  EXPECT_EQ(ClassifyDeployment("failed"), DeploymentPhase::kFailed);
  EXPECT_EQ(ClassifyDeployment("stopped"), DeploymentPhase::kStopped);
  for (const char* s : {"pending", "deploying", "stopping", "whatever-next"}) {
    EXPECT_EQ(ClassifyDeployment(s), DeploymentPhase::kInProgress) << s;
  }
  EXPECT_TRUE(IsRunning("deployed"));
  EXPECT_TRUE(IsRunning("pending"));
  EXPECT_TRUE(IsRunning("deploying"));
  EXPECT_FALSE(IsRunning("stopping"));
  EXPECT_FALSE(IsRunning("stopped"));
  EXPECT_FALSE(IsRunning("failed"));
}

// Verifies attempts: failed builds with this spec's marker count; at maxAttempts it stalls.
TEST(PlannerTest, StallsAfterMaxFailedBuilds) {
  ObservedState o = Observed();
  o.builds.push_back(Build("b-1", "build failed", T0() - minutes(30)));
  o.builds.push_back(Build("b-2", "timedout", T0() - minutes(20)));
  Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateBuild);
  EXPECT_EQ(plan.reason, Reason::kRetryingBuild);

  o.builds.push_back(Build("b-3", "build failed", T0() - minutes(10)));
  plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kBuildFailed);
  EXPECT_NE(plan.message.find("b-3"), std::string::npos);

  // A retry forgets the attempts made before it.
  PlanContext retried = At();
  retried.attempts_since = T0() - minutes(5);
  plan = ComputePlan(Spec(), o, retried);
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateBuild);
}

// Verifies that failed builds of another spec (other marker) are not this spec's attempts.
TEST(PlannerTest, IgnoresFailedBuildsOfOtherSpecs) {
  ObservedState o = Observed();
  for (int i = 0; i < 5; ++i) {
    o.builds.push_back(Build("b-" + std::to_string(i), "build failed", T0() - minutes(30 - i),
                             "cml-reconciler fraud-classifier ffffffffffff"));
  }
  const Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateBuild);
}

// Verifies the deploy row: a built build without a matching deployment gets one, with the
// request's GPU field and the environment map.
TEST(PlannerTest, DeploysBuiltBuild) {
  config::ModelDeploymentSpec spec = Spec();
  spec.resources.gpus = 1;
  ObservedState o = Observed();
  o.builds.push_back(Build("b-1", "built", T0() - minutes(5)));
  const Plan plan = ComputePlan(spec, o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  const api::CreateModelDeploymentRequest& r = plan.action->deployment_request;
  EXPECT_EQ(r.build_id, "b-1");
  EXPECT_EQ(r.cpu, 2);
  EXPECT_EQ(r.memory, 4);
  EXPECT_EQ(r.nvidia_gpus, 1);
  EXPECT_EQ(r.replicas, 2);
  EXPECT_EQ(r.environment.at("LOG_LEVEL"), "info");
  EXPECT_EQ(plan.reason, Reason::kCreatingDeployment);
}

// Verifies that a resources change is one new deployment on the existing build, no rebuild.
TEST(PlannerTest, ResourcesChangeDeploysOnExistingBuild) {
  config::ModelDeploymentSpec spec = Spec();
  spec.resources.cpu = 4;
  spec.resources.replicas = 3;
  const Plan plan = ComputePlan(spec, Serving(), At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  EXPECT_EQ(plan.action->build_id, "b-1");
  EXPECT_TRUE(plan.drift.empty());
  std::vector<std::string> fields;
  for (const FieldDiff& d : plan.diffs) fields.push_back(d.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"resources.cpu", "resources.replicas"}));
  EXPECT_EQ(plan.health, HealthState::kProgressing);
}

// Verifies that an environment change also redeploys without a rebuild.
TEST(PlannerTest, EnvironmentChangeDeploysOnExistingBuild) {
  config::ModelDeploymentSpec spec = Spec();
  spec.environment["FEATURE"] = "on";
  const Plan plan = ComputePlan(spec, Serving(), At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  ASSERT_EQ(plan.diffs.size(), 1u);
  EXPECT_EQ(plan.diffs[0].field, "environment");
}

// Verifies that a version change needs a new build first.
TEST(PlannerTest, VersionChangeCreatesBuild) {
  ObservedState o = Serving();
  o.version->model_version_id = "v-4";
  o.version->number = 4;
  const Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateBuild);
  EXPECT_EQ(plan.action->build_request.registered_model_version_id, "v-4");
  EXPECT_EQ(plan.health, HealthState::kProgressing);  // the old version still serves
}

// Verifies that a pending or deploying matching deployment is waited on, with a deadline.
TEST(PlannerTest, WaitsOnDeploymentAndDegradesAfterTimeout) {
  ObservedState o = Observed();
  o.builds.push_back(Build("b-1", "built", T0() - minutes(30)));
  o.deployments.push_back(Deployment("d-1", "b-1", "deploying", T0() - minutes(2)));
  Plan plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.reason, Reason::kDeploymentInProgress);
  EXPECT_EQ(plan.health, HealthState::kProgressing);
  plan = ComputePlan(Spec(), o, At(T0() + minutes(14)));
  EXPECT_EQ(plan.reason, Reason::kDeploymentTimeout);
  EXPECT_EQ(plan.health, HealthState::kDegraded);
  EXPECT_FALSE(plan.action);
}

// Verifies that once ours is deployed the model's other running deployments are stopped.
TEST(PlannerTest, StopsOtherRunningDeploymentsOnceDeployed) {
  ObservedState o = Serving();
  o.builds.push_back(Build("b-0", "built", T0() - minutes(90)));
  o.builds.back().registered_model_version_id = "v-2";
  o.deployments.push_back(Deployment("d-0", "b-0", "deployed", T0() - minutes(80)));
  const Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kStopDeployment);
  EXPECT_EQ(plan.action->deployment_id, "d-0");
  EXPECT_EQ(plan.action->build_id, "b-0");
  EXPECT_EQ(plan.health, HealthState::kHealthy);
}

// Verifies that a failed deployment counts as an attempt and is redeployed while attempts
// remain, then stalls.
TEST(PlannerTest, RedeploysFailedDeploymentUntilAttemptsRunOut) {
  ObservedState o = Observed();
  o.builds.push_back(Build("b-1", "built", T0() - minutes(30)));
  o.deployments.push_back(Deployment("d-1", "b-1", "failed", T0() - minutes(20)));
  Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  EXPECT_EQ(plan.reason, Reason::kRetryingDeployment);
  o.deployments.push_back(Deployment("d-2", "b-1", "failed", T0() - minutes(15)));
  o.deployments.push_back(Deployment("d-3", "b-1", "failed", T0() - minutes(10)));
  plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kDeploymentFailed);
}

// Verifies replicas: 0 stops every running deployment, then reports Suspended and Synced.
TEST(PlannerTest, ReplicasZeroStopsEverything) {
  config::ModelDeploymentSpec spec = Spec();
  spec.resources.replicas = 0;
  ObservedState o = Serving();
  Plan plan = ComputePlan(spec, o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kStopDeployment);
  EXPECT_EQ(plan.action->deployment_id, "d-1");
  o.deployments[0].status = "stopped";
  plan = ComputePlan(spec, o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.sync, SyncState::kSynced);
  EXPECT_EQ(plan.health, HealthState::kSuspended);
}

// Verifies drift: our deployment stopped from outside is redeployed with selfHeal and counted.
TEST(PlannerTest, UndoesDriftWithSelfHeal) {
  ObservedState o = Serving();
  o.deployments[0].status = "stopped";
  const Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  EXPECT_EQ(plan.reason, Reason::kUndoingDrift);
  EXPECT_EQ(plan.drift, (std::vector<std::string>{"deployment"}));
}

// Verifies that a deployment of the desired resources that this daemon stopped, or replaced
// with a later deployment of its own, is not drift when the desired state returns to it (a
// revert in git): the redeploy is a rollout and spends no self-heal. Without that memory
// (after a restart), or when the later deployment is not ours, it reads as drift.
TEST(PlannerTest, ReturningToASpecWeReplacedIsNotDrift) {
  ObservedState o = Serving();
  o.deployments[0].status = "stopped";  // d-1: the desired resources
  api::ModelDeployment later = Deployment("d-2", "b-1", "deployed", T0() - minutes(1));
  later.cpu = 8;  // what the desired state said in between
  o.deployments.push_back(later);
  const auto reason_with = [&](const WriteLedger* ledger) {
    PlanContext context = At();
    context.ledger = ledger;
    const Plan plan = ComputePlan(Spec(), o, context);
    EXPECT_TRUE(plan.action && plan.action->kind == ActionKind::kCreateDeployment);
    EXPECT_EQ(plan.drift.empty(), plan.reason != Reason::kUndoingDrift);
    return plan.reason;
  };
  WriteLedger replaced;  // d-2 is ours: CML stopped d-1 when it deployed
  replaced.RememberCreated("d-2");
  replaced.NewGeneration();
  EXPECT_EQ(reason_with(&replaced), Reason::kCreatingDeployment);

  WriteLedger stopped;  // we sent the stop of d-1
  stopped.Record({.kind = ActionKind::kStopDeployment, .deployment_id = "d-1"},
                 Reason::kStoppingOldDeployment, T0() - minutes(1));
  EXPECT_EQ(reason_with(&stopped), Reason::kCreatingDeployment);

  WriteLedger other;  // d-2 is not ours: a hand-made replacement
  other.RememberCreated("d-1");
  EXPECT_EQ(reason_with(&other), Reason::kUndoingDrift);
  EXPECT_EQ(reason_with(nullptr), Reason::kUndoingDrift);  // no memory (a restart)
}

// Verifies drift by a hand-made deployment with other resources, undone or left alone.
TEST(PlannerTest, HandMadeDeploymentIsDrift) {
  ObservedState o = Serving();
  o.deployments[0].status = "stopped";
  api::ModelDeployment manual = Deployment("d-manual", "b-1", "deployed", T0() - minutes(1));
  manual.cpu = 8;
  o.deployments.push_back(manual);
  Plan plan = ComputePlan(Spec(), o, At());
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kCreateDeployment);
  EXPECT_EQ(plan.drift, (std::vector<std::string>{"resources.cpu"}));

  config::ModelDeploymentSpec spec = Spec();
  spec.sync.self_heal = false;
  plan = ComputePlan(spec, o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.sync, SyncState::kOutOfSync);
  EXPECT_EQ(plan.reason, Reason::kDriftDetected);
  EXPECT_EQ(plan.health, HealthState::kHealthy);  // something still serves
}

// Verifies suspend: observe and report only, with the would-be action kept for status.
TEST(PlannerTest, SuspendPlansNoWrite) {
  config::ModelDeploymentSpec spec = Spec();
  spec.sync.suspend = {.suspended = true, .reason = "freeze for audit"};
  ObservedState o = Serving();
  o.deployments[0].status = "stopped";
  Plan plan = ComputePlan(spec, o, At());
  EXPECT_TRUE(plan.suppressed_by_suspend);
  EXPECT_EQ(plan.health, HealthState::kSuspended);
  EXPECT_EQ(plan.sync, SyncState::kOutOfSync);
  EXPECT_EQ(plan.message, "freeze for audit");
  // After `until`, the suspension no longer applies.
  spec.sync.suspend.until = T0() - seconds(1);
  plan = ComputePlan(spec, o, At());
  EXPECT_FALSE(plan.suppressed_by_suspend);
  ASSERT_TRUE(plan.action);
}

// Verifies prune: stop running deployments one by one, never delete.
TEST(PlannerTest, PruneStopsRunningDeployments) {
  ObservedState o = Serving();
  Plan plan = ComputePrunePlan("abcd-1234-efgh-5678", o);
  ASSERT_TRUE(plan.action);
  EXPECT_EQ(plan.action->kind, ActionKind::kStopDeployment);
  o.deployments[0].status = "stopped";
  plan = ComputePrunePlan("abcd-1234-efgh-5678", o);
  EXPECT_FALSE(plan.action);
  EXPECT_EQ(plan.sync, SyncState::kSynced);
}

// Verifies runtime resolution: newest ENABLED match, exact field comparison.
TEST(PlannerTest, ResolvesRuntimeSelectorToNewestEnabled) {
  std::vector<api::Runtime> runtimes = {
      {.image_identifier = "py39-old",
       .editor = "Workbench",
       .kernel = "Python 3.9",
       .edition = "Standard",
       .full_version = "2023.08.2-b8",
       .status = "ENABLED"},
      {.image_identifier = "py39-new",
       .editor = "Workbench",
       .kernel = "Python 3.9",
       .edition = "Standard",
       .full_version = "2024.02.1-b4",
       .status = "ENABLED"},
      {.image_identifier = "py39-newest-disabled",
       .editor = "Workbench",
       .kernel = "Python 3.9",
       .edition = "Standard",
       .full_version = "2024.10.1-b1",
       .status = "DISABLED"},
      {.image_identifier = "py39-jupyter",
       .editor = "JupyterLab",
       .kernel = "Python 3.9",
       .edition = "Standard",
       .full_version = "2025.01.1-b1",
       .status = "ENABLED"},
      {.image_identifier = "py3.9.1",
       .editor = "Workbench",
       .kernel = "Python 3.9.1",
       .edition = "Standard",
       .full_version = "2026.01.1-b1",
       .status = "ENABLED"},
  };
  auto resolved = ResolveRuntime(
      {.kernel = "Python 3.9", .edition = "Standard", .editor = "Workbench"}, runtimes);
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->image_identifier, "py39-new");
  EXPECT_EQ(ResolveRuntime({.kernel = "Python 3.9"}, runtimes)->image_identifier, "py39-jupyter");
  EXPECT_FALSE(ResolveRuntime({.kernel = "Python 3.11"}, runtimes));
  // Numeric comparison of version parts: b10 is newer than b9.
  runtimes = {{.image_identifier = "b9",
               .kernel = "K",
               .full_version = "2024.02.1-b9",
               .status = "ENABLED"},
              {.image_identifier = "b10",
               .kernel = "K",
               .full_version = "2024.02.1-b10",
               .status = "ENABLED"}};
  EXPECT_EQ(ResolveRuntime({.kernel = "K"}, runtimes)->image_identifier, "b10");
}

// Verifies asynchronous registration: a pending version is waited on, never built; a failed one
// stalls with the registry's message.
TEST(PlannerTest, WaitsForVersionRegistration) {
  for (const char* status : {"PENDING_REGISTRATION", "Registering", "pending"}) {
    ObservedState o = Observed();
    o.version->status = status;
    const Plan plan = ComputePlan(Spec(), o, At());
    EXPECT_FALSE(plan.action) << status;
    EXPECT_EQ(plan.reason, Reason::kVersionRegistering) << status;
    EXPECT_EQ(plan.health, HealthState::kProgressing) << status;
    EXPECT_EQ(plan.next, NextCheck::kProgress) << status;
  }
  ObservedState o = Observed();
  o.version->status = "REGISTRATION_FAILED";
  o.version->error_message = "artifact missing";
  const Plan failed = ComputePlan(Spec(), o, At());
  EXPECT_TRUE(failed.stalled);
  EXPECT_EQ(failed.reason, Reason::kVersionRegistrationFailed);
  EXPECT_NE(failed.message.find("artifact missing"), std::string::npos);
  o.version->status = "READY";
  EXPECT_EQ(ComputePlan(Spec(), o, At()).action->kind, ActionKind::kCreateBuild);
}

// Verifies that an observation missing a field identity needs plans no write.
TEST(PlannerTest, StallsOnIncompleteAnswers) {
  ObservedState o = Observed();
  o.incomplete = "list_model_builds: build b-1 has no runtime_identifier";
  const Plan plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kIncompleteCmlResponse);
  EXPECT_EQ(plan.message, *o.incomplete);
}

// Verifies read-your-writes in the planner: an unseen created model is not created again;
// waited on for two minutes, then Stalled WriteNotObserved. One found by id is no obstacle.
TEST(PlannerTest, NeverRecreatesUnseenWrites) {
  ObservedState o = Observed();
  o.model.reset();
  o.unseen_writes.push_back(
      {.kind = ActionKind::kCreateModel, .id = "m-9", .created_at = T0() - minutes(1)});
  Plan plan = ComputePlan(Spec(), o, At());
  EXPECT_FALSE(plan.action);
  EXPECT_FALSE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kWriteNotYetVisible);
  plan = ComputePlan(Spec(), o, At(T0() + minutes(2)));
  EXPECT_TRUE(plan.stalled);
  EXPECT_EQ(plan.reason, Reason::kWriteNotObserved);
  EXPECT_NE(plan.message.find("m-9"), std::string::npos);
  // An unseen build is no reason not to create a model.
  o.unseen_writes[0].kind = ActionKind::kCreateBuild;
  EXPECT_EQ(ComputePlan(Spec(), o, At()).action->kind, ActionKind::kCreateModel);
}

// What two plans must agree on for TrimObservation to be harmless.
std::string Essence(const Plan& plan) {
  std::string text =
      fmt::format("{} {} {} {} {} stalled={} next={}", ToString(plan.sync), ToString(plan.health),
                  ReasonName(plan.reason), plan.message, plan.action ? plan.action->summary : "-",
                  plan.stalled, static_cast<int>(plan.next));
  for (const FieldDiff& d : plan.diffs)
    text += fmt::format(" [{} {} {}]", d.field, d.live, d.desired);
  for (const std::string& field : plan.drift) text += " drift:" + field;
  if (plan.awaiting) text += " awaiting:" + plan.awaiting->build_id + plan.awaiting->deployment_id;
  if (plan.last_good) {
    text += fmt::format(" good:{}/{}/{}", plan.last_good->version, plan.last_good->build_id,
                        plan.last_good->deployment_id);
  }
  return text + " live:" + plan.live.deployment_id + plan.live.build_id;
}

// Verifies that trimming an observation never changes the plan, over thousands of random CML
// histories (builds of several versions and runtimes, deployments in every status and with
// other resources), specs (replicas 0, selfHeal off, after a retry) and memories of this
// daemon's own deployments and stops.
TEST(PlannerTest, TrimmingNeverChangesThePlan) {
  std::mt19937 rng(20261204);
  const auto pick = [&](auto... options) {
    const std::vector<std::string> all = {options...};
    return all[std::uniform_int_distribution<std::size_t>(0, all.size() - 1)(rng)];
  };
  for (int round = 0; round < 3000; ++round) {
    config::ModelDeploymentSpec spec = Spec();
    if (round % 7 == 0) spec.resources.replicas = 0;
    if (round % 5 == 0) spec.sync.self_heal = false;
    if (round % 3 != 0) spec.verify = config::VerifySpec{.request_json = "{}"};
    if (round % 4 == 0) spec.sync.rollback = false;
    ObservedState o = Observed();
    o.registered_model->model_versions = {
        *o.version, {.model_id = "rm-1", .model_version_id = "v-2", .number = 2}};
    const int builds = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int b = 0; b < builds; ++b) {
      api::ModelBuild build = Build("b-" + std::to_string(b),
                                    pick("built", "built", "pushing", "build failed", "queued"),
                                    T0() - minutes(60 - b * 5));
      build.registered_model_version_id = pick("v-3", "v-3", "v-2");
      if (rng() % 5 == 0) build.runtime_identifier = "other-runtime";
      if (rng() % 4 == 0) build.comment = "by hand";
      o.builds.push_back(build);
      const int deployments = std::uniform_int_distribution<int>(0, 3)(rng);
      for (int d = 0; d < deployments; ++d) {
        api::ModelDeployment dep =
            Deployment("d-" + std::to_string(b) + "-" + std::to_string(d), build.id,
                       pick("deployed", "stopped", "stopped", "failed", "deploying", "stopping"),
                       T0() - minutes(40 - b * 5 - d));
        if (rng() % 3 == 0) dep.cpu = 8;
        o.deployments.push_back(dep);
      }
    }
    PlanContext context = At(T0() + minutes(rng() % 40));
    if (round % 11 == 0) context.attempts_since = T0() - minutes(30);
    // What this daemon verified: some deployments passed, some failed.
    std::map<std::string, Verification> verified;
    for (const api::ModelDeployment& d : o.deployments) {
      if (rng() % 3 == 0) {
        verified[d.id].result =
            rng() % 2 == 0 ? VerificationResult::kPassed : VerificationResult::kFailed;
      }
    }
    context.verifications = &verified;
    if (round % 13 == 0) context.rolled_back = "verification failed";
    // What this daemon created and stopped (drift or not), or no memory at all.
    WriteLedger ledger;
    for (const api::ModelDeployment& d : o.deployments) {
      if (rng() % 3 == 0) ledger.RememberCreated(d.id);
      if (rng() % 4 == 0) {
        ledger.Record({.kind = ActionKind::kStopDeployment, .deployment_id = d.id},
                      Reason::kStoppingOldDeployment, T0());
      }
    }
    if (round % 6 != 0) context.ledger = &ledger;
    ObservedState trimmed = o;
    TrimObservation(spec, verified, context.ledger, trimmed);
    EXPECT_EQ(Essence(ComputePlan(spec, trimmed, context)), Essence(ComputePlan(spec, o, context)))
        << "round " << round;
    EXPECT_LE(trimmed.registered_model->model_versions.size(), 2u);
  }
}

// Verifies that a long history shrinks to what planning needs.
TEST(PlannerTest, TrimmingDropsHistory) {
  ObservedState o = Serving();
  config::ModelDeploymentSpec earlier = Spec();  // the spec of version 2, long ago
  earlier.digest = "feedfacefeedfacefeedfacefeedface";
  for (int i = 0; i < 100; ++i) {
    o.builds.push_back(
        Build("old-" + std::to_string(i), "built", T0() - minutes(500 - i), BuildMarker(earlier)));
    o.builds.back().registered_model_version_id = "v-2";
    o.deployments.push_back(
        Deployment("od-" + std::to_string(i), o.builds.back().id, "stopped", T0() - minutes(400)));
    o.deployments.push_back(
        Deployment("sd-" + std::to_string(i), "b-1", "stopped", T0() - minutes(300 - i)));
  }
  TrimObservation(Spec(), {}, nullptr, o);
  // The serving deployment, the newest stopped one of the desired spec (drift), and the last
  // good one of another spec (rollback) with its build.
  ASSERT_EQ(o.builds.size(), 2u);
  EXPECT_EQ(o.builds[1].id, "old-99");
  ASSERT_EQ(o.deployments.size(), 3u);
  EXPECT_EQ(o.deployments[0].id, "d-1");
  EXPECT_EQ(o.deployments[1].id, "od-99");
  EXPECT_EQ(o.deployments[2].id, "sd-99");
  // What was dropped is given back: a cached observation must not keep a slot for every
  // deployment CML ever listed (the soak's memory followed CML's history until it did).
  EXPECT_EQ(o.deployments.capacity(), o.deployments.size());
  EXPECT_EQ(o.builds.capacity(), o.builds.size());
}

}  // namespace
}  // namespace cmlr::controllers
