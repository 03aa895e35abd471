// Sequence tests of post-deploy verification and rollback (design 4b): the reconciler against
// the in-memory CML and an in-memory model endpoint, with a fake clock.

#include <gtest/gtest.h>

#include "tests/controllers/controller_fixture.h"

namespace cmlr::controllers {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeModelService;
using testing_support::ControllerTest;
using testing_support::kProject;

config::ModelDeploymentSpec Verified(int version = 3) {
  config::ModelDeploymentSpec spec = testing_support::Spec();
  spec.registered_model.version = version;
  spec.verify = config::VerifySpec{.request_json = R"({"dataframe_split":{"data":[[1]]}})",
                                   .response_has = {"predictions"},
                                   .requests = 2};
  return spec;
}

class VerificationTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    // The model answers like the version its serving deployment was built from.
    model_service_.Answer([this](const FakeModelService::Request&) {
      return VersionServing() == broken_version_ ? FakeModelService::Broken()
                                                 : FakeModelService::Good();
    });
  }

  // The registered model version number of the deployed deployment, 0 when none is.
  int VersionServing() {
    for (const api::ModelDeployment& d : cml_.deployments(ModelId())) {
      if (d.status != "deployed") continue;
      for (const api::ModelBuild& b : cml_.builds(ModelId())) {
        if (b.id == d.build_id) return b.registered_model_version_id.back() - '0';
      }
    }
    return 0;
  }

  std::string Reason() {
    const Condition* ready = Status().FindCondition(kConditionReady);
    return ready == nullptr ? "" : ready->reason;
  }

  int broken_version_ = 0;
};

// Verifies a good version: verified (every request sent) before Synced and Healthy, and the
// status says so.
TEST_F(VerificationTest, GoodVersionIsVerifiedThenHealthy) {
  Start({Verified()});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  EXPECT_EQ(model_service_.calls().size(), 2u);
  EXPECT_TRUE(model_service_.calls()[0].authenticate);
  ASSERT_TRUE(Status().verification);
  EXPECT_EQ(Status().verification->result, VerificationResult::kPassed);
  // A resync does not verify again.
  Advance(seconds(70));
  EXPECT_EQ(model_service_.calls().size(), 2u);
}

// Verifies a version whose answers are broken: rolled back to the previous version with one
// restore write, Stalled RolledBack, the previous version serving again, and nothing more
// until the spec changes.
TEST_F(VerificationTest, BrokenVersionIsRolledBackWithOneWrite) {
  Start({Verified(3)});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  broken_version_ = 4;
  SetDesired({Verified(4)});
  Advance(seconds(20));
  EXPECT_EQ(Reason(), "RolledBack") << Status().FindCondition(kConditionReady)->message;
  EXPECT_EQ(Status().health, HealthState::kDegraded);
  EXPECT_EQ(Status().sync, SyncState::kOutOfSync);
  EXPECT_EQ(VersionServing(), 3);
  EXPECT_EQ(cml_.calls("create_model_deployment"), 3);  // v3, v4, the v3 restore
  ASSERT_TRUE(Status().last_good);
  EXPECT_EQ(Status().last_good->version, 3);
  const int writes = cml_.writes();
  Advance(minutes(5));
  EXPECT_EQ(cml_.writes(), writes);
  EXPECT_EQ(Reason(), "RolledBack");
  // A good version afterwards rolls out as usual.
  SetDesired({Verified(2)});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  EXPECT_EQ(VersionServing(), 2);
}

// Verifies that a rollback remembered by nobody still happens after a restart: the process
// ends right after the failed verification, its restore never reaching CML, and the new one
// verifies again and restores the previous version once.
TEST_F(VerificationTest, RollbackSurvivesARestart) {
  Start({Verified(3)});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  broken_version_ = 4;
  // The verification that fails is the last thing this process gets to do: its restore never
  // reaches CML.
  model_service_.Answer([this](const FakeModelService::Request&) {
    for (int i = 0; i < 10; ++i) {
      cml_.FailNext("create_model_deployment",
                    common::UnavailableError("the process died before this"));
    }
    return FakeModelService::Broken();
  });
  SetDesired({Verified(4)});
  Advance(seconds(10));
  ASSERT_EQ(cml_.deployments(ModelId()).size(), 2u);  // v3 and v4; the restore never landed
  Stop();  // all memory of the failed verification is gone
  cml_.ClearFailures();
  model_service_.Answer([this](const FakeModelService::Request&) {
    return VersionServing() == 4 ? FakeModelService::Broken() : FakeModelService::Good();
  });
  Start({Verified(4)});
  Advance(seconds(20));
  EXPECT_EQ(Reason(), "RolledBack");
  EXPECT_EQ(VersionServing(), 3);
  EXPECT_EQ(cml_.deployments(ModelId()).size(), 3u);  // one restore
}

// Verifies that deployments that fail never cost the serving one: after maxAttempts failures
// the old version was never stopped and still serves; Stalled RolledBack, no restore needed.
TEST_F(VerificationTest, FailedDeploymentsNeverStopTheOldOne) {
  Start({Verified(3)});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  cml_.MarkVersionUndeployable("rmv-v4");
  SetDesired({Verified(4)});
  Advance(seconds(30));
  EXPECT_EQ(Reason(), "RolledBack") << Status().FindCondition(kConditionReady)->message;
  EXPECT_EQ(VersionServing(), 3);
  EXPECT_EQ(cml_.calls("stop_model_deployment"), 0);
  EXPECT_EQ(cml_.calls("create_model_deployment"), 1 + 3);
}

// Verifies that without a previous good version a failed verification is Degraded with
// nothing to roll back to, and the daemon does not loop.
TEST_F(VerificationTest, NoPreviousGoodVersionIsDegradedWithoutALoop) {
  broken_version_ = 4;
  Start({Verified(4)});
  Advance(seconds(20));
  EXPECT_EQ(Reason(), "VerificationFailed");
  EXPECT_EQ(Status().health, HealthState::kDegraded);
  const std::size_t verifications = model_service_.calls().size();
  const int calls = cml_.total_calls();
  Advance(minutes(3));
  EXPECT_EQ(model_service_.calls().size(), verifications);
  EXPECT_LE(cml_.total_calls() - calls, 3 * 6) << "a stalled model polls at most every resync";
  EXPECT_EQ(cml_.calls("create_model_deployment"), 1);
}

// Verifies that without `verify` the rollout is today's: Healthy as soon as deployed, no call
// to the model.
TEST_F(VerificationTest, WithoutVerifyNothingIsCalled) {
  config::ModelDeploymentSpec spec = Verified();
  spec.verify.reset();
  Start({spec});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  EXPECT_TRUE(model_service_.calls().empty());
  EXPECT_FALSE(Status().verification);
}

}  // namespace
}  // namespace cmlr::controllers
