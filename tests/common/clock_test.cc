#include "common/clock.h"

#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"

namespace cmlr::common {
namespace {

namespace net = boost::asio;
using std::chrono::seconds;

net::awaitable<void> SleepAndRecord(Clock& clock, Duration d, std::vector<Status>& results) {
  results.push_back(co_await clock.SleepFor(d));
}

// Verifies that the real clock's sleep returns OK once its (short) deadline passed.
TEST(RealClockTest, SleepUntilPastDeadlineReturnsAtOnce) {
  net::io_context io;
  RealClock clock;
  std::vector<Status> results;
  net::co_spawn(io, SleepAndRecord(clock, Duration::zero(), results), net::detached);
  net::co_spawn(io, SleepAndRecord(clock, std::chrono::milliseconds(1), results), net::detached);
  io.run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
}

// Verifies that stopping the io_context's work cancels a pending real sleep.
TEST(RealClockTest, DestroyedContextDoesNotResumeSleepers) {
  std::vector<Status> results;
  {
    net::io_context io;
    RealClock clock;
    net::co_spawn(io, SleepAndRecord(clock, std::chrono::hours(1), results), net::detached);
    io.poll();
  }
  EXPECT_TRUE(results.empty());
}

// Verifies that fake sleepers wake exactly when time is advanced past their deadline.
TEST(FakeClockTest, AdvanceWakesDueSleepersOnly) {
  net::io_context io;
  testing::FakeClock clock;
  std::vector<Status> results;
  net::co_spawn(io, SleepAndRecord(clock, seconds(10), results), net::detached);
  net::co_spawn(io, SleepAndRecord(clock, seconds(30), results), net::detached);
  io.poll();
  EXPECT_EQ(clock.sleepers(), 2u);
  EXPECT_EQ(*clock.NextDeadline(), clock.Now() + seconds(10));

  clock.Advance(seconds(9));
  io.poll();
  EXPECT_TRUE(results.empty());

  clock.Advance(seconds(1));
  io.poll();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(clock.sleepers(), 1u);

  clock.Advance(seconds(60));
  io.poll();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(clock.sleepers(), 0u);
  EXPECT_FALSE(clock.NextDeadline().has_value());
}

// Verifies that fake time never goes backwards and starts at a fixed date.
TEST(FakeClockTest, StartsFixedAndNeverGoesBack) {
  testing::FakeClock clock;
  const TimePoint start = clock.Now();
  EXPECT_EQ(ToUnixSeconds(start), 1767225600.0);  // 2026-01-01T00:00:00Z
  clock.SetTime(start - seconds(5));
  EXPECT_EQ(clock.Now(), start);
}

}  // namespace
}  // namespace cmlr::common
