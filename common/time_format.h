#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::common {

// "2026-11-27T05:04:24Z", or with milliseconds "2026-11-27T05:04:24.123Z". Always UTC.
std::string FormatRfc3339(TimePoint time, bool with_millis = false);

// Parses RFC 3339: date, 'T' (or 't' or ' '), time, optional fraction, then 'Z' or +hh:mm.
// Anything else is INVALID_ARGUMENT, and so is a time TimePoint cannot hold (before 1678 or
// after 2261).
StatusOr<TimePoint> ParseRfc3339(std::string_view text);

// The HTTP `Date` form (RFC 9110 IMF-fixdate): "Fri, 04 Dec 2026 17:30:00 GMT".
std::string FormatHttpDate(TimePoint time);
// Parses IMF-fixdate; INVALID_ARGUMENT for anything else (the obsolete forms included).
StatusOr<TimePoint> ParseHttpDate(std::string_view text);

}  // namespace cmlr::common
