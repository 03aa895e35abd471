#include "emulator/inference.h"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace cmlr::emulator {

common::StatusOr<nlohmann::json> ScoreFraud(const nlohmann::json& body) {
  static constexpr std::array<double, kFraudFeatureColumns> kWeights = {
      0.012, -0.35, 0.41, -0.27, 0.33, -0.08, 0.22, -0.19, 0.15, -0.44, 0.29, -0.31, 0.18, 0.0009};
  static constexpr double kBias = -1.0;
  if (!body.is_object() || !body.contains("request") || !body["request"].is_object()) {
    return common::InvalidArgumentError("body: expected {\"request\": {...}}");
  }
  const auto& request = body["request"];
  if (!request.contains("dataframe_split") || !request["dataframe_split"].is_object()) {
    return common::InvalidArgumentError("request.dataframe_split: expected an object");
  }
  const auto& split = request["dataframe_split"];
  if (split.contains("columns")) {
    if (!split["columns"].is_array() || split["columns"].size() != kFraudFeatureColumns) {
      return common::InvalidArgumentError(fmt::format(
          "request.dataframe_split.columns: expected {} column names", kFraudFeatureColumns));
    }
  }
  if (!split.contains("data") || !split["data"].is_array()) {
    return common::InvalidArgumentError("request.dataframe_split.data: expected a list of rows");
  }
  nlohmann::json predictions = nlohmann::json::array();
  for (std::size_t r = 0; r < split["data"].size(); ++r) {
    const auto& row = split["data"][r];
    if (!row.is_array() || row.size() != kFraudFeatureColumns) {
      return common::InvalidArgumentError(fmt::format(
          "request.dataframe_split.data[{}]: expected {} numbers", r, kFraudFeatureColumns));
    }
    double z = kBias;
    for (int c = 0; c < kFraudFeatureColumns; ++c) {
      if (!row[c].is_number()) {
        return common::InvalidArgumentError(
            fmt::format("request.dataframe_split.data[{}][{}]: expected a number", r, c));
      }
      // Balances run to tens of thousands: a signed log keeps every feature in play.
      const double x = row[c].get<double>();
      z += kWeights[c] * std::copysign(std::log1p(std::abs(x)), x);
    }
    const double p = 1.0 / (1.0 + std::exp(-z));
    predictions.push_back(std::round(p * 1e6) / 1e6);
  }
  return nlohmann::json{{"predictions", std::move(predictions)}};
}

}  // namespace cmlr::emulator
