#include "api/token_bucket.h"

#include <algorithm>
#include <chrono>

namespace cmlr::api {

namespace net = boost::asio;

TokenBucket::TokenBucket(common::Clock& clock, double qps, int burst)
    : clock_(clock),
      qps_(qps),
      burst_(std::max(1, burst)),
      tokens_(burst_),
      last_refill_(clock.Now()) {}

void TokenBucket::Refill() {
  const common::TimePoint now = clock_.Now();
  if (now > last_refill_) {
    tokens_ = std::min(burst_, tokens_ + common::ToSeconds(now - last_refill_) * qps_);
    last_refill_ = now;
  }
}

double TokenBucket::tokens() {
  Refill();
  return tokens_;
}

void TokenBucket::PauseUntil(common::TimePoint until) {
  paused_until_ = std::max(paused_until_, until);
}

net::awaitable<common::StatusOr<common::Duration>> TokenBucket::Acquire() {
  const common::TimePoint start = clock_.Now();
  while (paused_until_ > clock_.Now()) {
    common::Status slept = co_await clock_.SleepUntil(paused_until_);
    if (!slept.ok()) co_return slept;
  }
  if (qps_ > 0) {
    Refill();
    tokens_ -= 1;
    if (tokens_ < 0) {
      const auto wait = std::chrono::duration_cast<common::Duration>(
          std::chrono::duration<double>(-tokens_ / qps_));
      common::Status slept = co_await clock_.SleepFor(wait);
      if (!slept.ok()) {
        tokens_ += 1;  // give the reservation back
        co_return slept;
      }
    }
  }
  co_return clock_.Now() - start;
}

}  // namespace cmlr::api
