#pragma once

#include <cstdint>
#include <random>

#include "common/clock.h"

namespace cmlr::common {

// Randomised delays, so that many models or many daemons never retry in lockstep. Seeded, so a
// test or a benchmark can repeat a run exactly. Not thread-safe; one per io_context thread.
class Jitter {
 public:
  explicit Jitter(std::uint64_t seed) : rng_(seed) {}

  // Uniform in [0, max] ("full jitter"). Zero or negative max gives zero.
  Duration Full(Duration max);

  // Uniform in [base * (1 - fraction), base * (1 + fraction)]; fraction is clamped to [0, 1].
  Duration PlusMinus(Duration base, double fraction);

  // Uniform in [0, 1).
  double Uniform();

 private:
  std::mt19937_64 rng_;
};

// initial * 2^attempt, capped at `cap`; attempt 0 gives `initial`. Never overflows.
Duration ExponentialBackoff(int attempt, Duration initial, Duration cap);

}  // namespace cmlr::common
