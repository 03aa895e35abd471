// Sequence tests of the safety rules of design section 4a: the reconciler against an in-memory
// CML that answers less than, or differently from, what the API promises.

#include <gtest/gtest.h>

#include "controllers/cml_reader.h"
#include "tests/controllers/controller_fixture.h"

namespace cmlr::controllers {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
namespace net = boost::asio;
using testing_support::ControllerTest;
using testing_support::kProject;
using testing_support::Spec;

class SafetyTest : public ControllerTest {
 protected:
  // The reason of the Ready condition (Stalled's when stalled).
  std::string Reason() {
    const Condition* ready = Status().FindCondition(kConditionReady);
    return ready == nullptr ? "" : ready->reason;
  }
  bool Stalled() {
    const Condition* stalled = Status().FindCondition(kConditionStalled);
    return stalled != nullptr && stalled->status == "True";
  }
};

// Verifies read-your-writes: with lists 30 s behind, a fresh deploy makes each object once
// (found by id meanwhile), converges, and stays converged once the lists catch up.
TEST_F(SafetyTest, ListLagNeverDuplicates) {
  cml_.SetQuirks({.list_lag = seconds(30)});
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  Advance(minutes(2));
  EXPECT_TRUE(Converged());
  EXPECT_EQ(cml_.calls("create_model"), 1);
  EXPECT_EQ(cml_.calls("create_model_build"), 1);
  EXPECT_EQ(cml_.calls("create_model_deployment"), 1);
  EXPECT_EQ(cml_.models(kProject).size(), 1u);
}

// Verifies that list answers without the builds' identity fields are completed by id, and
// that what a get taught is remembered: later full observations need no more gets.
TEST_F(SafetyTest, SparseListsAreCompletedByIdOnce) {
  cml_.SetQuirks({.sparse_lists = true});
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  EXPECT_EQ(cml_.calls("create_model_build"), 1);
  const int gets = cml_.calls("get_model_build");
  // Full observations from now on use the identity learned once.
  for (int i = 0; i < 3; ++i) {
    controller_->Retry("fraud-classifier");
    Advance(seconds(2));
  }
  EXPECT_TRUE(Converged());
  EXPECT_EQ(cml_.calls("get_model_build"), gets);
  EXPECT_EQ(cml_.writes(), 3);
}

// Verifies that 403 for missing ids does not stop a rollout or a drift repair.
TEST_F(SafetyTest, ForbiddenForMissingIsHandled) {
  cml_.SetQuirks({.forbidden_for_missing = true});
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  cml_.SetDeploymentStatus(Running(ModelId()).at(0).id, "stopped");
  controller_->ReconcileNow("fraud-classifier");
  Advance(milliseconds(10));
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  EXPECT_EQ(cml_.calls("create_model_deployment"), 2);
}

// Verifies that an update CML answers but does not apply is sent once, then Stalled
// UpdateNotApplied, and that the stalled model makes no more than a few calls a minute.
TEST_F(SafetyTest, UpdateNotAppliedIsNotRepeated) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  cml_.SetQuirks({.ignore_updates = true});
  config::ModelDeploymentSpec spec = Spec();
  spec.description = "Fraud Detection 2025";
  SetDesired({spec});
  Advance(seconds(30));
  EXPECT_EQ(cml_.calls("update_model"), 1);
  EXPECT_TRUE(Stalled());
  EXPECT_EQ(Reason(), "UpdateNotApplied");
  const int calls = cml_.total_calls();
  Advance(minutes(5));
  EXPECT_EQ(cml_.calls("update_model"), 1);
  EXPECT_LE(cml_.total_calls() - calls, 5 * 6) << "a stalled model polls at most every resync";
  // A retry tries once more.
  controller_->Retry("fraud-classifier");
  Advance(seconds(5));
  EXPECT_EQ(cml_.calls("update_model"), 2);
}

// Verifies that a created model CML never shows is not created again: WriteNotYetVisible for
// two minutes, then Stalled WriteNotObserved.
TEST_F(SafetyTest, CreatedModelNeverSeenIsNotCreatedAgain) {
  cml_.SetQuirks({.phantom_models = true});
  Start({Spec()});
  Advance(seconds(30));
  EXPECT_EQ(cml_.calls("create_model"), 1);
  EXPECT_EQ(Reason(), "WriteNotYetVisible");
  Advance(minutes(2));
  EXPECT_EQ(cml_.calls("create_model"), 1);
  EXPECT_TRUE(Stalled());
  EXPECT_EQ(Reason(), "WriteNotObserved");
  Advance(minutes(10));
  EXPECT_EQ(cml_.calls("create_model"), 1);
}

// Verifies the self-heal budget: five repairs in an hour, then OutOfSync
// SelfHealBudgetExhausted with no write, and one more once the hour allows it.
TEST_F(SafetyTest, SelfHealsAreBoundedPerHour) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  const auto drift = [&] {
    cml_.SetDeploymentStatus(Running(ModelId()).at(0).id, "stopped");
    controller_->ReconcileNow("fraud-classifier");
    Advance(seconds(10));
  };
  for (int i = 0; i < 5; ++i) {
    drift();
    ASSERT_TRUE(Converged()) << "self-heal " << i;
  }
  EXPECT_EQ(cml_.calls("create_model_deployment"), 6);
  drift();
  EXPECT_EQ(cml_.calls("create_model_deployment"), 6);
  EXPECT_EQ(Reason(), "SelfHealBudgetExhausted");
  EXPECT_EQ(Status().sync, SyncState::kOutOfSync);
  Advance(minutes(61));
  EXPECT_TRUE(Converged());
  EXPECT_EQ(cml_.calls("create_model_deployment"), 7);
}

// Verifies the reader's 403 rule directly: absent from the parent's listing is NOT_FOUND,
// present is a real permission error.
TEST_F(SafetyTest, ReaderTurnsUnexplained403IntoNotFound) {
  Start({Spec()});
  ASSERT_TRUE(ConvergeWithin(seconds(20)));
  cml_.SetQuirks({.forbidden_for_missing = true});
  CmlReader reader(cml_);
  const std::string build_id = Status().live.build_id;
  common::StatusOr<api::ModelBuild> result = common::InternalError("not run");
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        result = co_await reader.GetBuild(kProject, ModelId(), "no-such-build");
      },
      net::detached);
  io_.poll();
  EXPECT_EQ(result.status().code(), common::StatusCode::kNotFound) << result.status();
  cml_.FailNext("get_model_build",
                common::PermissionDeniedError("HTTP 403: no").WithHttpStatus(403));
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        result = co_await reader.GetBuild(kProject, ModelId(), build_id);
      },
      net::detached);
  io_.poll();
  EXPECT_EQ(result.status().code(), common::StatusCode::kPermissionDenied) << result.status();
}

}  // namespace
}  // namespace cmlr::controllers
