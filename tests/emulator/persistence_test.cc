#include "emulator/persistence.h"

#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/time_format.h"
#include "emulator/emulator_state.h"

namespace cmlr::emulator {
namespace {

using nlohmann::json;

common::TimePoint Time(const char* text) { return *common::ParseRfc3339(text); }

MlflowRun FilledRun(const std::string& suffix) {
  return MlflowRun{.experiment_id = "exp-" + suffix,
                   .run_id = "run-" + suffix,
                   .model_path = "artifacts/" + suffix,
                   .project_id = "proj-1",
                   .metrics = {{"auc", 0.9}, {"loss", std::numeric_limits<double>::infinity()}},
                   .broken = true,
                   .inference = "wrong",
                   .deployments_fail = true};
}

// Every field of every persisted struct set to a value other than its default (the test below
// checks that, so a new field must be filled here too).
StateSnapshot FilledSnapshot() {
  const auto t1 = Time("2026-02-03T04:05:06.123456789Z");
  const auto t2 = Time("2026-02-04T00:00:00.5Z");
  StateSnapshot s{.seed = 0xfedcba9876543210ULL, .id_counter = 77};
  s.users = {User{.username = "alice", .name = "Alice", .email = "a@example.com"}};
  s.projects = {Project{.public_identifier = "proj-1", .name = "fraud", .owner = "alice"}};
  s.runtimes = {Runtime{.image_identifier = "img:1",
                        .editor = "Workbench",
                        .kernel = "Python 3.9",
                        .edition = "Standard",
                        .description = "d",
                        .full_version = "1.0",
                        .status = "ENABLED"}};
  s.mlflow_runs = {FilledRun("free")};
  s.registered_models = {
      RegisteredModel{.model_id = "rm-1",
                      .name = "FraudCLF",
                      .description = "registry",
                      .owner = "alice",
                      .project_id = "proj-1",
                      .visibility = "PUBLIC",
                      .created_at = t1,
                      .updated_at = t2,
                      .versions = {RegisteredModelVersion{.model_version_id = "rv-1",
                                                          .number = 3,
                                                          .username = "alice",
                                                          .notes = "n",
                                                          .created_at = t1,
                                                          .updated_at = t2,
                                                          .status = "READY",
                                                          .run = FilledRun("v1"),
                                                          .from_fixture = true,
                                                          .ready_at = t2}},
                      .from_fixture = true}};
  s.models = {
      Model{.id = "m-1",
            .project_id = "proj-1",
            .name = "endpoint",
            .description = "desc",
            .creator = "alice",
            .access_key = "key",
            .crn = "crn:m",
            .auth_enabled = true,
            .registered_model_id = "rm-1",
            .visibility = "private",
            .default_resources = {.cpu_millicores = 500, .memory_mb = 2048, .nvidia_gpus = 1},
            .default_num_replicas = 2,
            .default_replication_type = "fixed",
            .run_as = 9,
            .accelerator_label_id = 1LL << 40,
            .resource_group_id = 4,
            .resource_profile_id = 5,
            .created_at = t1,
            .updated_at = t2}};
  s.builds = {Build{.id = "b-1",
                    .model_id = "m-1",
                    .project_id = "proj-1",
                    .creator = "alice",
                    .comment = "c",
                    .file_path = "f.py",
                    .function_name = "predict",
                    .kernel = "python3",
                    .runtime_identifier = "img:1",
                    .runtime_addon_identifiers = {"addon"},
                    .registered_model_version_id = "rv-1",
                    .model_root_dir = "root",
                    .build_script_path = "build.sh",
                    .crn = "crn:b",
                    .will_fail = true,
                    .succeeded_phase = true,
                    .status = "built",
                    .created_at = t1,
                    .updated_at = t2,
                    .built_at = t2}};
  s.deployments = {Deployment{.id = "d-1",
                              .project_id = "proj-1",
                              .model_id = "m-1",
                              .build_id = "b-1",
                              .crn = "crn:d",
                              .deployer = "alice",
                              .cpu = 1.5,
                              .memory = 4,
                              .nvidia_gpus = 1,
                              .replicas = 2,
                              .environment = {{"A", "b"}},
                              .accelerator_label_id = 3,
                              .resource_group_id = 6,
                              .resource_profile_id = 7,
                              .status = "stopped",
                              .will_fail = true,
                              .phase_started_at = t2,
                              .created_at = t1,
                              .updated_at = t2,
                              .stopped_at = t2}};
  return s;
}

// Appends the path of every null, "", 0, false, [] or {} inside `value`.
void FindZeroValues(const json& value, const std::string& path, std::vector<std::string>& out) {
  const bool zero = value.is_null() || (value.is_string() && value.get<std::string>().empty()) ||
                    (value.is_boolean() && !value.get<bool>()) ||
                    (value.is_number() && value.get<double>() == 0) ||
                    (value.is_structured() && value.empty());
  if (zero) out.push_back(path);
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) FindZeroValues(item, path + "." + key, out);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      FindZeroValues(value[i], path + "[" + std::to_string(i) + "]", out);
    }
  }
}

EmulatorState EmptyState() { return EmulatorState(Fixture{}, Timings{}, 1, common::TimePoint{}); }

// Verifies that a snapshot with every field set survives save and load exactly (nanosecond
// times and infinite metrics included), through the codec and through an EmulatorState.
TEST(PersistenceTest, RoundTripsEveryField) {
  const StateSnapshot filled = FilledSnapshot();
  const json saved = SaveSnapshot(filled);
  std::vector<std::string> zero_paths;
  FindZeroValues(saved, "state", zero_paths);
  EXPECT_TRUE(zero_paths.empty()) << "fill these in FilledSnapshot(): "
                                  << ::testing::PrintToString(zero_paths);
  EXPECT_EQ(saved["format"], kStateFormat);
  EXPECT_EQ(saved["models"][0]["created_at"], "2026-02-03T04:05:06.123456789Z");

  const auto loaded = LoadSnapshot(json::parse(saved.dump()));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(*loaded == filled);
  EXPECT_EQ(SaveSnapshot(*loaded), saved);

  EmulatorState state = EmptyState();
  ASSERT_TRUE(state.Restore(saved).ok());
  EXPECT_TRUE(state.Snapshot() == filled);
  EXPECT_EQ(state.Save(), saved);
}

// Verifies that a restore keeps the API keys configured now and never reads keys from the file.
TEST(PersistenceTest, KeepsConfiguredApiKeys) {
  EmulatorState state(Fixture{.users = {User{.username = "alice"}}}, Timings{}, 1,
                      common::TimePoint{});
  state.AddApiKey("flag-key", "alice");
  json saved = SaveSnapshot(FilledSnapshot());
  saved["users"][0]["api_keys"] = {"stolen-key"};
  ASSERT_TRUE(state.Restore(saved).ok());
  ASSERT_NE(state.FindUserByKey("flag-key"), nullptr);
  EXPECT_EQ(state.FindUserByKey("flag-key")->email, "a@example.com");
  EXPECT_EQ(state.FindUserByKey("stolen-key"), nullptr);
  EXPECT_TRUE(state.Snapshot().users[0].api_keys.empty());
}

// Verifies that a state file of format 1 (flat model defaults, millisecond times, null optional
// times) is still read.
TEST(PersistenceTest, ReadsFormatOne) {
  const json old = json::parse(R"({
    "format": 1, "seed": 5, "id_counter": 9,
    "users": [{"username": "alice", "name": "Alice", "email": "a@example.com"}],
    "projects": [], "runtimes": [], "mlflow_runs": [], "registered_models": [],
    "models": [{"id": "m", "project_id": "p", "name": "n", "description": "", "creator": "alice",
                "access_key": "k", "crn": "c", "auth_enabled": true, "registered_model_id": "",
                "visibility": "private", "cpu_millicores": 500, "memory_mb": 1024,
                "default_nvidia_gpus": 1, "default_num_replicas": 2,
                "default_replication_type": "fixed", "run_as": 0, "accelerator_label_id": 0,
                "resource_group_id": 0, "resource_profile_id": 0,
                "created_at": "2026-01-01T00:00:00.250Z", "updated_at": "2026-01-01T00:00:00.250Z"}],
    "builds": [{"id": "b", "model_id": "m", "project_id": "p", "creator": "alice", "comment": "",
                "file_path": "", "function_name": "", "kernel": "", "runtime_identifier": "img",
                "runtime_addon_identifiers": [], "registered_model_version_id": "v", "model_root_dir": "",
                "build_script_path": "", "crn": "c", "will_fail": false, "status": "queued",
                "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
                "built_at": null}],
    "deployments": []})");
  const auto loaded = LoadSnapshot(old);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->seed, 5u);
  ASSERT_EQ(loaded->models.size(), 1u);
  EXPECT_EQ(loaded->models[0].default_resources,
            (DefaultResources{.cpu_millicores = 500, .memory_mb = 1024, .nvidia_gpus = 1}));
  EXPECT_EQ(loaded->models[0].created_at, Time("2026-01-01T00:00:00.250Z"));
  ASSERT_EQ(loaded->builds.size(), 1u);
  EXPECT_FALSE(loaded->builds[0].built_at.has_value());
}

// Verifies that a newer or missing format is refused with a message that says so, that a bad
// value is named by its path, and that a refused file leaves the state as it was.
TEST(PersistenceTest, RefusesUnknownFormatsAndNamesBadFields) {
  json saved = SaveSnapshot(FilledSnapshot());
  json newer = saved;
  newer["format"] = kStateFormat + 1;
  const auto refused = LoadSnapshot(newer);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("not supported"), std::string::npos);
  json unformatted = saved;
  unformatted.erase("format");
  EXPECT_FALSE(LoadSnapshot(unformatted).ok());

  json bad_time = saved;
  bad_time["builds"][0]["created_at"] = "yesterday";
  const auto time_error = LoadSnapshot(bad_time);
  ASSERT_FALSE(time_error.ok());
  EXPECT_NE(time_error.status().message().find("builds[0].created_at"), std::string::npos)
      << time_error.status();
  json bad_type = saved;
  bad_type["deployments"][0]["replicas"] = "two";
  const auto type_error = LoadSnapshot(bad_type);
  ASSERT_FALSE(type_error.ok());
  EXPECT_NE(type_error.status().message().find("deployments[0].replicas"), std::string::npos);

  EmulatorState state = EmptyState();
  ASSERT_TRUE(state.Restore(saved).ok());
  EXPECT_FALSE(state.Restore(bad_type).ok());
  EXPECT_TRUE(state.Snapshot() == FilledSnapshot());
}

}  // namespace
}  // namespace cmlr::emulator
