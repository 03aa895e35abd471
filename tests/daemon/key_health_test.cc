#include "daemon/key_health.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_cml_client.h"

namespace cmlr::daemon {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
using std::chrono::seconds;

const common::TimePoint kStart = cmlr::testing::FakeClock().Now();

// Verifies that the key starts valid and that validate_key is due at the start only.
TEST(KeyHealthTest, StartsValidAndProbesOnce) {
  KeyHealth health;
  EXPECT_TRUE(health.valid());
  EXPECT_TRUE(health.ShouldProbe(kStart, 0));
  health.ProbeStarted(kStart, 0);
  EXPECT_FALSE(health.ShouldProbe(kStart + seconds(3600), 0));
}

// Verifies that one 403 (a project the key may not see) does not make the key invalid, that
// a 2xx ends a run of them, and that three in a row do.
TEST(KeyHealthTest, ForbiddenNeedsARun) {
  KeyHealth health;
  health.OnAnswer("list_models", 403);
  EXPECT_TRUE(health.valid());
  health.OnAnswer("get_model", 403);
  EXPECT_TRUE(health.valid());
  health.OnAnswer("list_registered_models", 200);
  EXPECT_EQ(health.failure_run(), 0);
  health.OnAnswer("list_models", 403);
  health.OnAnswer("list_models", 403);
  EXPECT_TRUE(health.valid());
  health.OnAnswer("list_models", 403);
  EXPECT_FALSE(health.valid());
  EXPECT_EQ(health.failure_run(), 3);
}

// Verifies that one 401 of any call makes the key invalid, and that any 2xx makes it valid.
TEST(KeyHealthTest, UnauthenticatedIsInvalidAtOnce) {
  KeyHealth health;
  health.OnAnswer("get_model", 401);
  EXPECT_FALSE(health.valid());
  health.OnAnswer("list_runtimes", 204);
  EXPECT_TRUE(health.valid());
}

// Verifies that answers that say nothing about the key (none, 404, 409, 429, 5xx) change
// nothing and do not end a run of 403s either.
TEST(KeyHealthTest, OtherAnswersAreNeutral) {
  KeyHealth health;
  health.OnAnswer("get_model", 403);
  for (int status : {0, 404, 409, 429, 500, 503, 400}) health.OnAnswer("get_model", status);
  EXPECT_TRUE(health.valid());
  health.OnAnswer("get_model", 403);
  health.OnAnswer("get_model", 0);
  EXPECT_TRUE(health.valid());
  health.OnAnswer("get_model", 403);
  EXPECT_FALSE(health.valid());
  for (int status : {0, 404, 429, 500}) health.OnAnswer("get_model", status);
  EXPECT_FALSE(health.valid());
}

// Verifies that validate_key decides alone: its 2xx waits for the verdict, its 403 counts at
// once, valid=false makes the key invalid and valid=true valid.
TEST(KeyHealthTest, ValidateKeyDecides) {
  KeyHealth health;
  health.OnAnswer("validate_api_key", 403);
  EXPECT_FALSE(health.valid());
  health.OnAnswer("validate_api_key", 200);
  EXPECT_FALSE(health.valid());
  health.OnProbeResult(true);
  EXPECT_TRUE(health.valid());
  EXPECT_EQ(health.failure_run(), 0);
  health.OnAnswer("validate_api_key", 200);
  health.OnProbeResult(false);
  EXPECT_FALSE(health.valid());
}

// Verifies the probe cadence while invalid: at once when a call made the key invalid, then
// every probe_interval, and at once after the key changed (also while valid).
TEST(KeyHealthTest, ProbeCadence) {
  KeyHealth health({.failure_run = 3, .probe_interval = seconds(30)});
  health.ProbeStarted(kStart, 0);
  health.OnProbeResult(true);
  EXPECT_FALSE(health.ShouldProbe(kStart + seconds(1), 0));

  health.OnAnswer("get_model", 401);
  EXPECT_TRUE(health.ShouldProbe(kStart + seconds(1), 0));  // at once, not 30 s after the last
  health.ProbeStarted(kStart + seconds(1), 0);
  health.OnAnswer("validate_api_key", 401);
  EXPECT_FALSE(health.ShouldProbe(kStart + seconds(2), 0));  // the probe's own 401 keeps pace
  EXPECT_FALSE(health.ShouldProbe(kStart + seconds(30), 0));
  EXPECT_TRUE(health.ShouldProbe(kStart + seconds(31), 0));
  health.ProbeStarted(kStart + seconds(31), 0);
  health.OnProbeResult(false);
  EXPECT_FALSE(health.ShouldProbe(kStart + seconds(32), 0));
  EXPECT_TRUE(health.ShouldProbe(kStart + seconds(32), 1));  // the key file changed
  health.ProbeStarted(kStart + seconds(32), 1);
  health.OnProbeResult(true);
  EXPECT_TRUE(health.valid());
  EXPECT_FALSE(health.ShouldProbe(kStart + seconds(600), 1));
  EXPECT_TRUE(health.ShouldProbe(kStart + seconds(600), 2));  // changed while valid: checked too
}

// The monitor with a fake CML, a fake clock and a real key file.
class KeyHealthMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cmlr-key-health-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "key").string();
    WriteKey("rejected-key");
    auto key = api::ApiKeySource::Create(path_, clock_, logger_);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
  }
  void TearDown() override {
    monitor_.reset();
    for (int i = 0; i < 10; ++i) io_.poll();
    fs::remove_all(dir_);
  }

  void WriteKey(const std::string& key) {
    std::ofstream(path_ + ".tmp") << key << "\n";
    fs::rename(path_ + ".tmp", path_);
  }

  KeyHealthMonitor& Monitor() {
    monitor_ = std::make_unique<KeyHealthMonitor>(clock_, cml_, key_, readiness_, logger_,
                                                  KeyHealthOptions{}, seconds(1));
    monitor_->Start(io_.get_executor());
    io_.poll();
    return *monitor_;
  }

  // Moves the fake clock by whole ticks, running what wakes up.
  void Tick(int ticks = 1) {
    for (int i = 0; i < ticks; ++i) {
      clock_.Advance(seconds(1));
      if (io_.stopped()) io_.restart();
      io_.poll();
    }
  }

  // One call of the controller's kind through the client, so that the observer sees it.
  void ListModels() {
    net::co_spawn(
        io_,
        [this]() -> net::awaitable<void> {
          api::ListOptions options;
          (void)co_await cml_.ListModels("p1", std::move(options));
        },
        net::detached);
    if (io_.stopped()) io_.restart();
    io_.poll();
  }

  static common::Status Refused(int http_status) {
    return common::UnauthenticatedError("HTTP refused").WithHttpStatus(http_status);
  }

  fs::path dir_;
  std::string path_;
  net::io_context io_;
  cmlr::testing::FakeClock clock_;
  cmlr::testing::FakeCmlClient cml_{clock_};
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("key-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::shared_ptr<api::ApiKeySource> key_;
  Readiness readiness_{.desired_state_loaded = true};
  std::unique_ptr<KeyHealthMonitor> monitor_;
};

// Verifies the story: a key CML refuses makes the daemon not ready, probes follow every
// 30 s, and rewriting the key file makes it ready within a tick, without a restart.
TEST_F(KeyHealthMonitorTest, RecoversWhenTheKeyFileIsRotated) {
  cml_.FailNext("validate_api_key", Refused(401));
  Monitor();
  EXPECT_EQ(cml_.calls("validate_api_key"), 1);  // at the start
  EXPECT_TRUE(readiness_.authentication_failed);

  for (int i = 0; i < 29; ++i) cml_.FailNext("validate_api_key", Refused(401));
  Tick(29);
  EXPECT_EQ(cml_.calls("validate_api_key"), 1);  // no probe before the interval
  Tick();
  EXPECT_EQ(cml_.calls("validate_api_key"), 2);
  EXPECT_TRUE(readiness_.authentication_failed);

  cml_.ClearFailures();
  WriteKey("accepted-key");
  Tick();
  EXPECT_EQ(key_->generation(), 1u);
  EXPECT_EQ(cml_.calls("validate_api_key"), 3);  // right after the file changed
  EXPECT_FALSE(readiness_.authentication_failed);
  Tick(100);
  EXPECT_EQ(cml_.calls("validate_api_key"), 3);  // valid: no more probes
}

// Verifies that a single 403 of a call leaves the daemon ready, a 401 of a call makes it not
// ready until the immediate probe says the key is fine, and a 2xx of any call recovers too.
TEST_F(KeyHealthMonitorTest, FollowsTheCallsAnswers) {
  Monitor();
  EXPECT_FALSE(readiness_.authentication_failed);
  EXPECT_EQ(cml_.calls("validate_api_key"), 1);

  cml_.FailNext("list_models", Refused(403));
  ListModels();
  EXPECT_FALSE(readiness_.authentication_failed);

  cml_.FailNext("list_models", Refused(401));
  ListModels();
  EXPECT_TRUE(readiness_.authentication_failed);
  Tick();  // the probe comes at the next tick and finds the key valid
  EXPECT_EQ(cml_.calls("validate_api_key"), 2);
  EXPECT_FALSE(readiness_.authentication_failed);

  for (int i = 0; i < 3; ++i) cml_.FailNext("list_models", Refused(403));
  for (int i = 0; i < 3; ++i) ListModels();
  EXPECT_TRUE(readiness_.authentication_failed);
  ListModels();  // answers 200
  EXPECT_FALSE(readiness_.authentication_failed);
}

// Verifies that a validate_key answer without a verdict (no answer) keeps the state, and that
// Stop ends the loop: no sleeper is left on the clock.
TEST_F(KeyHealthMonitorTest, StopEndsTheLoop) {
  cml_.FailNext("validate_api_key", common::UnavailableError("connection refused"));
  Monitor();
  EXPECT_FALSE(readiness_.authentication_failed);
  EXPECT_EQ(clock_.sleepers(), 1u);
  monitor_->Stop();
  io_.poll();
  EXPECT_EQ(clock_.sleepers(), 0u);
  Tick(60);
  EXPECT_EQ(cml_.calls("validate_api_key"), 1);
}

}  // namespace
}  // namespace cmlr::daemon
