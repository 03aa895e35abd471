#include "common/jitter.h"

#include <algorithm>

namespace cmlr::common {

double Jitter::Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

Duration Jitter::Full(Duration max) {
  if (max <= Duration::zero()) return Duration::zero();
  return Duration(std::uniform_int_distribution<Duration::rep>(0, max.count())(rng_));
}

Duration Jitter::PlusMinus(Duration base, double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const double factor = 1.0 + fraction * (2.0 * Uniform() - 1.0);
  return Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) * factor));
}

Duration ExponentialBackoff(int attempt, Duration initial, Duration cap) {
  if (initial <= Duration::zero() || cap <= Duration::zero()) return Duration::zero();
  Duration delay = initial;
  for (int i = 0; i < attempt && delay < cap; ++i) {
    delay = delay > cap / 2 ? cap : delay * 2;
  }
  return std::min(delay, cap);
}

}  // namespace cmlr::common
