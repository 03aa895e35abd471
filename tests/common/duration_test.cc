#include "common/duration.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace cmlr::common {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Verifies the spellings the design uses parse to the right values.
TEST(DurationTest, ParsesSimpleUnits) {
  const std::vector<std::pair<std::string, Duration>> cases = {
      {"500ms", milliseconds(500)},
      {"30s", seconds(30)},
      {"15m", minutes(15)},
      {"2h", hours(2)},
      {"1h30m", minutes(90)},
      {"1.5s", milliseconds(1500)},
      {"0", Duration::zero()},
      {"0s", Duration::zero()},
      {"250us", std::chrono::microseconds(250)},
      {"7ns", Duration(7)},
      {"1m0.25s", milliseconds(60250)}};
  for (const auto& [text, expected] : cases) {
    const StatusOr<Duration> parsed = ParseDuration(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, expected) << text;
  }
}

// Verifies that bad input is an error with a useful message, never a zero.
TEST(DurationTest, RejectsBadInput) {
  for (const std::string text : {"", "30", "5x", "-5s", "+5s", " 5s", "5s ", "s", ".s", "1.s5",
                                 "1d", "5S", "99999999999999999999h", "3000000h"}) {
    const StatusOr<Duration> parsed = ParseDuration(text);
    EXPECT_FALSE(parsed.ok()) << "accepted \"" << text << "\"";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(parsed.status().message().find("invalid duration"), std::string::npos);
    }
  }
  EXPECT_NE(ParseDuration("5x").status().message().find("unknown unit \"x\""), std::string::npos);
  EXPECT_NE(ParseDuration("30").status().message().find("missing unit"), std::string::npos);
}

// Verifies canonical formatting.
TEST(DurationTest, FormatsCanonically) {
  EXPECT_EQ(FormatDuration(Duration::zero()), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(seconds(30)), "30s");
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(hours(2)), "2h");
  EXPECT_EQ(FormatDuration(hours(1) + minutes(5)), "1h5m");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(-seconds(3)), "-3s");
  EXPECT_EQ(FormatDuration(Duration(42)), "42ns");
}

// Verifies that formatting then parsing returns the same value over a wide range.
TEST(DurationTest, FormatRoundTrips) {
  for (std::int64_t ms :
       {1, 10, 999, 1000, 1001, 59'999, 60'000, 3'599'999, 3'600'000, 86'400'000, 123'456'789}) {
    const Duration value = milliseconds(ms);
    const StatusOr<Duration> parsed = ParseDuration(FormatDuration(value));
    ASSERT_TRUE(parsed.ok()) << FormatDuration(value);
    EXPECT_EQ(*parsed, value) << FormatDuration(value);
  }
}

}  // namespace
}  // namespace cmlr::common
