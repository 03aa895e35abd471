#include "daemon/wait_command.h"

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"

namespace cmlr::daemon {
namespace {

using nlohmann::json;
using std::chrono::seconds;

json Entry(const std::string& name, const std::string& sync, const std::string& health) {
  return {
      {"name", name},
      {"sync", sync},
      {"health", health},
      {"removed", false},
      {"revision", "abc123"},
      {"conditions",
       {{{"type", "Ready"},
         {"status", sync == "Synced" && health == "Healthy" ? "True" : "False"},
         {"reason", sync == "Synced" ? "Deployed" : "BuildInProgress"},
         {"message", sync == "Synced" ? "deployment d-1 serves version 3" : "build b-2"}},
        {{"type", "Reconciling"}, {"status", "False"}, {"reason", "Done"}, {"message", ""}},
        {{"type", "Stalled"}, {"status", "False"}, {"reason", "NotStalled"}, {"message", ""}}}}};
}

json Stalled(const std::string& name) {
  json entry = Entry(name, "OutOfSync", "Degraded");
  entry["conditions"][2] = {{"type", "Stalled"},
                            {"status", "True"},
                            {"reason", "RegisteredModelVersionNotFound"},
                            {"message", "version 99 of FraudCLF does not exist"}};
  return entry;
}

json Envelope(std::vector<json> models) {
  return {{"revision", "abc123"},
          {"desiredState", {{"result", "success"}, {"at", "2026-01-01T00:00:00Z"}}},
          {"models", models}};
}

std::vector<std::string> Names(const WaitDecision& decision) {
  std::vector<std::string> names;
  for (const ModelProblem& problem : decision.problems) names.push_back(problem.name);
  return names;
}

// Verifies that the default request waits for every model and is done when all are Synced and
// Healthy.
TEST(DecideWaitTest, DoneWhenEveryModelIsSyncedAndHealthy) {
  const WaitDecision decision =
      DecideWait(Envelope({Entry("a", "Synced", "Healthy"), Entry("b", "Synced", "Healthy")}), {});
  EXPECT_EQ(decision.state, WaitState::kDone);
  EXPECT_TRUE(decision.problems.empty());
  EXPECT_EQ(decision.models, 2u);
}

// Verifies that a model not yet converged keeps the decision waiting, with its sync, health and
// Ready reason and message as the explanation.
TEST(DecideWaitTest, WaitsForAModelThatIsNotConverged) {
  const WaitDecision decision = DecideWait(
      Envelope({Entry("a", "Synced", "Healthy"), Entry("b", "OutOfSync", "Progressing")}), {});
  EXPECT_EQ(decision.state, WaitState::kWaiting);
  ASSERT_EQ(decision.problems.size(), 1u);
  EXPECT_EQ(decision.problems[0],
            (ModelProblem{"b", "OutOfSync/Progressing",
                          "OutOfSync/Progressing: BuildInProgress: build b-2"}));
}

// Verifies the two modes: --for synced accepts any health of a Synced model, --for healthy
// needs Healthy too.
TEST(DecideWaitTest, SyncedModeIgnoresHealth) {
  for (const std::string health : {"Progressing", "Degraded", "Missing", "Unknown"}) {
    const json status = Envelope({Entry("a", "Synced", health)});
    EXPECT_EQ(DecideWait(status, {.mode = WaitFor::kSynced}).state, WaitState::kDone) << health;
    EXPECT_EQ(DecideWait(status, {.mode = WaitFor::kHealthy}).state, WaitState::kWaiting) << health;
  }
  for (const std::string sync : {"OutOfSync", "Unknown"}) {
    const json status = Envelope({Entry("a", sync, "Healthy")});
    EXPECT_EQ(DecideWait(status, {.mode = WaitFor::kSynced}).state, WaitState::kWaiting) << sync;
    EXPECT_EQ(DecideWait(status, {.mode = WaitFor::kHealthy}).state, WaitState::kWaiting) << sync;
  }
}

// Verifies that a suspended model counts as ready in both modes, as apply counts it converged.
TEST(DecideWaitTest, SuspendedModelsCountAsReady) {
  const json status = Envelope({Entry("a", "OutOfSync", "Suspended")});
  EXPECT_EQ(DecideWait(status, {.mode = WaitFor::kSynced}).state, WaitState::kDone);
  EXPECT_EQ(DecideWait(status, {.mode = WaitFor::kHealthy}).state, WaitState::kDone);
}

// Verifies that one stalled model makes the decision Stalled even while others are waiting,
// and that only the stalled ones are listed, with the Stalled reason and message.
TEST(DecideWaitTest, StalledWinsOverWaiting) {
  const WaitDecision decision = DecideWait(
      Envelope({Entry("a", "OutOfSync", "Progressing"), Stalled("b"), Stalled("c")}), {});
  EXPECT_EQ(decision.state, WaitState::kStalled);
  EXPECT_EQ(Names(decision), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(decision.problems[0].why,
            "RegisteredModelVersionNotFound: version 99 of FraudCLF does not exist");
}

// Verifies that a Stalled condition counts only with status "True".
TEST(DecideWaitTest, StalledNeedsStatusTrue) {
  for (const std::string value : {"False", "Unknown", "true", ""}) {
    json entry = Stalled("a");
    entry["conditions"][2]["status"] = value;
    EXPECT_EQ(DecideWait(Envelope({entry}), {}).state, WaitState::kWaiting) << value;
  }
}

// Verifies that named models are the only ones considered: others may stall or lag.
TEST(DecideWaitTest, NamedModelsOnly) {
  const json status = Envelope(
      {Entry("a", "Synced", "Healthy"), Stalled("b"), Entry("c", "OutOfSync", "Progressing")});
  const WaitDecision decision = DecideWait(status, {.names = {"a"}});
  EXPECT_EQ(decision.state, WaitState::kDone);
  EXPECT_EQ(decision.models, 1u);
  EXPECT_EQ(DecideWait(status, {.names = {"a", "c"}}).state, WaitState::kWaiting);
  EXPECT_EQ(DecideWait(status, {.names = {"c", "b"}}).state, WaitState::kStalled);
}

// Verifies that a named model the daemon does not report keeps waiting, explained as not
// known yet (a new desired state may bring it).
TEST(DecideWaitTest, UnknownNamedModelWaits) {
  const WaitDecision decision =
      DecideWait(Envelope({Entry("a", "Synced", "Healthy")}), {.names = {"a", "new-model"}});
  EXPECT_EQ(decision.state, WaitState::kWaiting);
  ASSERT_EQ(decision.problems.size(), 1u);
  EXPECT_EQ(decision.problems[0],
            (ModelProblem{"new-model", "NotKnown", "not known to the daemon yet"}));
}

// Verifies that models removed from the desired state are left out of "all", and that a
// removed model named explicitly waits.
TEST(DecideWaitTest, RemovedModelsAreLeftOutUnlessNamed) {
  json removed = Entry("old", "OutOfSync", "Missing");
  removed["removed"] = true;
  const json status = Envelope({Entry("a", "Synced", "Healthy"), removed});
  const WaitDecision all = DecideWait(status, {});
  EXPECT_EQ(all.state, WaitState::kDone);
  EXPECT_EQ(all.models, 1u);
  const WaitDecision named = DecideWait(status, {.names = {"old"}});
  EXPECT_EQ(named.state, WaitState::kWaiting);
  ASSERT_EQ(named.problems.size(), 1u);
  EXPECT_EQ(named.problems[0].state, "Removed");
}

// Verifies that with no models, the decision is done only once the daemon has loaded a desired
// state (or is too old to say), so that a wait started beside the daemon does not pass early.
TEST(DecideWaitTest, NoModelsIsDoneOnlyOnceADesiredStateLoaded) {
  json status = Envelope({});
  EXPECT_EQ(DecideWait(status, {}).state, WaitState::kDone);
  status["desiredState"]["at"] = nullptr;
  const WaitDecision not_loaded = DecideWait(status, {});
  EXPECT_EQ(not_loaded.state, WaitState::kWaiting);
  EXPECT_FALSE(not_loaded.note.empty());
  EXPECT_EQ(DecideWait(json{{"models", json::array()}}, {}).state, WaitState::kDone);
}

// Verifies that an answer without a models list waits (with a note) instead of passing or
// throwing.
TEST(DecideWaitTest, AnswerWithoutModelsWaits) {
  for (const json& status :
       {json(nullptr), json::array(), json{{"models", "x"}}, json::object(), json("text")}) {
    const WaitDecision decision = DecideWait(status, {.names = {"a"}});
    EXPECT_EQ(decision.state, WaitState::kWaiting) << status;
    EXPECT_FALSE(decision.note.empty()) << status;
  }
}

// Verifies that mistyped entries and fields count as not ready and never throw.
TEST(DecideWaitTest, MalformedEntriesAreNotReady) {
  json odd = Entry("a", "Synced", "Healthy");
  odd["sync"] = 1;
  json no_conditions = Entry("b", "OutOfSync", "Progressing");
  no_conditions["conditions"] = "none";
  json bad_condition = Entry("c", "OutOfSync", "Progressing");
  bad_condition["conditions"][2] = 7;
  const json status = Envelope({odd, no_conditions, bad_condition, json(3), json::object(),
                                json{{"name", 5}}, Entry("d", "Synced", "Healthy")});
  const WaitDecision decision = DecideWait(status, {});
  EXPECT_EQ(decision.state, WaitState::kWaiting);
  EXPECT_EQ(Names(decision), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(decision.problems[0].state, "none/Healthy");
}

// Verifies that problems are sorted by name and names given twice count once.
TEST(DecideWaitTest, ProblemsSortedAndNamesDeduplicated) {
  const WaitDecision decision = DecideWait(Envelope({}), {.names = {"z", "a", "m", "a"}});
  EXPECT_EQ(Names(decision), (std::vector<std::string>{"a", "m", "z"}));
  EXPECT_EQ(decision.models, 3u);
}

// Verifies that with --revision a model counts only once its status comes from that revision,
// even when it is stalled on an older one, and that the daemon's revision is noted.
TEST(DecideWaitTest, RevisionGatesEveryModel) {
  json old_stall = Stalled("b");
  old_stall["revision"] = "old";
  json status = Envelope({Entry("a", "Synced", "Healthy"), old_stall});
  status["revision"] = "new";
  const WaitDecision decision = DecideWait(status, {.revision = "new"});
  EXPECT_EQ(decision.state, WaitState::kWaiting);
  EXPECT_EQ(Names(decision), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(decision.problems[1].state, "OtherRevision");
  EXPECT_TRUE(decision.note.empty());

  for (json& entry : status["models"]) entry["revision"] = "new";
  EXPECT_EQ(DecideWait(status, {.revision = "new"}).state, WaitState::kStalled);
  status["models"][1] = Entry("b", "Synced", "Healthy");
  status["models"][1]["revision"] = "new";
  EXPECT_EQ(DecideWait(status, {.revision = "new"}).state, WaitState::kDone);
  status["revision"] = "newer";
  const WaitDecision moved_on = DecideWait(status, {.revision = "new"});
  EXPECT_EQ(moved_on.state, WaitState::kWaiting);
  EXPECT_NE(moved_on.note.find("newer"), std::string::npos);
}

// Verifies that a rejected desired state is noted while waiting, and does not stop a wait
// whose models are ready (the daemon keeps the previous desired state).
TEST(DecideWaitTest, NotesARejectedDesiredState) {
  json status = Envelope({Entry("a", "OutOfSync", "Progressing")});
  status["desiredState"]["result"] = "failure";
  status["desiredState"]["message"] = "fraud.yaml:3:1: spec: unknown key";
  const WaitDecision decision = DecideWait(status, {});
  EXPECT_EQ(decision.state, WaitState::kWaiting);
  EXPECT_NE(decision.note.find("fraud.yaml:3:1"), std::string::npos) << decision.note;
  status["models"][0] = Entry("a", "Synced", "Healthy");
  EXPECT_EQ(DecideWait(status, {}).state, WaitState::kDone);
}

// The wait loop with a fake clock: `answers` are returned one per poll (the last one repeats),
// sleeping advances the clock.
class WaitLoopTest : public ::testing::Test {
 protected:
  int Run(std::vector<common::StatusOr<json>> answers, WaitRequest request = {},
          common::Duration timeout = seconds(10)) {
    answers_ = std::move(answers);
    start_ = clock_.Now();
    return RunWaitLoop({.request = std::move(request), .timeout = timeout, .interval = seconds(1)},
                       {.fetch =
                            [this] {
                              const std::size_t i = std::min(fetches_, answers_.size() - 1);
                              ++fetches_;
                              return answers_[i];
                            },
                        .clock = &clock_,
                        .sleep =
                            [this](common::Duration d) {
                              sleeps_.push_back(d);
                              clock_.Advance(d);
                            },
                        .out = &out_,
                        .err = &err_});
  }
  common::Duration Elapsed() const { return clock_.Now() - start_; }
  std::size_t Lines(const std::string& text, const std::string& prefix) const {
    std::size_t count = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) count += line.starts_with(prefix);
    return count;
  }

  testing::FakeClock clock_;
  common::TimePoint start_;
  std::vector<common::StatusOr<json>> answers_;
  std::size_t fetches_ = 0;
  std::vector<common::Duration> sleeps_;
  std::ostringstream out_, err_;
};

// Verifies that the loop polls once a second until every model is ready, then exits 0 with a
// summary on stdout.
TEST_F(WaitLoopTest, ExitsZeroOnceReady) {
  const json waiting = Envelope({Entry("a", "OutOfSync", "Progressing")});
  const json ready = Envelope({Entry("a", "Synced", "Healthy")});
  EXPECT_EQ(Run({waiting, waiting, waiting, ready}), 0);
  EXPECT_EQ(fetches_, 4u);
  EXPECT_EQ(sleeps_, std::vector<common::Duration>(3, seconds(1)));
  EXPECT_NE(out_.str().find("1 model"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("abc123"), std::string::npos) << out_.str();
}

// Verifies that a stalled model ends the wait at once with exit 3, naming the model and why.
TEST_F(WaitLoopTest, ExitsThreeWhenStalled) {
  EXPECT_EQ(Run({Envelope({Entry("a", "OutOfSync", "Progressing")}), Envelope({Stalled("a")})}), 3);
  EXPECT_EQ(fetches_, 2u);
  EXPECT_NE(err_.str().find("a: RegisteredModelVersionNotFound"), std::string::npos) << err_.str();
  EXPECT_TRUE(out_.str().empty());
}

// Verifies that the wait gives up at the timeout with exit 1, naming each model not ready and
// why, and that the last sleep is cut to end on the deadline.
TEST_F(WaitLoopTest, TimesOutNamingWhatWasNotReady) {
  EXPECT_EQ(Run({Envelope({Entry("a", "OutOfSync", "Progressing")})}, {.names = {"a", "b"}},
                std::chrono::milliseconds(2500)),
            1);
  EXPECT_EQ(Elapsed(), std::chrono::milliseconds(2500));
  EXPECT_EQ(sleeps_, (std::vector<common::Duration>{seconds(1), seconds(1),
                                                    std::chrono::milliseconds(500)}));
  EXPECT_EQ(fetches_, 4u);  // one last look at the deadline
  EXPECT_NE(err_.str().find("timed out after 2.5s"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("a is not Synced and Healthy: OutOfSync/Progressing"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("b is not Synced and Healthy: not known to the daemon yet"),
            std::string::npos)
      << err_.str();
}

// Verifies that an unreachable daemon is retried until the timeout, then named in the error.
TEST_F(WaitLoopTest, RetriesAnUnreachableDaemonUntilTheTimeout) {
  EXPECT_EQ(Run({common::UnavailableError("cannot reach the daemon at http://x: refused")}, {},
                seconds(5)),
            1);
  EXPECT_EQ(fetches_, 6u);
  EXPECT_EQ(Elapsed(), seconds(5));
  EXPECT_EQ(Lines(err_.str(), "Waiting for the daemon"), 1u) << err_.str();
  EXPECT_NE(err_.str().find("timed out after 5s: cannot reach the daemon at http://x: refused"),
            std::string::npos)
      << err_.str();
}

// Verifies that a daemon that comes up late (CI starts it beside the wait) is waited for.
TEST_F(WaitLoopTest, WaitsForADaemonThatStartsLate) {
  const common::Status refused = common::UnavailableError("refused");
  EXPECT_EQ(Run({refused, refused, Envelope({Entry("a", "Synced", "Healthy")})}), 0);
  EXPECT_EQ(fetches_, 3u);
}

// Verifies that a progress line is printed only when the set of models not ready (or their
// sync/health) changes, not on every poll.
TEST_F(WaitLoopTest, PrintsProgressOnlyOnChange) {
  const json both =
      Envelope({Entry("a", "OutOfSync", "Progressing"), Entry("b", "Unknown", "Unknown")});
  const json one = Envelope({Entry("a", "Synced", "Healthy"), Entry("b", "Unknown", "Unknown")});
  const json ready = Envelope({Entry("a", "Synced", "Healthy"), Entry("b", "Synced", "Healthy")});
  EXPECT_EQ(Run({both, both, both, one, one, ready}), 0);
  EXPECT_EQ(Lines(err_.str(), "Waiting for 2 of 2 models"), 1u) << err_.str();
  EXPECT_EQ(Lines(err_.str(), "Waiting for 1 of 2 models"), 1u) << err_.str();
  EXPECT_EQ(Lines(err_.str(), "Waiting"), 2u) << err_.str();
}

}  // namespace
}  // namespace cmlr::daemon
