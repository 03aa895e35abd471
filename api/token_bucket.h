#pragma once

#include <boost/asio/awaitable.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

// A client-side rate limit shared by every CML call: `qps` tokens a second, at most `burst`
// saved up. Callers that find no token reserve the next one and wait for it, so waiters are
// served in arrival order. PauseUntil() holds every caller until a time (a server's
// Retry-After). Single-threaded: use it from the io_context thread that owns it. The clock
// must outlive the bucket.
class TokenBucket {
 public:
  // qps <= 0 means unlimited; burst is at least 1.
  TokenBucket(common::Clock& clock, double qps, int burst);

  // Waits for a token and takes it. Returns the time spent waiting, or CANCELLED when the
  // waiting coroutine was cancelled.
  boost::asio::awaitable<common::StatusOr<common::Duration>> Acquire();

  // Makes Acquire() wait at least until `until`; an earlier time than a pause already set is
  // ignored.
  void PauseUntil(common::TimePoint until);

  // Tokens available now (negative when callers are waiting); for tests and metrics.
  double tokens();

 private:
  void Refill();

  common::Clock& clock_;
  double qps_;
  double burst_;
  double tokens_;
  common::TimePoint last_refill_;
  common::TimePoint paused_until_{};
};

}  // namespace cmlr::api
