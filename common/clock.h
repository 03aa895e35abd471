#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>

#include "common/status.h"

namespace cmlr::common {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;

// All reading of time and all waiting go through a Clock, so that tests can drive time by hand
// (house style point 14). Implementations are used from one io_context thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current wall-clock time (UTC).
  virtual TimePoint Now() const = 0;

  // Suspends the calling coroutine until Now() >= deadline. Returns OK when the deadline came,
  // CANCELLED when the coroutine was cancelled (its cancellation slot fired or the io_context
  // was stopped) first.
  virtual boost::asio::awaitable<Status> SleepUntil(TimePoint deadline) = 0;

  boost::asio::awaitable<Status> SleepFor(Duration duration) {
    return SleepUntil(Now() + duration);
  }
};

// The system clock, with waits on an asio steady timer of the calling coroutine's executor.
class RealClock final : public Clock {
 public:
  TimePoint Now() const override;
  boost::asio::awaitable<Status> SleepUntil(TimePoint deadline) override;
};

// Seconds since the Unix epoch as a double, the unit Prometheus uses for timestamps.
double ToUnixSeconds(TimePoint time);

// A Duration as seconds in a double, for metrics and JSON.
double ToSeconds(Duration duration);

}  // namespace cmlr::common
