#include "controllers/cml_reader.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace cmlr::controllers {

namespace net = boost::asio;
using common::Status;
using common::StatusOr;

namespace {

api::ListOptions Filter(std::string_view key, const std::string& value) {
  api::ListOptions options;
  options.search_filter[std::string(key)] = value;
  return options;
}

bool IsForbidden(const Status& status) {
  return status.code() == common::StatusCode::kPermissionDenied || status.http_status() == 403;
}

bool IsAbsent(const Status& status) {
  return status.code() == common::StatusCode::kNotFound || IsForbidden(status);
}

template <typename T>
bool Contains(const std::vector<T>& items, const std::string& id) {
  return std::any_of(items.begin(), items.end(), [&](const T& item) { return item.id == id; });
}

// Drops the unseen writes of `kind` that `shown` says a list answer holds.
template <typename Shown>
void DropSeen(ReadMemory* memory, ActionKind kind, Shown shown) {
  if (memory == nullptr) return;
  std::erase_if(memory->unseen,
                [&](const ReadMemory::Created& c) { return c.kind == kind && shown(c); });
}

// The unseen writes of `kind`, for lookup by id.
std::vector<ReadMemory::Created> Unseen(const ReadMemory* memory, ActionKind kind) {
  std::vector<ReadMemory::Created> unseen;
  if (memory == nullptr) return unseen;
  for (const ReadMemory::Created& c : memory->unseen) {
    if (c.kind == kind) unseen.push_back(c);
  }
  return unseen;
}

void Report(ObservedState& observed, const ReadMemory::Created& created, bool found) {
  observed.unseen_writes.push_back(
      {.kind = created.kind, .id = created.id, .created_at = created.at, .found_by_id = found});
}

// A build made from a script (or for a legacy engine) has no registry version or runtime by
// nature; only a registry build lacking them is an incomplete answer.
bool IsScriptBuild(const api::ModelBuild& build) {
  return !build.file_path.empty() || !build.function_name.empty() || !build.kernel.empty();
}

// The field of a running deployment that matching needs and the answer lacks (0 replicas, or
// cpu or memory CML sent as NaN or Infinity), or "".
std::string MissingDeploymentField(const api::ModelDeployment& d) {
  if (!IsRunning(d.status)) return "";
  if (d.replicas == 0) return "replicas";
  if (!std::isfinite(d.cpu)) return "cpu";
  if (!std::isfinite(d.memory)) return "memory";
  return "";
}

std::string MissingBuildField(const api::ModelBuild& build) {
  if (IsScriptBuild(build)) return "";
  if (build.registered_model_version_id.empty()) return "registered_model_version_id";
  if (build.runtime_identifier.empty()) return "runtime_identifier";
  return "";
}

}  // namespace

net::awaitable<StatusOr<ObservedState>> CmlReader::ReadAll(config::ModelDeploymentSpec spec,
                                                           ReadMemory* memory) {
  ObservedState observed;
  CMLR_CO_RETURN_IF_ERROR(co_await ReadRegistry(spec, memory, observed));
  CMLR_CO_RETURN_IF_ERROR(co_await ReadRuntime(spec, observed));
  auto model = co_await ReadModel(spec, memory);
  if (!model.ok()) co_return model.status();
  observed.model = std::move(model->model);
  observed.builds = std::move(model->builds);
  observed.deployments = std::move(model->deployments);
  for (UnseenWrite& unseen : model->unseen_writes) observed.unseen_writes.push_back(unseen);
  if (!observed.incomplete) observed.incomplete = std::move(model->incomplete);
  co_return observed;
}

net::awaitable<StatusOr<ObservedState>> CmlReader::ReadModel(config::ModelDeploymentSpec spec,
                                                             ReadMemory* memory) {
  ObservedState observed;
  CMLR_CO_RETURN_IF_ERROR(co_await FindModel(spec, memory, observed));
  if (!observed.model) co_return observed;
  CMLR_CO_RETURN_IF_ERROR(co_await ReadBuilds(spec, memory, observed));
  CMLR_CO_RETURN_IF_ERROR(co_await ReadDeployments(spec, memory, observed));
  co_return observed;
}

net::awaitable<Status> CmlReader::ReadRegistry(const config::ModelDeploymentSpec& spec,
                                               ReadMemory* memory, ObservedState& observed) {
  const config::RegisteredModelRef& ref = spec.registered_model;
  std::string registry_id = ref.id;
  if (registry_id.empty()) {
    auto listed = co_await client_.ListRegisteredModels(Filter("model_name", ref.name));
    if (!listed.ok()) co_return listed.status().Annotate("list_registered_models");
    for (const api::RegisteredModel& m : *listed) {
      if (m.name == ref.name) registry_id = m.model_id;  // exact: the filter is a substring
    }
  }
  // A registration of ours that the listing does not show yet names its registry model.
  for (const ReadMemory::Created& c : Unseen(memory, ActionKind::kCreateRegisteredModel)) {
    if (registry_id.empty()) registry_id = c.parent_id;
  }
  if (registry_id.empty()) co_return common::OkStatus();
  auto model = co_await client_.GetRegisteredModel(registry_id, api::ListOptions());
  if (!model.ok()) {
    if (IsAbsent(model.status())) co_return common::OkStatus();
    co_return model.status().Annotate("get_registered_model");
  }
  observed.registered_model = std::move(model).value();
  std::vector<api::RegisteredModelVersion>& versions = observed.registered_model->model_versions;
  DropSeen(memory, ActionKind::kCreateRegisteredModel, [&](const ReadMemory::Created& c) {
    return std::any_of(versions.begin(), versions.end(),
                       [&](const auto& v) { return v.model_version_id == c.id; });
  });
  for (const ReadMemory::Created& c : Unseen(memory, ActionKind::kCreateRegisteredModel)) {
    auto version = co_await client_.GetRegisteredModelVersion(c.parent_id, c.id);
    if (!version.ok() && !IsAbsent(version.status())) {
      co_return version.status().Annotate("get_registered_model_version");
    }
    if (version.ok()) versions.push_back(*version);
    Report(observed, c, version.ok());
  }
  if (ref.from_experiment_run) CMLR_CO_RETURN_IF_ERROR(co_await CompleteRunIds(memory, observed));
  for (const api::RegisteredModelVersion& v : versions) {
    const bool match = ref.version ? v.number == *ref.version
                                   : v.model_version_metadata.mlflow_metadata.run_id ==
                                         ref.from_experiment_run->run_id;
    if (match && (!observed.version || v.number > observed.version->number)) observed.version = v;
  }
  co_return common::OkStatus();
}

net::awaitable<Status> CmlReader::CompleteRunIds(ReadMemory* memory, ObservedState& observed) {
  api::RegisteredModel& model = *observed.registered_model;
  for (api::RegisteredModelVersion& v : model.model_versions) {
    std::string& run_id = v.model_version_metadata.mlflow_metadata.run_id;
    if (!run_id.empty() || v.model_version_metadata.mlops_type == "SIMPLE") continue;
    if (memory != nullptr) {
      if (const auto it = memory->version_run_ids.find(v.model_version_id);
          it != memory->version_run_ids.end()) {
        run_id = it->second;
        continue;
      }
    }
    auto full = co_await client_.GetRegisteredModelVersion(model.model_id, v.model_version_id);
    if (!full.ok()) co_return full.status().Annotate("get_registered_model_version");
    run_id = full->model_version_metadata.mlflow_metadata.run_id;
    if (run_id.empty()) {
      observed.incomplete = fmt::format(
          "get_registered_model: version {} ({}) has no model_version_metadata.mlflow_metadata."
          "run_id, in the list or by id",
          v.number, v.model_version_id);
      co_return common::OkStatus();
    }
    if (memory != nullptr) memory->version_run_ids[v.model_version_id] = run_id;
  }
  co_return common::OkStatus();
}

net::awaitable<Status> CmlReader::ReadRuntime(const config::ModelDeploymentSpec& spec,
                                              ObservedState& observed) {
  if (const auto* image = std::get_if<std::string>(&spec.runtime)) {
    observed.runtime_identifier = *image;
    co_return common::OkStatus();
  }
  const auto& selector = std::get<config::RuntimeSelector>(spec.runtime);
  api::ListOptions by_selector;
  by_selector.search_filter = nlohmann::json::object();
  if (!selector.kernel.empty()) by_selector.search_filter["kernel"] = selector.kernel;
  if (!selector.edition.empty()) by_selector.search_filter["edition"] = selector.edition;
  if (!selector.editor.empty()) by_selector.search_filter["editor"] = selector.editor;
  auto runtimes = co_await client_.ListRuntimes(std::move(by_selector));
  if (!runtimes.ok()) co_return runtimes.status().Annotate("list_runtimes");
  if (auto runtime = ResolveRuntime(selector, *runtimes)) {
    observed.runtime_identifier = runtime->image_identifier;
  }
  co_return common::OkStatus();
}

net::awaitable<Status> CmlReader::FindModel(const config::ModelDeploymentSpec& spec,
                                            ReadMemory* memory, ObservedState& observed) {
  auto models = co_await client_.ListModels(spec.project_id, Filter("name", spec.model_name));
  if (!models.ok()) co_return models.status().Annotate("list_models");
  for (api::Model& m : *models) {
    if (m.name == spec.model_name) observed.model = std::move(m);
  }
  DropSeen(memory, ActionKind::kCreateModel,
           [&](const ReadMemory::Created& c) { return Contains(*models, c.id); });
  for (const ReadMemory::Created& c : Unseen(memory, ActionKind::kCreateModel)) {
    auto model = co_await client_.GetModel(spec.project_id, c.id);
    if (!model.ok() && !IsAbsent(model.status())) co_return model.status().Annotate("get_model");
    const bool found = model.ok() && model->name == spec.model_name;
    if (found && !observed.model) observed.model = std::move(model).value();
    Report(observed, c, found);
  }
  co_return common::OkStatus();
}

net::awaitable<Status> CmlReader::ReadBuilds(const config::ModelDeploymentSpec& spec,
                                             ReadMemory* memory, ObservedState& observed) {
  const std::string& model_id = observed.model->id;
  auto builds = co_await client_.ListModelBuilds(spec.project_id, model_id, api::ListOptions());
  if (!builds.ok()) co_return builds.status().Annotate("list_model_builds");
  observed.builds = std::move(builds).value();
  DropSeen(memory, ActionKind::kCreateBuild,
           [&](const ReadMemory::Created& c) { return Contains(observed.builds, c.id); });
  for (const ReadMemory::Created& c : Unseen(memory, ActionKind::kCreateBuild)) {
    if (c.parent_id != model_id) continue;
    auto build = co_await GetBuild(spec.project_id, model_id, c.id);
    if (!build.ok() && !IsAbsent(build.status())) co_return build.status();
    if (build.ok()) observed.builds.push_back(*build);
    Report(observed, c, build.ok());
  }
  co_return co_await CompleteBuilds(spec, memory, observed);
}

net::awaitable<Status> CmlReader::CompleteBuilds(const config::ModelDeploymentSpec& spec,
                                                 ReadMemory* memory, ObservedState& observed) {
  std::map<std::string, ReadMemory::BuildIdentity> known;
  for (api::ModelBuild& b : observed.builds) {
    if (MissingBuildField(b).empty()) continue;
    const ReadMemory::BuildIdentity* remembered = nullptr;
    if (memory != nullptr) {
      const auto it = memory->build_identities.find(b.id);
      if (it != memory->build_identities.end()) remembered = &it->second;
    }
    if (remembered != nullptr) {
      b.registered_model_version_id = remembered->registered_model_version_id;
      b.runtime_identifier = remembered->runtime_identifier;
    } else {
      auto full = co_await GetBuild(spec.project_id, observed.model->id, b.id);
      if (!full.ok()) co_return full.status();
      if (const std::string missing = MissingBuildField(*full); !missing.empty()) {
        observed.incomplete = fmt::format(
            "list_model_builds: build {} has no {}, in the list or from get_model_build", b.id,
            missing);
        co_return common::OkStatus();
      }
      b.registered_model_version_id = full->registered_model_version_id;
      b.runtime_identifier = full->runtime_identifier;
    }
    known[b.id] = {b.registered_model_version_id, b.runtime_identifier};
  }
  // Only builds CML still lists are worth remembering.
  if (memory != nullptr) memory->build_identities = std::move(known);
  co_return common::OkStatus();
}

net::awaitable<Status> CmlReader::ReadDeployments(const config::ModelDeploymentSpec& spec,
                                                  ReadMemory* memory, ObservedState& observed) {
  const std::string& model_id = observed.model->id;
  for (const api::ModelBuild& build : observed.builds) {
    // A failed build never had a deployment; every other one may have.
    if (ClassifyBuild(build.status) == BuildPhase::kFailed) continue;
    auto listed = co_await client_.ListModelDeployments(spec.project_id, model_id, build.id,
                                                        api::ListOptions());
    if (!listed.ok()) co_return listed.status().Annotate("list_model_deployments");
    DropSeen(memory, ActionKind::kCreateDeployment,
             [&](const ReadMemory::Created& c) { return Contains(*listed, c.id); });
    for (const ReadMemory::Created& c : Unseen(memory, ActionKind::kCreateDeployment)) {
      if (c.parent_id != build.id) continue;
      auto deployment = co_await GetDeployment(spec.project_id, model_id, build.id, c.id);
      if (!deployment.ok() && !IsAbsent(deployment.status())) co_return deployment.status();
      if (deployment.ok()) listed->push_back(*deployment);
      Report(observed, c, deployment.ok());
    }
    for (api::ModelDeployment& d : *listed) {
      if (d.build_id.empty()) d.build_id = build.id;  // the listing was per build
      if (!MissingDeploymentField(d).empty()) {
        auto full = co_await GetDeployment(spec.project_id, model_id, build.id, d.id);
        if (!full.ok()) co_return full.status();
        if (const std::string missing = MissingDeploymentField(*full); !missing.empty()) {
          observed.incomplete = fmt::format(
              "list_model_deployments: running deployment {} has no usable {}, in the list or "
              "from get_model_deployment",
              d.id, missing);
        }
        d.replicas = full->replicas;
        d.cpu = full->cpu;
        d.memory = full->memory;
      }
      observed.deployments.push_back(std::move(d));
    }
  }
  co_return common::OkStatus();
}

net::awaitable<StatusOr<api::ModelBuild>> CmlReader::GetBuild(std::string project_id,
                                                              std::string model_id,
                                                              std::string build_id) {
  auto build = co_await client_.GetModelBuild(project_id, model_id, build_id);
  if (build.ok() || !IsForbidden(build.status())) {
    if (!build.ok()) co_return build.status().Annotate("get_model_build");
    co_return build;
  }
  auto listed = co_await client_.ListModelBuilds(project_id, model_id, api::ListOptions());
  if (listed.ok() && !Contains(*listed, build_id)) {
    co_return common::NotFoundError(
        fmt::format("get_model_build: build {} answered 403 and is not listed", build_id));
  }
  co_return build.status().Annotate("get_model_build");
}

net::awaitable<StatusOr<api::ModelDeployment>> CmlReader::GetDeployment(std::string project_id,
                                                                        std::string model_id,
                                                                        std::string build_id,
                                                                        std::string deployment_id) {
  auto deployment =
      co_await client_.GetModelDeployment(project_id, model_id, build_id, deployment_id);
  if (deployment.ok()) co_return deployment;
  co_return co_await ExplainForbidden(deployment.status().Annotate("get_model_deployment"),
                                      project_id, model_id, build_id, deployment_id);
}

net::awaitable<Status> CmlReader::ExplainForbidden(Status forbidden, std::string project_id,
                                                   std::string model_id, std::string build_id,
                                                   std::string deployment_id) {
  if (!IsForbidden(forbidden)) co_return forbidden;
  auto listed =
      co_await client_.ListModelDeployments(project_id, model_id, build_id, api::ListOptions());
  if (listed.ok() && !Contains(*listed, deployment_id)) {
    co_return common::NotFoundError(
        fmt::format("deployment {} answered 403 and is not listed: it is gone", deployment_id));
  }
  co_return forbidden;
}

}  // namespace cmlr::controllers
