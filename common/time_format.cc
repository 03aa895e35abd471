#include "common/time_format.h"

#include <algorithm>
#include <charconv>
#include <iterator>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace cmlr::common {

namespace {

bool ReadDigits(std::string_view text, std::size_t& pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  const char* begin = text.data() + pos;
  for (std::size_t i = 0; i < count; ++i) {
    if (begin[i] < '0' || begin[i] > '9') return false;
  }
  std::from_chars(begin, begin + count, out);
  pos += count;
  return true;
}

bool Expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::string FormatRfc3339(TimePoint time, bool with_millis) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  std::string text = fmt::format("{:%Y-%m-%dT%H:%M:%S}", seconds);
  if (with_millis) {
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time - seconds);
    text += fmt::format(".{:03}", millis.count());
  }
  text += 'Z';
  return text;
}

StatusOr<TimePoint> ParseRfc3339(std::string_view text) {
  const auto invalid = [&] {
    return InvalidArgumentError(fmt::format(
        "invalid timestamp \"{}\": expected RFC 3339, e.g. 2026-12-01T00:00:00Z", text));
  };
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, pos, 4, year) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, month) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, day)) {
    return invalid();
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return invalid();
  }
  ++pos;
  if (!ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, second)) {
    return invalid();
  }
  Duration fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t scale = 100'000'000;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += Duration(scale * (text[pos] - '0'));
      scale /= 10;
      ++pos;
    }
    if (pos == start) return invalid();
  }
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int offset_hours = 0, offset_minutes = 0;
    if (!ReadDigits(text, pos, 2, offset_hours) || !Expect(text, pos, ':') ||
        !ReadDigits(text, pos, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return invalid();
    }
    offset = std::chrono::minutes(sign * (offset_hours * 60 + offset_minutes));
  } else {
    return invalid();
  }
  if (pos != text.size()) return invalid();
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return invalid();
  // In seconds first, which no four-digit year overflows: TimePoint counts nanoseconds in 64
  // bits, so it only reaches from 1677 to 2262, and converting a time outside would overflow.
  const std::chrono::sys_seconds whole = std::chrono::sys_days(date) + std::chrono::hours(hour) +
                                         std::chrono::minutes(minute) +
                                         std::chrono::seconds(second) - offset;
  constexpr auto kFirst = std::chrono::ceil<std::chrono::seconds>(TimePoint::min());
  constexpr auto kLast = std::chrono::floor<std::chrono::seconds>(TimePoint::max()) -
                         std::chrono::seconds(1);  // room for the fraction
  if (whole < kFirst || whole > kLast) {
    return InvalidArgumentError(fmt::format(
        "invalid timestamp \"{}\": out of the supported range (years 1678 to 2261)", text));
  }
  return TimePoint(whole) + fraction;
}

namespace {

constexpr std::string_view kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::string FormatHttpDate(TimePoint time) {
  const auto days = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{days};
  const std::chrono::weekday weekday{days};
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  return fmt::format("{}, {:02} {} {:04} {:%H:%M:%S} GMT", kWeekdays[weekday.c_encoding()],
                     static_cast<unsigned>(date.day()),
                     kMonths[static_cast<unsigned>(date.month()) - 1],
                     static_cast<int>(date.year()), seconds);
}

StatusOr<TimePoint> ParseHttpDate(std::string_view text) {
  const auto bad = [&] {
    return InvalidArgumentError(fmt::format("\"{}\" is not an HTTP date", text));
  };
  // "Fri, 04 Dec 2026 17:30:00 GMT": 29 characters.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") return bad();
  std::size_t pos = 5;
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, pos, 2, day) || !Expect(text, pos, ' ')) return bad();
  const std::string_view month_name = text.substr(pos, 3);
  const auto month = std::find(std::begin(kMonths), std::end(kMonths), month_name);
  if (month == std::end(kMonths)) return bad();
  pos += 3;
  if (!Expect(text, pos, ' ') || !ReadDigits(text, pos, 4, year) || !Expect(text, pos, ' ') ||
      !ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, second)) {
    return bad();
  }
  const std::chrono::year_month_day date{
      std::chrono::year(year),
      std::chrono::month(static_cast<unsigned>(month - std::begin(kMonths)) + 1),
      std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return bad();
  return TimePoint(std::chrono::sys_days(date)) + std::chrono::hours(hour) +
         std::chrono::minutes(minute) + std::chrono::seconds(second);
}

}  // namespace cmlr::common
