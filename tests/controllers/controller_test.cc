#include "controllers/controller.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/controllers/controller_fixture.h"

namespace cmlr::controllers {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing_support::ControllerTest;
using testing_support::kProject;
using testing_support::Spec;

// Verifies a fresh deploy: model, build, deployment, each once, then Synced+Healthy.
TEST_F(ControllerTest, FreshDeployConverges) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  EXPECT_EQ(cml_.calls("create_model"), 1);
  EXPECT_EQ(cml_.calls("create_model_build"), 1);
  EXPECT_EQ(cml_.calls("create_model_deployment"), 1);
  EXPECT_EQ(cml_.writes(), 3);
  EXPECT_LE(cml_.total_calls(), 25);
  const ModelStatus& status = Status();
  EXPECT_EQ(status.live.version, 3);
  EXPECT_EQ(status.live.replicas, 1);
  EXPECT_EQ(status.FindCondition(kConditionReady)->status, "True");
  EXPECT_EQ(status.history.size(), 3u);
  // Synced: a resync later costs reads only.
  const int writes = cml_.writes();
  Advance(seconds(70));
  EXPECT_EQ(cml_.writes(), writes);
  EXPECT_TRUE(Converged());
}

// Verifies that the resync of a synced model rechecks only what serves: the model in a project
// listing and the serving deployment; no registry, builds or deployment listings, no writes.
TEST_F(ControllerTest, ResyncOfSyncedModelIsTwoReads) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  Advance(seconds(1));
  const int calls = cml_.total_calls();
  const int writes = cml_.writes();
  const int listed_models = cml_.calls("list_models");
  const int got_deployments = cml_.calls("get_model_deployment");
  controller_->ReconcileNow("fraud-classifier");
  Advance(milliseconds(100));
  EXPECT_EQ(cml_.total_calls() - calls, 2);
  EXPECT_EQ(cml_.calls("list_models") - listed_models, 1);
  EXPECT_EQ(cml_.calls("get_model_deployment") - got_deployments, 1);
  EXPECT_EQ(cml_.writes(), writes);
  EXPECT_TRUE(Converged());
}

// Verifies design P2 in behaviour: one resync of 100 synced models in one project costs at most
// 1.1 calls per model + 2, and no write.
TEST_F(ControllerTest, ResyncOfHundredSyncedModelsStaysWithinBudget) {
  std::vector<config::ModelDeploymentSpec> specs;
  for (int i = 0; i < 100; ++i) specs.push_back(Spec("model-" + std::to_string(i)));
  ControllerOptions options;
  options.concurrency = 16;
  Start(specs, options);
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(ConvergeWithin(minutes(2), "model-" + std::to_string(i)));
  Advance(seconds(1));
  const int calls = cml_.total_calls();
  const int writes = cml_.writes();
  controller_->ReconcileAll();
  Advance(seconds(1));
  EXPECT_LE(cml_.total_calls() - calls, 112);
  EXPECT_EQ(cml_.writes(), writes);
}

// Verifies that a change made outside to the model itself is seen by the cheap resync and
// undone after a full observation.
TEST_F(ControllerTest, ModelChangedOutsideIsSeenAtResync) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  cml_.SetModelDescription(ModelId(), "edited by hand");
  const int builds_listed = cml_.calls("list_model_builds");
  controller_->ReconcileNow("fraud-classifier");
  Advance(seconds(2));
  EXPECT_EQ(cml_.calls("update_model"), 1);
  EXPECT_GT(cml_.calls("list_model_builds"), builds_listed);  // observed fully before writing
  EXPECT_EQ(cml_.models(kProject).at(0).description, "Fraud Detection 2024");
  EXPECT_TRUE(Converged());
}

// Verifies that a synced model is still observed fully at least every full_observe_every.
TEST_F(ControllerTest, SyncedModelIsObservedFullyNowAndThen) {
  ControllerOptions options;
  options.reconciler.full_observe_every = minutes(10);
  Start({Spec()}, options);
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  const int builds_listed = cml_.calls("list_model_builds");
  Advance(minutes(5));  // a few resyncs, all cheap
  EXPECT_EQ(cml_.calls("list_model_builds"), builds_listed);
  Advance(minutes(7));
  EXPECT_EQ(cml_.calls("list_model_builds"), builds_listed + 1);
  EXPECT_TRUE(Converged());
}

// Verifies that a model of the desired state is listed before its first pass, as Unknown.
TEST_F(ControllerTest, ModelWaitingForFirstPassIsListed) {
  Controller controller(io_.get_executor(), clock_, cml_, registry_, nullptr, {});
  auto snapshot = config::Snapshot::Create({Spec()});
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  controller.SetDesiredState(*snapshot);  // not running: no pass happens
  const ModelStatus* status = controller.statuses().Find("fraud-classifier");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->sync, SyncState::kUnknown);
  EXPECT_EQ(status->health, HealthState::kUnknown);
  EXPECT_EQ(status->desired_digest, (*snapshot)->Find("fraud-classifier")->digest);
  EXPECT_EQ(cml_.total_calls(), 0);
}

// Verifies that a resources change is one new deployment on the existing build.
TEST_F(ControllerTest, ResourcesChangeRedeploysWithoutRebuild) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  config::ModelDeploymentSpec bigger = Spec();
  bigger.resources.cpu = 4;
  bigger.resources.replicas = 3;
  SetDesired({bigger});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  EXPECT_EQ(cml_.calls("create_model_build"), 1);
  EXPECT_EQ(cml_.calls("create_model_deployment"), 2);
  const auto running = Running(ModelId());
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].cpu, 4);
  EXPECT_EQ(running[0].replicas, 3);
}

// Verifies that reverting a resources change (A, B, then A again) is a rollout, not drift: the
// deployment of A was stopped by this daemon, so no drift is counted and, however often the
// desired state flips, no self-heal budget is spent (it would run out after 5 in an hour).
TEST_F(ControllerTest, RevertingAChangeIsNotDrift) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  config::ModelDeploymentSpec bigger = Spec();
  bigger.resources.cpu = 4;
  for (int flip = 0; flip < 4; ++flip) {
    SetDesired({bigger});
    ASSERT_TRUE(ConvergeWithin(seconds(10)));
    SetDesired({Spec()});
    ASSERT_TRUE(ConvergeWithin(seconds(10)));
  }
  EXPECT_EQ(cml_.calls("create_model_deployment"), 9);
  ASSERT_EQ(Running(ModelId()).size(), 1u);
  EXPECT_EQ(Status().FindCondition(kConditionReady)->reason, "Synced");
  std::string metrics;
  controller_->metrics().AppendModelSeriesText(metrics);
  EXPECT_EQ(metrics.find("cml_reconciler_drift_total"), std::string::npos) << metrics;
}

// Verifies that a version change builds, deploys, and leaves the old deployment stopped.
TEST_F(ControllerTest, VersionChangeBuildsDeploysAndStopsOld) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  config::ModelDeploymentSpec next = Spec();
  next.registered_model.version = 4;
  SetDesired({next});
  ASSERT_TRUE(ConvergeWithin(seconds(15)));
  EXPECT_EQ(cml_.calls("create_model_build"), 2);
  EXPECT_EQ(cml_.calls("create_model_deployment"), 2);
  const auto running = Running(ModelId());
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(Status().live.version, 4);
}

// Verifies that a deployment stopped by hand is redeployed (selfHeal) and counted as drift.
TEST_F(ControllerTest, UndoesDrift) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  cml_.SetDeploymentStatus(Running(ModelId()).at(0).id, "stopped");
  controller_->ReconcileNow("fraud-classifier");
  Advance(milliseconds(10));
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  EXPECT_EQ(cml_.calls("create_model_deployment"), 2);
  EXPECT_EQ(Running(ModelId()).size(), 1u);
  std::string metrics;
  controller_->metrics().AppendModelSeriesText(metrics);
  EXPECT_NE(
      metrics.find("cml_reconciler_drift_total{field=\"deployment\",model=\"fraud-classifier\"} 1"),
      std::string::npos)
      << metrics;
}

// Verifies that with selfHeal: false drift is reported, not undone.
TEST_F(ControllerTest, LeavesDriftAloneWithoutSelfHeal) {
  config::ModelDeploymentSpec spec = Spec();
  spec.sync.self_heal = false;
  Start({spec});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  cml_.SetDeploymentStatus(Running(ModelId()).at(0).id, "stopped");
  controller_->ReconcileNow("fraud-classifier");
  Advance(seconds(5));
  EXPECT_EQ(cml_.calls("create_model_deployment"), 1);
  EXPECT_EQ(Status().sync, SyncState::kOutOfSync);
  EXPECT_EQ(Status().FindCondition(kConditionReady)->reason, "DriftDetected");
}

// Verifies that three failed builds stall the model, and a retry starts a fresh set.
TEST_F(ControllerTest, StallsAfterThreeFailedBuildsAndRetryStartsOver) {
  cml_.MarkVersionBroken("rmv-v3");
  Start({Spec()});
  Advance(seconds(30));
  EXPECT_EQ(cml_.calls("create_model_build"), 3);
  EXPECT_EQ(Status().FindCondition(kConditionStalled)->status, "True");
  EXPECT_EQ(Status().FindCondition(kConditionStalled)->reason, "BuildFailed");
  Advance(minutes(3));
  EXPECT_EQ(cml_.calls("create_model_build"), 3);  // stalled means no more attempts

  ASSERT_TRUE(controller_->Retry("fraud-classifier"));
  Advance(seconds(30));
  EXPECT_EQ(cml_.calls("create_model_build"), 6);
}

// Verifies that a retry requested while a pass is in flight waits for the next pass (the pass
// in flight keeps what it holds), and that the model stays converged.
TEST_F(ControllerTest, RetryDuringPassWaitsForNextPass) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  cml_.get_deployment_delay = seconds(1);
  controller_->ReconcileNow("fraud-classifier");
  Advance(milliseconds(100));  // the resync now waits on get_model_deployment
  ASSERT_EQ(controller_->queue().in_flight(), 1u);
  ASSERT_TRUE(controller_->Retry("fraud-classifier"));
  cml_.get_deployment_delay = {};
  Advance(seconds(2));
  EXPECT_TRUE(Converged());
  EXPECT_EQ(cml_.writes(), 3);
}

// Verifies that a create whose answer is lost is never repeated: one model, one build.
TEST_F(ControllerTest, AmbiguousCreatesNeverDuplicate) {
  cml_.LoseNextAnswer("create_model");
  cml_.LoseNextAnswer("create_model_build");
  cml_.LoseNextAnswer("create_model_deployment");
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(minutes(2)));
  EXPECT_EQ(cml_.models(kProject).size(), 1u);
  EXPECT_EQ(cml_.builds(ModelId()).size(), 1u);
  EXPECT_EQ(cml_.deployments(ModelId()).size(), 1u);
}

// Verifies that a restart in the middle of a build adopts that build instead of starting another.
TEST_F(ControllerTest, RestartMidBuildAdoptsBuild) {
  Start({Spec()});
  Advance(seconds(1));
  ASSERT_EQ(cml_.calls("create_model_build"), 1);
  Stop();
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  EXPECT_EQ(cml_.calls("create_model_build"), 1);
  EXPECT_EQ(cml_.builds(ModelId()).size(), 1u);
}

// Verifies that a suspended model is observed and reported, never written.
TEST_F(ControllerTest, SuspendWritesNothing) {
  config::ModelDeploymentSpec spec = Spec();
  spec.sync.suspend = {.suspended = true, .reason = "audit"};
  Start({spec});
  Advance(seconds(10));
  EXPECT_EQ(cml_.writes(), 0);
  EXPECT_EQ(Status().health, HealthState::kSuspended);
  EXPECT_NE(Status().planned_action.find("create_model"), std::string::npos);
}

// Verifies replicas: 0 stops serving and keeps the model and build.
TEST_F(ControllerTest, ReplicasZeroStopsServing) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  config::ModelDeploymentSpec zero = Spec();
  zero.resources.replicas = 0;
  SetDesired({zero});
  Advance(seconds(5));
  EXPECT_TRUE(Running(ModelId()).empty());
  EXPECT_EQ(cml_.models(kProject).size(), 1u);
  EXPECT_EQ(Status().health, HealthState::kSuspended);
  EXPECT_EQ(Status().sync, SyncState::kSynced);
}

// Verifies --prune: a removed model's deployments are stopped, nothing is deleted; without it,
// nothing happens.
TEST_F(ControllerTest, PruneStopsRemovedModelOnlyWhenAsked) {
  ControllerOptions options;
  options.reconciler.prune = true;
  Start({Spec(), Spec("other")}, options);
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  ASSERT_TRUE(ConvergeWithin(seconds(10), "other"));
  SetDesired({Spec()});
  Advance(seconds(5));
  std::string other_id;
  for (const api::Model& m : cml_.models(kProject)) {
    if (m.name == "other-endpoint") other_id = m.id;
  }
  ASSERT_FALSE(other_id.empty());
  EXPECT_TRUE(Running(other_id).empty());
  EXPECT_EQ(cml_.calls("delete_model"), 0);
  EXPECT_EQ(Running(ModelId()).size(), 1u);
}

// Verifies that without --prune a removed model keeps serving.
TEST_F(ControllerTest, RemovedModelKeepsServingWithoutPrune) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  const int writes = cml_.writes();
  SetDesired({});
  Advance(seconds(5));
  EXPECT_EQ(cml_.writes(), writes);
  EXPECT_EQ(Running(ModelId()).size(), 1u);
  EXPECT_EQ(controller_->statuses().Find("fraud-classifier"), nullptr);
  EXPECT_FALSE(controller_->reconciler().Remembers("fraud-classifier"));
}

// Verifies that what is remembered of a model between passes stays the same size however long
// CML's history grows: thirty environment changes leave thirty stopped deployments in CML, and the
// observation kept for the synced model holds only what planning needs.
TEST_F(ControllerTest, RememberedObservationStaysFlatAsHistoryGrows) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  for (int i = 0; i < 30; ++i) {
    config::ModelDeploymentSpec spec = Spec();
    spec.environment["REVISION"] = std::to_string(i);
    SetDesired({spec});
    ASSERT_TRUE(ConvergeWithin(seconds(10))) << "change " << i;
    Advance(seconds(1));
  }
  EXPECT_EQ(cml_.deployments(ModelId()).size(), 31u);
  const ObservedState* kept =
      controller_->reconciler().observations().Remembered("fraud-classifier");
  ASSERT_NE(kept, nullptr);
  // The serving one, the newest stopped one of the spec, the last good one of another.
  EXPECT_LE(kept->deployments.size(), 3u);
  EXPECT_LE(kept->builds.size(), 1u);
  ASSERT_TRUE(kept->registered_model);
  EXPECT_LE(kept->registered_model->model_versions.size(), 1u);
}

// Verifies that a model removed from the desired state under --prune is forgotten once nothing
// of it runs, while its status stays to report the prune.
TEST_F(ControllerTest, PrunedModelIsForgottenOnceStopped) {
  ControllerOptions options;
  options.reconciler.prune = true;
  Start({Spec(), Spec("other")}, options);
  ASSERT_TRUE(ConvergeWithin(seconds(10), "other"));
  EXPECT_TRUE(controller_->reconciler().Remembers("other"));
  SetDesired({Spec()});
  Advance(seconds(5));
  EXPECT_FALSE(controller_->reconciler().Remembers("other"));
  EXPECT_EQ(controller_->metrics().SeriesOf("other"), 0u);
  ASSERT_NE(controller_->statuses().Find("other"), nullptr);
  EXPECT_EQ(controller_->statuses().Find("other")->health, HealthState::kMissing);
}

// Verifies that a storm of throttled reads is waited out (backoff), then converges.
TEST_F(ControllerTest, WaitsOutThrottling) {
  for (int i = 0; i < 5; ++i) {
    cml_.FailNext("list_models",
                  common::UnavailableError("HTTP 429: slow down").WithHttpStatus(429));
  }
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(minutes(3)));
  EXPECT_EQ(cml_.models(kProject).size(), 1u);
  EXPECT_EQ(cml_.calls("create_model"), 1);
}

// Verifies that the source revision of the desired state reaches the status (design 12): the
// envelope, each entry and every history entry written under it; a rejected load is reported
// while the last good revision stays in force.
TEST_F(ControllerTest, RevisionReachesStatusAndHistory) {
  Start({});
  SetDesired({Spec()}, "0123456789abcdef0123456789abcdef01234567");
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  nlohmann::json envelope = controller_->statuses().ToJson();
  EXPECT_EQ(envelope["revision"], "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(envelope["desiredState"]["result"], "success");
  EXPECT_EQ(envelope["desiredState"]["errors"], 0);
  ASSERT_EQ(envelope["models"].size(), 1u);
  const nlohmann::json& entry = envelope["models"][0];
  EXPECT_EQ(entry["revision"], "0123456789abcdef0123456789abcdef01234567");
  ASSERT_EQ(entry["history"].size(), 3u);
  for (const nlohmann::json& h : entry["history"]) {
    EXPECT_EQ(h["revision"], "0123456789abcdef0123456789abcdef01234567") << h.dump();
  }

  auto bigger = Spec();
  bigger.resources.cpu = 4;
  SetDesired({bigger}, "fedcba9876543210fedcba9876543210fedcba98");
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  const ModelStatus& status = Status();
  EXPECT_EQ(status.history.back().revision, "fedcba9876543210fedcba9876543210fedcba98");
  EXPECT_EQ(status.history.front().revision, "0123456789abcdef0123456789abcdef01234567");

  // A new revision that leaves the spec as it was is stamped at once, before any pass.
  SetDesired({bigger}, "00000000000000000000000000000000000000aa");
  EXPECT_EQ(Status().revision, "00000000000000000000000000000000000000aa");
  EXPECT_EQ(controller_->statuses().ToJson()["models"][0]["revision"],
            "00000000000000000000000000000000000000aa");
  SetDesired({bigger}, "fedcba9876543210fedcba9876543210fedcba98");

  controller_->RejectDesiredState(2, "fraud.yaml:3: resources.cpu: must be positive");
  envelope = controller_->statuses().ToJson();
  EXPECT_EQ(envelope["revision"], "fedcba9876543210fedcba9876543210fedcba98");
  EXPECT_EQ(envelope["desiredState"]["result"], "failure");
  EXPECT_EQ(envelope["desiredState"]["errors"], 2);
  EXPECT_EQ(envelope["desiredState"]["message"], "fraud.yaml:3: resources.cpu: must be positive");
}

// Verifies that every status observer is told after each pass, in the order added, with the
// model's status as it then stands.
TEST_F(ControllerTest, StatusObserversAreToldAfterEachPass) {
  std::vector<std::string> told;
  Start({});
  controller_->AddStatusObserver([&](const ModelStatus& s) { told.push_back("a:" + s.name); });
  controller_->AddStatusObserver([&](const ModelStatus& s) {
    told.push_back("b:" + s.name);
    EXPECT_EQ(controller_->statuses().Find(s.name), &s);
  });
  SetDesired({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  ASSERT_GE(told.size(), 6u);  // three writes: at least three passes
  for (std::size_t i = 0; i + 1 < told.size(); i += 2) {
    EXPECT_EQ(told[i], "a:fraud-classifier");
    EXPECT_EQ(told[i + 1], "b:fraud-classifier");
  }
}

}  // namespace
}  // namespace cmlr::controllers
