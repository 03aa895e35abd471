#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "emulator/resources.h"

namespace cmlr::emulator {

// The seed of an emulated workspace: users (with their API keys), projects, runtimes, the
// model registry and the MLflow runs that can still be registered. emulator/fixtures/default.yaml
// documents the YAML shape.
struct Fixture {
  std::vector<User> users;
  std::vector<Project> projects;
  std::vector<Runtime> runtimes;
  std::vector<RegisteredModel> registered_models;
  std::vector<MlflowRun> mlflow_runs;
};

// Parses a fixture. INVALID_ARGUMENT with "SOURCE:LINE:COLUMN: path: message" for malformed
// YAML, unknown keys, wrong types, duplicate ids and references to unknown users or projects.
[[nodiscard]] common::StatusOr<Fixture> ParseFixture(std::string_view yaml,
                                                     std::string_view source_name);

// The compiled-in default fixture (the fraud-classifier walkthrough).
std::string_view DefaultFixtureYaml();

}  // namespace cmlr::emulator
