#include "emulator/faults.h"

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::emulator {

using nlohmann::json;

common::Status ValidateFaultSettings(const FaultSettings& s) {
  for (const auto& [name, rate] :
       {std::pair{"error_rate", s.error_rate}, std::pair{"throttle_rate", s.throttle_rate},
        std::pair{"reset_rate", s.reset_rate}, std::pair{"ambiguous_rate", s.ambiguous_rate}}) {
    if (!(rate >= 0 && rate <= 1)) {
      return common::InvalidArgumentError(fmt::format("{}: must be between 0 and 1", name));
    }
  }
  if (s.error_rate + s.throttle_rate + s.reset_rate + s.ambiguous_rate > 1 + 1e-9) {
    return common::InvalidArgumentError("the fault rates must add up to at most 1");
  }
  if (s.latency < common::Duration::zero()) {
    return common::InvalidArgumentError("latency: must not be negative");
  }
  if (s.retry_after_seconds < 0) {
    return common::InvalidArgumentError("retry_after_seconds: must not be negative");
  }
  if (s.model_busy < 0) return common::InvalidArgumentError("model_busy: must not be negative");
  return common::OkStatus();
}

common::StatusOr<FaultSettings> ParseFaultSettings(const json& j, FaultSettings s) {
  if (!j.is_object()) return common::InvalidArgumentError("expected a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "latency") {
      if (!value.is_string()) return common::InvalidArgumentError("latency: expected a duration");
      auto latency = common::ParseDuration(value.get<std::string>());
      if (!latency.ok()) return latency.status().Annotate("latency");
      s.latency = *latency;
    } else if (key == "error_rate" || key == "throttle_rate" || key == "reset_rate" ||
               key == "ambiguous_rate") {
      if (!value.is_number()) {
        return common::InvalidArgumentError(fmt::format("{}: expected a number", key));
      }
      const double rate = value.get<double>();
      if (key == "error_rate") s.error_rate = rate;
      if (key == "throttle_rate") s.throttle_rate = rate;
      if (key == "reset_rate") s.reset_rate = rate;
      if (key == "ambiguous_rate") s.ambiguous_rate = rate;
    } else if (key == "retry_after_seconds" || key == "model_busy") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < -1'000'000'000 ||
          value.get<std::int64_t>() > 1'000'000'000) {
        return common::InvalidArgumentError(fmt::format("{}: expected an integer", key));
      }
      (key == "model_busy" ? s.model_busy : s.retry_after_seconds) = value.get<int>();
    } else if (key == "operations") {
      if (!value.is_array()) return common::InvalidArgumentError("operations: expected a list");
      s.operations.clear();
      for (const auto& op : value) {
        if (!op.is_string()) {
          return common::InvalidArgumentError("operations: expected a list of strings");
        }
        s.operations.insert(op.get<std::string>());
      }
    } else {
      return common::InvalidArgumentError(fmt::format("unknown key \"{}\"", key));
    }
  }
  CMLR_RETURN_IF_ERROR(ValidateFaultSettings(s));
  return s;
}

json FaultSettingsToJson(const FaultSettings& s) {
  return json{{"latency", common::FormatDuration(s.latency)},
              {"error_rate", s.error_rate},
              {"throttle_rate", s.throttle_rate},
              {"reset_rate", s.reset_rate},
              {"ambiguous_rate", s.ambiguous_rate},
              {"retry_after_seconds", s.retry_after_seconds},
              {"operations", s.operations},
              {"model_busy", s.model_busy}};
}

Fault FaultInjector::Decide(std::string_view operation, bool is_write) {
  const auto& s = settings_;
  if (s.error_rate + s.throttle_rate + s.reset_rate + s.ambiguous_rate <= 0) return Fault::kNone;
  if (!s.operations.empty() && !s.operations.contains(operation)) return Fault::kNone;
  // One draw per call keeps the sequence of faults a function of the seed and the calls.
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  double edge = s.reset_rate;
  if (u < edge) return Fault::kReset;
  edge += s.throttle_rate;
  if (u < edge) return Fault::kThrottle;
  edge += s.error_rate / 2;
  if (u < edge) return Fault::kError500;
  edge += s.error_rate / 2;
  if (u < edge) return Fault::kError503;
  edge += s.ambiguous_rate;
  if (u < edge && is_write) return Fault::kAmbiguous;
  return Fault::kNone;
}

bool FaultInjector::TakeModelBusy() {
  if (settings_.model_busy <= 0) return false;
  --settings_.model_busy;
  return true;
}

}  // namespace cmlr::emulator
