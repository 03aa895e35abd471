#include "tests/fakes/fake_clock.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/time_format.h"

namespace cmlr::testing {

namespace net = boost::asio;

FakeClock::FakeClock() : now_(*common::ParseRfc3339("2026-01-01T00:00:00Z")) {}

net::awaitable<common::Status> FakeClock::SleepUntil(common::TimePoint deadline) {
  if (deadline <= now_) co_return common::OkStatus();
  // The timer never expires on its own: SetTime() cancels it when the deadline comes.
  net::steady_timer timer(co_await net::this_coro::executor, net::steady_timer::time_point::max());
  const auto entry = sleepers_.emplace(deadline, &timer);
  boost::system::error_code ec;
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  // SetTime() removed the entry when it woke us; any other wake-up is a cancellation.
  if (now_ >= deadline) co_return common::OkStatus();
  sleepers_.erase(entry);
  co_return common::CancelledError("sleep cancelled");
}

void FakeClock::SetTime(common::TimePoint time) {
  if (time > now_) now_ = time;
  while (!sleepers_.empty() && sleepers_.begin()->first <= now_) {
    sleepers_.begin()->second->cancel();
    sleepers_.erase(sleepers_.begin());
  }
}

std::optional<common::TimePoint> FakeClock::NextDeadline() const {
  if (sleepers_.empty()) return std::nullopt;
  return sleepers_.begin()->first;
}

}  // namespace cmlr::testing
