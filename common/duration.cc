#include "common/duration.h"

#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace cmlr::common {

namespace {

struct Unit {
  std::string_view name;
  std::int64_t nanos;
};

// Longest names first so that "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {{"ns", 1},
                           {"us", 1'000},
                           {"ms", 1'000'000},
                           {"h", 3'600'000'000'000},
                           {"m", 60'000'000'000},
                           {"s", 1'000'000'000}};

Status Invalid(std::string_view text, std::string_view why) {
  return InvalidArgumentError(fmt::format("invalid duration \"{}\": {}", text, why));
}

}  // namespace

StatusOr<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty (use for example 30s, 15m or 2h)");
  if (text == "0") return Duration::zero();
  constexpr auto kMax = static_cast<long double>(std::numeric_limits<std::int64_t>::max());
  long double total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t number_start = pos;
    std::int64_t whole = 0;
    long double fraction = 0;
    long double scale = 1;
    bool any_digit = false;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (whole > std::numeric_limits<std::int64_t>::max() / 10 - 1) {
        return Invalid(text, "too large");
      }
      whole = whole * 10 + (text[pos] - '0');
      any_digit = true;
      ++pos;
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        scale /= 10;
        fraction += scale * (text[pos] - '0');
        any_digit = true;
        ++pos;
      }
    }
    if (!any_digit) {
      return Invalid(text, fmt::format("expected a number at position {}", number_start + 1));
    }
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (text.substr(pos, candidate.name.size()) == candidate.name) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) {
      if (pos == text.size()) return Invalid(text, "missing unit (use ms, s, m or h)");
      std::size_t end = pos;
      while (end < text.size() && !(text[end] >= '0' && text[end] <= '9')) ++end;
      return Invalid(text, fmt::format("unknown unit \"{}\" (use ms, s, m or h)",
                                       text.substr(pos, end - pos)));
    }
    pos += unit->name.size();
    total += (static_cast<long double>(whole) + fraction) * static_cast<long double>(unit->nanos);
    if (total > kMax) return Invalid(text, "too large");
  }
  return Duration(static_cast<std::int64_t>(total));
}

std::string FormatDuration(Duration duration) {
  using std::chrono::duration_cast;
  if (duration == Duration::zero()) return "0s";
  std::string sign;
  if (duration < Duration::zero()) {
    sign = "-";
    duration = -duration;
  }
  const std::int64_t ns = duration.count();
  if (ns < 1'000) return fmt::format("{}{}ns", sign, ns);
  if (ns < 1'000'000) {
    return ns % 1'000 == 0 ? fmt::format("{}{}us", sign, ns / 1'000)
                           : fmt::format("{}{}ns", sign, ns);
  }
  if (ns < 1'000'000'000) {
    return ns % 1'000'000 == 0 ? fmt::format("{}{}ms", sign, ns / 1'000'000)
                               : fmt::format("{}{}us", sign, ns / 1'000);
  }
  const std::int64_t hours = ns / 3'600'000'000'000;
  const std::int64_t minutes = ns / 60'000'000'000 % 60;
  const std::int64_t sub_minute_ns = ns % 60'000'000'000;
  std::string text = sign;
  if (hours > 0) text += fmt::format("{}h", hours);
  if (minutes > 0) text += fmt::format("{}m", minutes);
  if (sub_minute_ns > 0) {
    const std::int64_t seconds = sub_minute_ns / 1'000'000'000;
    std::int64_t millis = sub_minute_ns % 1'000'000'000 / 1'000'000;
    if (millis == 0) {
      text += fmt::format("{}s", seconds);
    } else {
      std::string digits = fmt::format("{:03}", millis);
      while (digits.back() == '0') digits.pop_back();
      text += fmt::format("{}.{}s", seconds, digits);
    }
  }
  return text;
}

}  // namespace cmlr::common
