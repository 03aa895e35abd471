#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "emulator/resources.h"

namespace cmlr::emulator {

// Everything an EmulatorState persists (`--state FILE`). Users are saved without their API keys
// (keys come from flags and the fixture, never from disk).
struct StateSnapshot {
  std::uint64_t seed = 0;
  std::uint64_t id_counter = 0;
  std::vector<User> users;
  std::vector<Project> projects;
  std::vector<Runtime> runtimes;
  std::vector<MlflowRun> mlflow_runs;
  std::vector<RegisteredModel> registered_models;
  std::vector<Model> models;
  std::vector<Build> builds;
  std::vector<Deployment> deployments;

  bool operator==(const StateSnapshot&) const = default;
};

// The format SaveSnapshot writes. Format 1 (flat model defaults, millisecond times) is still
// read; a newer format is refused.
inline constexpr int kStateFormat = 2;

// Every persisted struct is encoded from one field table (persistence.cc), so a field cannot be
// saved without being loaded; the build fails when a struct gains a field the table lacks.
// Times are RFC 3339 with nanoseconds; non-finite doubles are "NaN", "Infinity", "-Infinity".
nlohmann::json SaveSnapshot(const StateSnapshot& snapshot);

// A key missing from the file keeps the field's default (files of older versions load);
// unknown keys are ignored. INVALID_ARGUMENT naming the path ("builds[2].created_at: ...") for
// a wrong type or a malformed time, and for a missing or unsupported "format".
[[nodiscard]] common::StatusOr<StateSnapshot> LoadSnapshot(const nlohmann::json& saved);

}  // namespace cmlr::emulator
