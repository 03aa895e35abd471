// Fuzz target: arbitrary bytes as one desired-state file, through the loader the daemon and
// `cml-reconciler validate` use for each file (LoadDesiredStateFromText: the hardened YAML
// reader, the validation and normalisation of every document, the checks across documents and
// the snapshot with its digests).
//
// Contract checked: nothing throws or crashes; the result is either a snapshot and no error or
// errors and no snapshot; every error points at a place in the file and says something; every
// model of a snapshot keeps the promises of ModelDeploymentSpec (valid name, bounded resources,
// one registered model reference, one version source, digest of its own canonical text).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/digest.h"
#include "config/load_error.h"
#include "config/loader.h"
#include "config/model_deployment.h"
#include "tests/fuzz/fuzz_check.h"

namespace cmlr::fuzz {
namespace {

constexpr std::string_view kFile = "fuzz.yaml";

void CheckError(const config::LoadError& error) {
  Check(error.file == kFile, "error names another file", error.ToString());
  Check(error.line >= 1 && error.column >= 1, "error position", error.ToString());
  Check(!error.message.empty(), "error without a message", error.ToString());
}

void CheckSpec(const config::ModelDeploymentSpec& spec) {
  const std::string& name = spec.name;
  Check(!name.empty() && name.size() <= static_cast<std::size_t>(config::kMaxNameLength),
        "name length", name);
  Check(!spec.project_id.empty() && !spec.model_name.empty(), "project or model name", name);
  const config::Resources& resources = spec.resources;
  Check(resources.cpu > 0 && resources.cpu <= config::kMaxCpu, "cpu", name);
  Check(resources.memory_gib > 0 && resources.memory_gib <= config::kMaxMemoryGib, "memory", name);
  Check(resources.gpus >= 0 && resources.gpus <= config::kMaxGpus, "gpus", name);
  Check(resources.replicas >= 0 && resources.replicas <= config::kMaxReplicas, "replicas", name);
  const config::RegisteredModelRef& model = spec.registered_model;
  Check(model.name.empty() != model.id.empty(), "registered model name xor id", name);
  Check(model.version.has_value() != model.from_experiment_run.has_value(),
        "version xor fromExperimentRun", name);
  Check(spec.sync.max_attempts >= 1 && spec.sync.max_attempts <= config::kMaxAttempts,
        "maxAttempts", name);
  Check(spec.digest.size() == 64 && spec.digest == config::ComputeDigest(spec), "digest", name);
}

}  // namespace
}  // namespace cmlr::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cmlr::fuzz;  // NOLINT(google-build-using-namespace): the entry point only
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const cmlr::config::LoadResult result =
      cmlr::config::LoadDesiredStateFromText(text, std::string(kFile));
  Check((result.snapshot != nullptr) == result.errors.empty(), "snapshot xor errors");
  for (const cmlr::config::LoadError& error : result.errors) CheckError(error);
  if (result.snapshot == nullptr) return 0;
  for (const auto& [name, spec] : result.snapshot->models()) {
    Check(name == spec.name, "snapshot key", name);
    CheckSpec(spec);
  }
  return 0;
}
