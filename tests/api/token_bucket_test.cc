#include "api/token_bucket.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"

namespace cmlr::api {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

class TokenBucketTest : public ::testing::Test {
 protected:
  // Starts an Acquire() and records when it finished (as offset from the start) in `done`.
  void StartAcquire(TokenBucket& bucket, std::vector<common::Duration>& done) {
    net::co_spawn(
        io_,
        [&]() -> net::awaitable<void> {
          auto waited = co_await bucket.Acquire();
          EXPECT_TRUE(waited.ok());
          done.push_back(clock_.Now() - start_);
        },
        net::detached);
    Poll();
  }

  // Runs what is ready; a poll() that ran out of work leaves the context stopped.
  void Poll() {
    io_.restart();
    io_.poll();
  }

  net::io_context io_;
  testing::FakeClock clock_;
  common::TimePoint start_ = clock_.Now();
};

// Verifies that the burst is served at once and later callers wait 1/qps each, in order.
TEST_F(TokenBucketTest, ServesBurstThenPaces) {
  TokenBucket bucket(clock_, /*qps=*/2, /*burst=*/2);
  std::vector<common::Duration> done;
  for (int i = 0; i < 4; ++i) StartAcquire(bucket, done);
  EXPECT_EQ(done.size(), 2u);
  clock_.Advance(milliseconds(499));
  Poll();
  EXPECT_EQ(done.size(), 2u);
  clock_.Advance(milliseconds(1));
  Poll();
  EXPECT_EQ(done.size(), 3u);
  clock_.Advance(milliseconds(500));
  Poll();
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(done[2], milliseconds(500));
  EXPECT_EQ(done[3], milliseconds(1000));
}

// Verifies that tokens refill over time up to the burst, not beyond.
TEST_F(TokenBucketTest, RefillsUpToBurst) {
  TokenBucket bucket(clock_, /*qps=*/10, /*burst=*/3);
  std::vector<common::Duration> done;
  for (int i = 0; i < 3; ++i) StartAcquire(bucket, done);
  EXPECT_NEAR(bucket.tokens(), 0.0, 1e-9);
  clock_.Advance(seconds(60));
  EXPECT_NEAR(bucket.tokens(), 3.0, 1e-9);
}

// Verifies that PauseUntil (a Retry-After) holds every caller until the time has come.
TEST_F(TokenBucketTest, PauseHoldsCallers) {
  TokenBucket bucket(clock_, /*qps=*/100, /*burst=*/10);
  bucket.PauseUntil(clock_.Now() + seconds(2));
  bucket.PauseUntil(clock_.Now() + seconds(1));  // earlier: ignored
  std::vector<common::Duration> done;
  StartAcquire(bucket, done);
  clock_.Advance(seconds(1));
  Poll();
  EXPECT_TRUE(done.empty());
  clock_.Advance(seconds(1));
  Poll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], seconds(2));
}

// Verifies that qps <= 0 never waits.
TEST_F(TokenBucketTest, UnlimitedNeverWaits) {
  TokenBucket bucket(clock_, /*qps=*/0, /*burst=*/1);
  std::vector<common::Duration> done;
  for (int i = 0; i < 100; ++i) StartAcquire(bucket, done);
  EXPECT_EQ(done.size(), 100u);
}

}  // namespace
}  // namespace cmlr::api
