#include "common/clock.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cmlr::common {

namespace net = boost::asio;

TimePoint RealClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

net::awaitable<Status> RealClock::SleepUntil(TimePoint deadline) {
  const Duration remaining = deadline - Now();
  if (remaining <= Duration::zero()) co_return OkStatus();
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(remaining);
  boost::system::error_code ec;
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return CancelledError("sleep cancelled");
  co_return OkStatus();
}

double ToUnixSeconds(TimePoint time) { return ToSeconds(time.time_since_epoch()); }

double ToSeconds(Duration duration) { return std::chrono::duration<double>(duration).count(); }

}  // namespace cmlr::common
