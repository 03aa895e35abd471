#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::common {

// Parses a duration such as "500ms", "30s", "15m", "2h", "1h30m" or "1.5s". Units: ns, us, ms,
// s, m, h; a bare "0" is zero. Empty text, a missing or unknown unit, a sign, spaces and values
// that overflow are INVALID_ARGUMENT, never a silent zero.
StatusOr<Duration> ParseDuration(std::string_view text);

// The shortest canonical spelling that ParseDuration reads back to the same value at
// millisecond precision or better: "0s", "250ms", "30s", "1m30s", "2h", "1.5s".
std::string FormatDuration(Duration duration);

}  // namespace cmlr::common
