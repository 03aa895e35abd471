#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.h"

namespace cmlr::config {

// The document header every desired-state document carries (design section 3).
inline constexpr std::string_view kApiVersion = "cml-reconciler/v1";
inline constexpr std::string_view kKind = "ModelDeployment";

// Bounds that catch absurd values. Memory is in GiB.
inline constexpr double kMaxCpu = 256;
inline constexpr double kMaxMemoryGib = 2048;
inline constexpr int kMaxGpus = 16;
inline constexpr int kMaxReplicas = 100;
inline constexpr int kMaxAttempts = 100;
inline constexpr int kMaxNameLength = 63;
inline constexpr int kMaxVerifyRequests = 20;
inline constexpr std::size_t kMaxVerifyRequestBytes = 64 * 1024;  // verify.request as JSON

// A runtime chosen by its properties; the reconciler resolves it to the newest ENABLED runtime
// that matches. An empty field matches anything; at least one field is set.
struct RuntimeSelector {
  std::string kernel;   // "Python 3.9"
  std::string edition;  // "Standard"
  std::string editor;   // "Workbench"

  friend bool operator==(const RuntimeSelector&, const RuntimeSelector&) = default;
};

// The MLflow run to register a model version from, when no version carries this run id.
struct ExperimentRunSource {
  std::string experiment_id;
  std::string run_id;
  std::string model_path;

  friend bool operator==(const ExperimentRunSource&, const ExperimentRunSource&) = default;
};

// What to serve. Exactly one of `name` and `id` is non-empty; exactly one of `version` and
// `from_experiment_run` is set.
struct RegisteredModelRef {
  std::string name;
  std::string id;
  std::optional<int> version;
  std::optional<ExperimentRunSource> from_experiment_run;

  friend bool operator==(const RegisteredModelRef&, const RegisteredModelRef&) = default;
};

struct Resources {
  double cpu = 0;         // vCPU, 0 < cpu <= kMaxCpu
  double memory_gib = 0;  // 0 < memory_gib <= kMaxMemoryGib ("512Mi" is 0.5)
  int gpus = 0;
  int replicas = 1;  // 0 = keep the model and its build, serve nothing

  friend bool operator==(const Resources&, const Resources&) = default;
};

struct Suspend {
  bool suspended = false;
  std::string reason;
  std::optional<common::TimePoint> until;  // suspended until then (UTC), when set

  friend bool operator==(const Suspend&, const Suspend&) = default;
};

struct SyncPolicy {
  bool self_heal = true;
  Suspend suspend;
  common::Duration build_timeout = std::chrono::minutes(30);
  common::Duration deploy_timeout = std::chrono::minutes(15);
  int max_attempts = 3;
  // On a failed rollout (maxAttempts, deployTimeout, failed verification) keep or restore the
  // last good deployment (design 4b).
  bool rollback = true;

  friend bool operator==(const SyncPolicy&, const SyncPolicy&) = default;
};

// Post-deploy verification (design 4b). The request is kept as canonical JSON text.
struct VerifySpec {
  std::string request_json;               // verify.request as compact JSON, keys sorted
  int expect_status = 200;                // expect.status, 100..599
  std::vector<std::string> response_has;  // expect.responseHas: keys (a dotted path "a.b"
                                          // allowed) under the answer's "response"; sorted,
                                          // without repeats
  int requests = 1;                       // 1..kMaxVerifyRequests
  common::Duration timeout = std::chrono::seconds(30);  // per request, 1s..10m
  friend bool operator==(const VerifySpec&, const VerifySpec&) = default;
};

// One desired model, validated and normalised (units converted, defaults filled), so that two
// documents meaning the same thing give equal specs and equal digests.
struct ModelDeploymentSpec {
  std::string name;  // metadata.name: [a-z0-9-], 1..63, alphanumeric at both ends
  std::map<std::string, std::string> labels;
  std::string project_id;
  std::string model_name;  // defaults to name
  // Managed only when given: an omitted description leaves the CML model's alone.
  std::optional<std::string> description;
  bool authentication = true;
  RegisteredModelRef registered_model;
  std::variant<std::string, RuntimeSelector> runtime;  // image identifier or selector
  Resources resources;
  std::map<std::string, std::string> environment;
  std::optional<VerifySpec> verify;
  SyncPolicy sync;
  // Hex SHA-256 of the canonical normalised spec (see digest.h): the model's generation.
  std::string digest;
  // "FILE:LINE" of the document, for messages. Not part of the digest.
  std::string source;

  friend bool operator==(const ModelDeploymentSpec&, const ModelDeploymentSpec&) = default;
};

}  // namespace cmlr::config
