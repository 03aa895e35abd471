#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::emulator {

// Faults injected into API v2 calls (design section 9). Rates are fractions in [0, 1].
struct FaultSettings {
  common::Duration latency{0};  // added to every call
  double error_rate = 0;        // answered 500 INTERNAL or 503 UNAVAILABLE (half each)
  double throttle_rate = 0;     // answered 429 RESOURCE_EXHAUSTED with Retry-After
  double reset_rate = 0;        // connection dropped without an answer
  double ambiguous_rate = 0;    // writes only: applied, then answered 500
  int retry_after_seconds = 1;
  // Operation names the faults apply to; empty: all.
  std::set<std::string, std::less<>> operations;
  // The next this many inference calls (POST /model that reach a model) answer 429 model.busy;
  // each one counts down.
  int model_busy = 0;
};

// {"latency": "50ms", "error_rate": 0.1, ...}; every key optional, on top of `base`.
// INVALID_ARGUMENT naming the key for unknown keys, wrong types or out-of-range rates.
[[nodiscard]] common::StatusOr<FaultSettings> ParseFaultSettings(const nlohmann::json& json,
                                                                 FaultSettings base);
nlohmann::json FaultSettingsToJson(const FaultSettings& settings);
// INVALID_ARGUMENT when a rate is outside [0, 1] or their sum exceeds 1.
[[nodiscard]] common::Status ValidateFaultSettings(const FaultSettings& settings);

enum class Fault { kNone, kReset, kThrottle, kError500, kError503, kAmbiguous };

// Draws one fault per call from a seeded generator, so a seed repeats a run exactly.
class FaultInjector {
 public:
  FaultInjector(FaultSettings settings, std::uint64_t seed)
      : settings_(std::move(settings)), rng_(seed) {}

  const FaultSettings& settings() const { return settings_; }
  void set_settings(FaultSettings settings) { settings_ = std::move(settings); }

  Fault Decide(std::string_view operation, bool is_write);
  // True (and one less to come) while model_busy is above zero.
  bool TakeModelBusy();

 private:
  FaultSettings settings_;
  std::mt19937_64 rng_;
};

}  // namespace cmlr::emulator
