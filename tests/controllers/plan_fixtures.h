#pragma once

// The desired spec and CML observations the planner tests build on (planner_test.cc,
// rollback_test.cc): a fraud-classifier spec, and a CML where its registry version, runtime and
// model exist, to which tests add builds and deployments.

#include <string>

#include "common/time_format.h"
#include "controllers/planner.h"

namespace cmlr::controllers::plan_fixtures {

using std::chrono::minutes;
using std::chrono::seconds;

inline constexpr char kRuntime[] =
    "docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:"
    "2024.02.1-b4";

inline common::TimePoint T0() { return *common::ParseRfc3339("2026-11-27T10:00:00Z"); }

inline config::ModelDeploymentSpec Spec() {
  config::ModelDeploymentSpec spec;
  spec.name = "fraud-classifier";
  spec.project_id = "abcd-1234-efgh-5678";
  spec.model_name = "FraudCLF-endpoint";
  spec.description = "Fraud Detection 2024";
  spec.registered_model = {.name = "FraudCLF-alice", .version = 3};
  spec.runtime = std::string(kRuntime);
  spec.resources = {.cpu = 2, .memory_gib = 4, .gpus = 0, .replicas = 2};
  spec.environment = {{"LOG_LEVEL", "info"}};
  spec.digest = "0123456789abcdef0123456789abcdef";
  return spec;
}

inline api::ModelBuild Build(std::string id, std::string status, common::TimePoint created,
                             std::string comment = "") {
  api::ModelBuild b;
  b.id = std::move(id);
  b.model_id = "m-1";
  b.status = std::move(status);
  b.created_at = created;
  b.runtime_identifier = kRuntime;
  b.registered_model_version_id = "v-3";
  b.comment = comment.empty() ? BuildMarker(Spec()) : comment;
  return b;
}

inline api::ModelDeployment Deployment(std::string id, std::string build_id, std::string status,
                                       common::TimePoint created) {
  api::ModelDeployment d;
  d.id = std::move(id);
  d.model_id = "m-1";
  d.build_id = std::move(build_id);
  d.status = std::move(status);
  d.created_at = created;
  d.cpu = 2;
  d.memory = 4;
  d.replicas = 2;
  d.environment = {{"LOG_LEVEL", "info"}};
  return d;
}

// A model whose registry, runtime and CML model exist and match: builds and deployments are
// added per test.
inline ObservedState Observed() {
  ObservedState o;
  o.registered_model = api::RegisteredModel{.model_id = "rm-1", .name = "FraudCLF-alice"};
  o.version =
      api::RegisteredModelVersion{.model_id = "rm-1", .model_version_id = "v-3", .number = 3};
  o.runtime_identifier = kRuntime;
  o.model = api::Model{.id = "m-1",
                       .name = "FraudCLF-endpoint",
                       .description = "Fraud Detection 2024",
                       .auth_enabled = true};
  return o;
}

inline ObservedState Serving() {
  ObservedState o = Observed();
  o.builds.push_back(Build("b-1", "built", T0() - minutes(20)));
  o.deployments.push_back(Deployment("d-1", "b-1", "deployed", T0() - minutes(10)));
  return o;
}

inline PlanContext At(common::TimePoint now = T0()) { return {.now = now}; }

}  // namespace cmlr::controllers::plan_fixtures
