#pragma once

#include <cstddef>
#include <map>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"

namespace cmlr::testing {

// A Clock whose time moves only when a test says so. Sleepers wake when Advance() or SetTime()
// reaches their deadline; they resume the next time the test runs the io_context (poll()).
// Single-threaded, like the code it stands in for.
class FakeClock final : public common::Clock {
 public:
  // 2026-01-01T00:00:00Z unless told otherwise: a fixed start keeps tests repeatable.
  FakeClock();
  explicit FakeClock(common::TimePoint start) : now_(start) {}

  common::TimePoint Now() const override { return now_; }
  boost::asio::awaitable<common::Status> SleepUntil(common::TimePoint deadline) override;

  void Advance(common::Duration duration) { SetTime(now_ + duration); }
  // Moves time to `time` (never backwards) and wakes the sleepers that are due.
  void SetTime(common::TimePoint time);

  std::size_t sleepers() const { return sleepers_.size(); }
  std::optional<common::TimePoint> NextDeadline() const;

 private:
  common::TimePoint now_;
  std::multimap<common::TimePoint, boost::asio::steady_timer*> sleepers_;
};

}  // namespace cmlr::testing
