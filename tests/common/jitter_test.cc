#include "common/jitter.h"

#include <gtest/gtest.h>

namespace cmlr::common {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Verifies full jitter stays within [0, max] and actually varies.
TEST(JitterTest, FullJitterStaysInRange) {
  Jitter jitter(42);
  Duration low = seconds(10), high = Duration::zero();
  for (int i = 0; i < 1000; ++i) {
    const Duration d = jitter.Full(seconds(10));
    ASSERT_GE(d, Duration::zero());
    ASSERT_LE(d, seconds(10));
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_LT(low, seconds(1));
  EXPECT_GT(high, seconds(9));
  EXPECT_EQ(jitter.Full(Duration::zero()), Duration::zero());
  EXPECT_EQ(jitter.Full(-seconds(1)), Duration::zero());
}

// Verifies ±10 % jitter around the resync period stays in its band and covers both sides.
TEST(JitterTest, PlusMinusStaysInBand) {
  Jitter jitter(7);
  bool below = false, above = false;
  for (int i = 0; i < 1000; ++i) {
    const Duration d = jitter.PlusMinus(seconds(60), 0.10);
    ASSERT_GE(d, seconds(54));
    ASSERT_LE(d, seconds(66));
    below |= d < seconds(59);
    above |= d > seconds(61);
  }
  EXPECT_TRUE(below);
  EXPECT_TRUE(above);
  EXPECT_EQ(jitter.PlusMinus(seconds(60), 0.0), seconds(60));
}

// Verifies that the same seed repeats the same sequence.
TEST(JitterTest, SeedMakesRunsRepeatable) {
  Jitter a(123), b(123);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Full(seconds(5)), b.Full(seconds(5)));
}

// Verifies exponential backoff doubles from the initial delay and stops at the cap.
TEST(JitterTest, ExponentialBackoffDoublesToCap) {
  EXPECT_EQ(ExponentialBackoff(0, seconds(1), minutes(5)), seconds(1));
  EXPECT_EQ(ExponentialBackoff(1, seconds(1), minutes(5)), seconds(2));
  EXPECT_EQ(ExponentialBackoff(4, seconds(1), minutes(5)), seconds(16));
  EXPECT_EQ(ExponentialBackoff(8, seconds(1), minutes(5)), seconds(256));
  EXPECT_EQ(ExponentialBackoff(9, seconds(1), minutes(5)), minutes(5));
  EXPECT_EQ(ExponentialBackoff(1000, seconds(1), minutes(5)), minutes(5));
  EXPECT_EQ(ExponentialBackoff(3, milliseconds(100), seconds(1)), milliseconds(800));
}

}  // namespace
}  // namespace cmlr::common
