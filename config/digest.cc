#include "config/digest.h"

#include <array>
#include <cstdlib>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace cmlr::config {

namespace {

void AppendQuoted(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

void Field(std::string& out, std::string_view name, const std::string& text) {
  out += name;
  out += '=';
  AppendQuoted(out, text);
  out += '\n';
}

template <typename T>
void Number(std::string& out, std::string_view name, T value) {
  out += fmt::format("{}={}\n", name, value);
}

void StringMap(std::string& out, std::string_view name,
               const std::map<std::string, std::string>& map) {
  out += fmt::format("{}#{}\n", name, map.size());
  for (const auto& [key, value] : map) {
    out += name;
    out += '.';
    AppendQuoted(out, key);
    out += '=';
    AppendQuoted(out, value);
    out += '\n';
  }
}

void Verify(std::string& out, const VerifySpec& verify) {
  Field(out, "verify.request", verify.request_json);
  Number(out, "verify.expect.status", verify.expect_status);
  out += fmt::format("verify.expect.responseHas#{}\n", verify.response_has.size());
  for (const std::string& key : verify.response_has) Field(out, "verify.expect.responseHas", key);
  Number(out, "verify.requests", verify.requests);
  Number(out, "verify.timeoutNs", verify.timeout.count());
}

}  // namespace

std::string CanonicalText(const ModelDeploymentSpec& spec) {
  std::string out;
  out.reserve(1024);
  out += fmt::format("{} {}\n", kApiVersion, kKind);
  Field(out, "name", spec.name);
  StringMap(out, "labels", spec.labels);
  Field(out, "projectId", spec.project_id);
  Field(out, "modelName", spec.model_name);
  // An omitted description writes the line it always did (digests of existing specs stay);
  // an explicitly empty one is told apart by a line of its own.
  Field(out, "description", spec.description.value_or(""));
  if (spec.description && spec.description->empty()) out += "description.empty=1\n";
  Number(out, "authentication", spec.authentication);
  const RegisteredModelRef& model = spec.registered_model;
  Field(out, "registeredModel.name", model.name);
  Field(out, "registeredModel.id", model.id);
  if (model.version) Number(out, "registeredModel.version", *model.version);
  if (model.from_experiment_run) {
    Field(out, "registeredModel.fromExperimentRun.experimentId",
          model.from_experiment_run->experiment_id);
    Field(out, "registeredModel.fromExperimentRun.runId", model.from_experiment_run->run_id);
    Field(out, "registeredModel.fromExperimentRun.modelPath",
          model.from_experiment_run->model_path);
  }
  if (const auto* image = std::get_if<std::string>(&spec.runtime)) {
    Field(out, "runtime", *image);
  } else {
    const auto& selector = std::get<RuntimeSelector>(spec.runtime);
    Field(out, "runtime.kernel", selector.kernel);
    Field(out, "runtime.edition", selector.edition);
    Field(out, "runtime.editor", selector.editor);
  }
  Number(out, "resources.cpu", spec.resources.cpu);
  Number(out, "resources.memoryGiB", spec.resources.memory_gib);
  Number(out, "resources.gpus", spec.resources.gpus);
  Number(out, "resources.replicas", spec.resources.replicas);
  StringMap(out, "environment", spec.environment);
  const SyncPolicy& sync = spec.sync;
  Number(out, "sync.selfHeal", sync.self_heal);
  Number(out, "sync.suspend", sync.suspend.suspended);
  Field(out, "sync.suspend.reason", sync.suspend.reason);
  if (sync.suspend.until) {
    Number(out, "sync.suspend.untilNs", sync.suspend.until->time_since_epoch().count());
  }
  Number(out, "sync.buildTimeoutNs", sync.build_timeout.count());
  Number(out, "sync.deployTimeoutNs", sync.deploy_timeout.count());
  Number(out, "sync.maxAttempts", sync.max_attempts);
  // Written only when not the default, so that digests of specs without them stay as they
  // were before these fields existed (a new digest would restart every model's attempts).
  if (!sync.rollback) Number(out, "sync.rollback", sync.rollback);
  if (spec.verify) Verify(out, *spec.verify);
  return out;
}

std::string ComputeDigest(const ModelDeploymentSpec& spec) {
  const std::string text = CanonicalText(spec);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), md.data(), &size, EVP_sha256(), nullptr) != 1) {
    // Only an OpenSSL without SHA-256 gets here; no made-up digest may ever look valid.
    std::abort();
  }
  std::string hex;
  hex.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

}  // namespace cmlr::config
