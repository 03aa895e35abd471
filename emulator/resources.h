#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace cmlr::emulator {

// The objects an emulated CML workspace holds, in memory. Field names follow the wire names of
// cml-apiv2.md section 6.2; wire.h turns them into JSON. Times are UTC.

struct User {
  std::string username;
  std::string name;
  std::string email;
  std::vector<std::string> api_keys;

  bool operator==(const User&) const = default;
};

struct Project {
  std::string public_identifier;
  std::string name;
  std::string owner;  // username

  bool operator==(const Project&) const = default;
};

struct Runtime {
  std::string image_identifier;
  std::string editor;
  std::string kernel;
  std::string edition;
  std::string description;
  std::string full_version;
  std::string status;  // ENABLED, DISABLED, DEPRECATED

  bool operator==(const Runtime&) const = default;
};

// An MLflow run that can be registered (or was) into the model registry.
struct MlflowRun {
  std::string experiment_id;
  std::string run_id;
  std::string model_path;
  std::string project_id;
  std::map<std::string, double> metrics;
  bool broken = false;  // builds of versions registered from it fail
  // How a deployment of a version registered from it answers inference: "" scores, "broken"
  // answers 500, "wrong" answers 200 without predictions.
  std::string inference;
  // Deployments of builds of versions registered from it end "failed" (fixture `deployment:
  // broken`), for tests of failed rollouts.
  bool deployments_fail = false;

  bool operator==(const MlflowRun&) const = default;
};

struct RegisteredModelVersion {
  std::string model_version_id;
  int number = 0;
  std::string username;  // who registered it
  std::string notes;
  common::TimePoint created_at;
  common::TimePoint updated_at;
  std::string status;
  MlflowRun run;
  bool from_fixture = false;  // else registered through the API
  // Under the registration quirk: when PENDING_REGISTRATION becomes READY.
  std::optional<common::TimePoint> ready_at;

  bool operator==(const RegisteredModelVersion&) const = default;
};

struct RegisteredModel {
  std::string model_id;
  std::string name;
  std::string description;
  std::string owner;  // username
  std::string project_id;
  std::string visibility;  // PRIVATE or PUBLIC
  common::TimePoint created_at;
  common::TimePoint updated_at;
  std::vector<RegisteredModelVersion> versions;  // ascending by number
  bool from_fixture = false;                     // else registered through the API

  bool operator==(const RegisteredModel&) const = default;
};

struct DefaultResources {
  std::int64_t cpu_millicores = 0;
  std::int64_t memory_mb = 0;
  std::int64_t nvidia_gpus = 0;

  bool operator==(const DefaultResources&) const = default;
};

struct Model {
  std::string id;
  std::string project_id;
  std::string name;
  std::string description;
  std::string creator;  // username
  std::string access_key;
  std::string crn;
  bool auth_enabled = true;
  std::string registered_model_id;
  std::string visibility;
  DefaultResources default_resources;
  std::int64_t default_num_replicas = 0;
  std::string default_replication_type;
  int run_as = 0;
  std::int64_t accelerator_label_id = 0;
  int resource_group_id = 0;
  int resource_profile_id = 0;
  common::TimePoint created_at;
  common::TimePoint updated_at;

  bool operator==(const Model&) const = default;
};

struct Build {
  std::string id;
  std::string model_id;
  std::string project_id;
  std::string creator;
  std::string comment;
  std::string file_path;
  std::string function_name;
  std::string kernel;
  std::string runtime_identifier;
  std::vector<std::string> runtime_addon_identifiers;
  std::string registered_model_version_id;
  std::string model_root_dir;
  std::string build_script_path;
  std::string crn;
  bool will_fail = false;
  bool succeeded_phase = false;  // goes through "succeeded" before "pushing"
  std::string status;            // queued, pending, pushing, built, build failed
  common::TimePoint created_at;
  common::TimePoint updated_at;
  std::optional<common::TimePoint> built_at;

  bool operator==(const Build&) const = default;
};

struct Deployment {
  std::string id;
  std::string project_id;
  std::string model_id;
  std::string build_id;
  std::string crn;
  std::string deployer;
  double cpu = 0;
  double memory = 0;
  int nvidia_gpus = 0;
  int replicas = 0;
  std::map<std::string, std::string> environment;
  std::int64_t accelerator_label_id = 0;
  int resource_group_id = 0;
  int resource_profile_id = 0;
  std::string status;      // pending, deploying, deployed, stopping, stopped, failed
  bool will_fail = false;  // fails when pending ends (created before its build was built)
  // When the current status began; the next transition is computed from it.
  common::TimePoint phase_started_at;
  common::TimePoint created_at;
  common::TimePoint updated_at;
  std::optional<common::TimePoint> stopped_at;

  bool operator==(const Deployment&) const = default;
};

}  // namespace cmlr::emulator
