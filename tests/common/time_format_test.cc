#include "common/time_format.h"

#include <gtest/gtest.h>

namespace cmlr::common {
namespace {

// Verifies formatting in UTC with and without milliseconds.
TEST(TimeFormatTest, FormatsUtc) {
  const TimePoint t =
      TimePoint(std::chrono::sys_days(std::chrono::year(2026) / std::chrono::November / 27)) +
      std::chrono::hours(5) + std::chrono::minutes(4) + std::chrono::seconds(24) +
      std::chrono::milliseconds(123);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-27T05:04:24Z");
  EXPECT_EQ(FormatRfc3339(t, true), "2026-11-27T05:04:24.123Z");
}

// Verifies parsing of Z, offsets and fractions, and the round trip.
TEST(TimeFormatTest, ParsesRfc3339) {
  const StatusOr<TimePoint> z = ParseRfc3339("2026-12-01T00:00:00Z");
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(FormatRfc3339(*z), "2026-12-01T00:00:00Z");
  const StatusOr<TimePoint> offset = ParseRfc3339("2026-12-01T02:30:00+02:30");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, *z);
  const StatusOr<TimePoint> fraction = ParseRfc3339("2025-07-24T22:37:55.876Z");
  ASSERT_TRUE(fraction.ok());
  EXPECT_EQ(FormatRfc3339(*fraction, true), "2025-07-24T22:37:55.876Z");
}

// Verifies that malformed timestamps are errors.
TEST(TimeFormatTest, RejectsMalformed) {
  for (const char* text : {"", "2026-12-01", "2026-12-01T00:00:00", "2026-13-01T00:00:00Z",
                           "2026-02-30T00:00:00Z", "2026-12-01T25:00:00Z", "2026-12-01T00:00:00.Z",
                           "2026-12-01T00:00:00Zjunk", "tomorrow", "2026-12-01T00:00:00+0200"}) {
    const StatusOr<TimePoint> parsed = ParseRfc3339(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

// Verifies that times TimePoint cannot hold are errors rather than an overflow, and that the
// ends of its range still parse (a year found by tests/fuzz/wire_json_fuzzer).
TEST(TimeFormatTest, RejectsTimesOutOfRange) {
  for (const char* text :
       {"4052-11-22T08:41:50.481Z", "9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z",
        "0000-01-01T00:00:00Z", "1677-01-01T00:00:00Z"}) {
    const StatusOr<TimePoint> parsed = ParseRfc3339(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  }
  const StatusOr<TimePoint> last = ParseRfc3339("2261-12-31T23:59:59.999Z");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(FormatRfc3339(*last, true), "2261-12-31T23:59:59.999Z");
  const StatusOr<TimePoint> first = ParseRfc3339("1678-01-01T00:00:00Z");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(FormatRfc3339(*first), "1678-01-01T00:00:00Z");
}

// Verifies the HTTP Date form both ways, and that other forms are refused.
TEST(TimeFormatTest, HttpDates) {
  const TimePoint t = *ParseRfc3339("2026-12-04T17:30:05Z");
  EXPECT_EQ(FormatHttpDate(t), "Fri, 04 Dec 2026 17:30:05 GMT");
  EXPECT_EQ(*ParseHttpDate("Fri, 04 Dec 2026 17:30:05 GMT"), t);
  EXPECT_EQ(FormatHttpDate(*ParseRfc3339("1994-11-06T08:49:37.999Z")),
            "Sun, 06 Nov 1994 08:49:37 GMT");
  for (const char* text : {"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                           "Fri, 31 Feb 2026 17:30:05 GMT", "Fri, 04 Dex 2026 17:30:05 GMT",
                           "Fri, 04 Dec 2026 25:30:05 GMT", "Fri, 04 Dec 2026 17:30:05 UTC"}) {
    EXPECT_FALSE(ParseHttpDate(text).ok()) << text;
  }
}

}  // namespace
}  // namespace cmlr::common
