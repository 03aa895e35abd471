#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cmlr::emulator {

// The number of feature columns of the walkthrough's fraud classifier.
inline constexpr int kFraudFeatureColumns = 14;

// Scores a model request body {"request": {"dataframe_split": {"columns": [14 names],
// "data": [[14 numbers], ...]}}} with a fixed logistic model over sign(x)*log(1+|x|) of each
// feature: a deterministic fraud probability in (0, 1) per row (rounded to 6 decimals; about
// 0.03 for the walkthrough's row), returned as {"predictions": [p, ...]}. INVALID_ARGUMENT for
// any other shape.
[[nodiscard]] common::StatusOr<nlohmann::json> ScoreFraud(const nlohmann::json& body);

}  // namespace cmlr::emulator
