#include "tests/fakes/fake_cml_client.h"

#include <algorithm>
#include <utility>

namespace cmlr::testing {

namespace net = boost::asio;
using api::ListOptions;
using common::Status;
using common::StatusOr;

namespace {

using Fields = std::map<std::string, std::string>;

// CML's search_filter: every documented key present in the filter must be a substring of the
// item's field (case-sensitive). Keys the item does not have are ignored.
bool Matches(const nlohmann::json& filter, const Fields& fields) {
  if (!filter.is_object()) return true;
  for (const auto& [key, value] : filter.items()) {
    const auto it = fields.find(key);
    if (it == fields.end()) continue;
    const std::string wanted = value.is_string() ? value.get<std::string>() : value.dump();
    if (it->second.find(wanted) == std::string::npos) return false;
  }
  return true;
}

Fields RuntimeFields(const api::Runtime& r) {
  return {{"image_identifier", r.image_identifier},
          {"editor", r.editor},
          {"kernel", r.kernel},
          {"edition", r.edition},
          {"description", r.description},
          {"full_version", r.full_version}};
}

Fields ModelFields(const api::Model& m) {
  return {{"name", m.name},
          {"description", m.description},
          {"auth_enabled", m.auth_enabled ? "t" : "f"},
          {"creator.username", m.creator.username}};
}

Fields BuildFields(const api::ModelBuild& b) {
  return {{"comment", b.comment}, {"status", b.status}, {"crn", b.crn}};
}

bool IsRunning(const std::string& status) { return status != "stopped" && status != "failed"; }

}  // namespace

FakeCmlClient::FakeCmlClient(common::Clock& clock, FakeCmlOptions options)
    : clock_(clock), options_(options) {}

std::string FakeCmlClient::NextId(std::string_view prefix) {
  return std::string(prefix) + "-" + std::to_string(next_id_++);
}

void FakeCmlClient::AddRuntime(api::Runtime runtime) { runtimes_.push_back(std::move(runtime)); }

api::RegisteredModel FakeCmlClient::AddRegisteredModel(api::RegisteredModel model) {
  if (model.model_id.empty()) model.model_id = NextId("rm");
  for (auto& version : model.model_versions) {
    if (version.model_version_id.empty()) version.model_version_id = NextId("rmv");
    version.model_id = model.model_id;
  }
  model.count = static_cast<std::int32_t>(model.model_versions.size());
  registered_.push_back(model);
  return model;
}

void FakeCmlClient::MarkVersionBroken(std::string model_version_id) {
  broken_versions_.insert(std::move(model_version_id));
}

void FakeCmlClient::MarkVersionUndeployable(std::string model_version_id) {
  undeployable_versions_.insert(std::move(model_version_id));
}

void FakeCmlClient::FailNext(std::string_view operation, Status status) {
  injected_[std::string(operation)].push_back(Injected{.status = std::move(status)});
}

void FakeCmlClient::LoseNextAnswer(std::string_view operation) {
  injected_[std::string(operation)].push_back(
      Injected{.status = common::UnavailableError(std::string(operation) +
                                                  ": connection reset; the outcome is unknown")
                             .WithOutcomeUnknown(),
               .apply = true});
}

void FakeCmlClient::SetDeploymentStatus(const std::string& deployment_id, std::string status) {
  Advance();
  for (auto& stored : deployments_) {
    if (stored.deployment.id != deployment_id) continue;
    stored.forced_status = status;
    stored.deployment.status = std::move(status);
    stored.deployment.updated_at = clock_.Now();
    if (stored.forced_status == "stopped") stored.deployment.stopped_at = clock_.Now();
  }
}

void FakeCmlClient::SetModelDescription(const std::string& model_id, std::string description) {
  for (auto& stored : models_) {
    if (stored.model.id != model_id) continue;
    stored.model.description = description;
    stored.model.updated_at = clock_.Now();
  }
}

int FakeCmlClient::calls(std::string_view operation) const {
  const auto it = calls_.find(operation);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<api::Model> FakeCmlClient::models(const std::string& project_id) {
  std::vector<api::Model> out;
  for (const auto& stored : models_) {
    if (stored.project_id == project_id) out.push_back(stored.model);
  }
  return out;
}

std::vector<api::ModelBuild> FakeCmlClient::builds(const std::string& model_id) {
  Advance();
  std::vector<api::ModelBuild> out;
  for (const auto& stored : builds_) {
    if (stored.build.model_id == model_id) out.push_back(stored.build);
  }
  return out;
}

std::vector<api::ModelDeployment> FakeCmlClient::deployments(const std::string& model_id) {
  Advance();
  std::vector<api::ModelDeployment> out;
  for (const auto& stored : deployments_) {
    if (stored.deployment.model_id == model_id) out.push_back(stored.deployment);
  }
  return out;
}

std::optional<FakeCmlClient::Injected> FakeCmlClient::Begin(std::string_view operation,
                                                            bool write) {
  ++total_calls_;
  ++calls_[std::string(operation)];
  if (write) ++writes_;
  Advance();
  const auto it = injected_.find(operation);
  if (it == injected_.end() || it->second.empty()) return std::nullopt;
  Injected injected = std::move(it->second.front());
  it->second.pop_front();
  return injected;
}

Status FakeCmlClient::End(std::string_view operation, Status status) {
  if (observer_) {
    observer_(api::CallRecord{.operation = operation,
                              .http_status = status.ok() ? 200 : status.http_status(),
                              .duration = common::Duration::zero(),
                              .status = status});
  }
  return status;
}

void FakeCmlClient::EndOk(std::string_view operation) { (void)End(operation, Status()); }

bool FakeCmlClient::Listed(const std::optional<common::TimePoint>& created_at) const {
  return !created_at || *created_at + quirks_.list_lag <= clock_.Now();
}

Status FakeCmlClient::NotFound(std::string_view operation, std::string_view what,
                               const std::string& id) const {
  if (quirks_.forbidden_for_missing) {
    return common::PermissionDeniedError(std::string(operation) + ": HTTP 403: permission denied")
        .WithHttpStatus(403);
  }
  return common::NotFoundError(std::string(operation) + ": HTTP 404: " + std::string(what) + " " +
                               id + " not found")
      .WithHttpStatus(404);
}

void FakeCmlClient::Advance() {
  const common::TimePoint now = clock_.Now();
  for (auto& stored : builds_) {
    api::ModelBuild& build = stored.build;
    if (build.status == "built" || build.status == "build failed") continue;
    const common::Duration elapsed = now - *build.created_at;
    const common::Duration total = options_.build_duration;
    if (elapsed >= total) {
      const bool broken = broken_versions_.contains(build.registered_model_version_id);
      build.status = broken ? "build failed" : "built";
      build.built_at = *build.created_at + total;
      build.updated_at = build.built_at;
    } else {
      build.status = elapsed * 3 < total       ? "queued"
                     : elapsed * 3 < total * 2 ? "pending"
                                               : "pushing";
    }
  }

  // Deployments reaching "deployed", in time order; each stops the model's other running ones
  // that had started by then.
  std::vector<std::pair<common::TimePoint, std::size_t>> ready;
  for (std::size_t i = 0; i < deployments_.size(); ++i) {
    const StoredDeployment& stored = deployments_[i];
    const common::TimePoint at = stored.started_at + options_.deploy_duration;
    if (stored.forced_status.empty() && stored.deployment.status != "deployed" && at <= now) {
      ready.emplace_back(at, i);
    }
  }
  std::sort(ready.begin(), ready.end());
  for (const auto& [at, index] : ready) {
    StoredDeployment& winner = deployments_[index];
    if (!winner.forced_status.empty()) continue;
    const StoredBuild* build = FindBuild(winner.deployment.model_id, winner.deployment.build_id);
    if (build != nullptr &&
        undeployable_versions_.contains(build->build.registered_model_version_id)) {
      winner.forced_status = "failed";
      winner.deployment.updated_at = at;
      continue;
    }
    winner.deployment.status = "deployed";
    winner.deployment.updated_at = at;
    for (std::size_t j = 0; j < deployments_.size(); ++j) {
      StoredDeployment& other = deployments_[j];
      if (j == index || other.deployment.model_id != winner.deployment.model_id) continue;
      if (other.started_at >= at || !IsRunning(other.deployment.status)) continue;
      if (!other.forced_status.empty() && !IsRunning(other.forced_status)) continue;
      other.forced_status = "stopped";
      other.deployment.status = "stopped";
      other.deployment.stopped_at = at;
      other.deployment.updated_at = at;
    }
  }
  for (auto& stored : deployments_) {
    if (!stored.forced_status.empty()) {
      stored.deployment.status = stored.forced_status;
    } else if (stored.deployment.status != "deployed") {
      stored.deployment.status =
          (now - stored.started_at) * 2 < options_.deploy_duration ? "pending" : "deploying";
    }
  }
}

FakeCmlClient::StoredModel* FakeCmlClient::FindModel(const std::string& project_id,
                                                     const std::string& model_id) {
  for (auto& stored : models_) {
    if (stored.project_id == project_id && stored.model.id == model_id) return &stored;
  }
  return nullptr;
}

FakeCmlClient::StoredBuild* FakeCmlClient::FindBuild(const std::string& model_id,
                                                     const std::string& build_id) {
  for (auto& stored : builds_) {
    if (stored.build.model_id == model_id && stored.build.id == build_id) return &stored;
  }
  return nullptr;
}

FakeCmlClient::StoredDeployment* FakeCmlClient::FindDeployment(const std::string& build_id,
                                                               const std::string& deployment_id) {
  for (auto& stored : deployments_) {
    if (stored.deployment.build_id == build_id && stored.deployment.id == deployment_id) {
      return &stored;
    }
  }
  return nullptr;
}

api::RegisteredModel* FakeCmlClient::FindRegistered(const std::string& model_id) {
  for (auto& model : registered_) {
    if (model.model_id == model_id) return &model;
  }
  return nullptr;
}

FakeCmlClient::Result<api::ValidateApiKeyResponse> FakeCmlClient::ValidateApiKey(
    api::ValidateApiKeyRequest) {
  constexpr std::string_view kOp = "validate_api_key";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return api::ValidateApiKeyResponse{.valid = true, .username = "fake-user"};
}

FakeCmlClient::Result<std::vector<api::Runtime>> FakeCmlClient::ListRuntimes(ListOptions options) {
  constexpr std::string_view kOp = "list_runtimes";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  std::vector<api::Runtime> out;
  for (const auto& runtime : runtimes_) {
    if (Matches(options.search_filter, RuntimeFields(runtime))) out.push_back(runtime);
  }
  EndOk(kOp);
  co_return out;
}

FakeCmlClient::Result<std::vector<api::RegisteredModel>> FakeCmlClient::ListRegisteredModels(
    ListOptions options) {
  constexpr std::string_view kOp = "list_registered_models";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  std::vector<api::RegisteredModel> out;
  for (const auto& model : registered_) {
    if (!Matches(options.search_filter, {{"model_name", model.name}})) continue;
    api::RegisteredModel item = model;
    item.model_versions.clear();  // list items are RegisteredModelDetails
    out.push_back(std::move(item));
  }
  EndOk(kOp);
  co_return out;
}

FakeCmlClient::Result<api::RegisteredModel> FakeCmlClient::GetRegisteredModel(
    std::string model_id, ListOptions version_options) {
  constexpr std::string_view kOp = "get_registered_model";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  api::RegisteredModel* model = FindRegistered(model_id);
  if (model == nullptr) co_return End(kOp, NotFound(kOp, "registered model", model_id));
  api::RegisteredModel out = *model;
  out.model_versions.clear();
  for (const auto& version : model->model_versions) {
    if (Listed(version.created_at) &&
        Matches(version_options.search_filter,
                {{"version_number", std::to_string(version.number)}})) {
      out.model_versions.push_back(version);
      if (quirks_.sparse_lists) out.model_versions.back().model_version_metadata = {};
    }
  }
  EndOk(kOp);
  co_return out;
}

FakeCmlClient::Result<api::RegisteredModel> FakeCmlClient::CreateRegisteredModel(
    api::CreateRegisteredModelRequest request) {
  constexpr std::string_view kOp = "create_registered_model";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  api::RegisteredModel* model = nullptr;
  for (auto& existing : registered_) {
    if (existing.name == request.model_name) model = &existing;
  }
  if (model == nullptr) {
    registered_.push_back(api::RegisteredModel{
        .model_id = NextId("rm"),
        .name = request.model_name,
        .description = request.description,
        .visibility = request.visibility.empty() ? "PRIVATE" : request.visibility,
        .created_at = clock_.Now(),
        .updated_at = clock_.Now()});
    model = &registered_.back();
  }
  std::int32_t number = 0;
  for (const auto& version : model->model_versions) number = std::max(number, version.number);
  api::RegisteredModelVersion version{.model_id = model->model_id,
                                      .model_version_id = NextId("rmv"),
                                      .number = number + 1,
                                      .notes = request.notes,
                                      .created_at = clock_.Now(),
                                      .updated_at = clock_.Now(),
                                      .status = "REGISTERED"};
  version.model_version_metadata.mlops_type = "MLFLOW";
  version.model_version_metadata.project_id = request.project_id;
  version.model_version_metadata.mlflow_metadata.experiment_id = request.experiment_id;
  version.model_version_metadata.mlflow_metadata.run_id = request.run_id;
  model->model_versions.push_back(std::move(version));
  model->count = static_cast<std::int32_t>(model->model_versions.size());
  model->updated_at = clock_.Now();
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return *model;
}

FakeCmlClient::Result<api::RegisteredModelVersion> FakeCmlClient::GetRegisteredModelVersion(
    std::string model_id, std::string version_id) {
  constexpr std::string_view kOp = "get_registered_model_version";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  api::RegisteredModel* model = FindRegistered(model_id);
  if (model != nullptr) {
    for (const auto& version : model->model_versions) {
      if (version.model_version_id == version_id) {
        EndOk(kOp);
        co_return version;
      }
    }
  }
  co_return End(kOp, NotFound(kOp, "registered model version", version_id));
}

FakeCmlClient::Result<std::vector<api::Model>> FakeCmlClient::ListModels(std::string project_id,
                                                                         ListOptions options) {
  constexpr std::string_view kOp = "list_models";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  std::vector<api::Model> out;
  for (const auto& stored : models_) {
    if (stored.project_id == project_id && Listed(stored.model.created_at) &&
        Matches(options.search_filter, ModelFields(stored.model))) {
      out.push_back(stored.model);
    }
  }
  EndOk(kOp);
  co_return out;
}

FakeCmlClient::Result<api::Model> FakeCmlClient::GetModel(std::string project_id,
                                                          std::string model_id) {
  constexpr std::string_view kOp = "get_model";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  StoredModel* stored = FindModel(project_id, model_id);
  if (stored == nullptr) co_return End(kOp, NotFound(kOp, "model", model_id));
  EndOk(kOp);
  co_return stored->model;
}

FakeCmlClient::Result<api::Model> FakeCmlClient::CreateModel(std::string project_id,
                                                             api::CreateModelRequest request) {
  constexpr std::string_view kOp = "create_model";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  const std::string id = NextId("m");
  api::Model model{.id = id,
                   .name = request.name,
                   .description = request.description,
                   .creator = {.username = "fake-user"},
                   .access_key = "access-" + id,
                   .created_at = clock_.Now(),
                   .updated_at = clock_.Now(),
                   .crn = "crn:cdp:ml:fake:workspace/" + id,
                   .auth_enabled = !request.disable_authentication,
                   .project = {.public_identifier = project_id},
                   .registered_model_id = request.registered_model_id,
                   .visibility = request.visibility};
  if (!quirks_.phantom_models)
    models_.push_back(StoredModel{.project_id = project_id, .model = model});
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return model;
}

FakeCmlClient::Result<api::Model> FakeCmlClient::UpdateModel(std::string project_id,
                                                             std::string model_id,
                                                             api::UpdateModelRequest request) {
  constexpr std::string_view kOp = "update_model";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  StoredModel* stored = FindModel(project_id, model_id);
  if (stored == nullptr) co_return End(kOp, NotFound(kOp, "model", model_id));
  if (quirks_.ignore_updates) {
    EndOk(kOp);
    co_return stored->model;
  }
  api::Model& model = stored->model;
  if (request.name) model.name = *request.name;
  if (request.description) model.description = *request.description;
  if (request.visibility) model.visibility = *request.visibility;
  if (request.default_resources) model.default_resources = *request.default_resources;
  if (request.default_replication_policy) {
    model.default_replication_policy = *request.default_replication_policy;
  }
  if (request.run_as) model.run_as = *request.run_as;
  model.updated_at = clock_.Now();
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return model;
}

net::awaitable<Status> FakeCmlClient::DeleteModel(std::string project_id, std::string model_id) {
  constexpr std::string_view kOp = "delete_model";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  const auto it = std::find_if(models_.begin(), models_.end(), [&](const StoredModel& stored) {
    return stored.project_id == project_id && stored.model.id == model_id;
  });
  if (it == models_.end()) co_return End(kOp, NotFound(kOp, "model", model_id));
  models_.erase(it);
  co_return End(kOp, injected ? injected->status : Status());
}

FakeCmlClient::Result<std::vector<api::ModelBuild>> FakeCmlClient::ListModelBuilds(
    std::string project_id, std::string model_id, ListOptions options) {
  constexpr std::string_view kOp = "list_model_builds";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  if (FindModel(project_id, model_id) == nullptr) {
    co_return End(kOp, NotFound(kOp, "model", model_id));
  }
  std::vector<api::ModelBuild> out;
  for (const auto& stored : builds_) {
    if (stored.build.model_id == model_id && Listed(stored.build.created_at) &&
        Matches(options.search_filter, BuildFields(stored.build))) {
      out.push_back(stored.build);
      if (quirks_.sparse_lists) {
        out.back().registered_model_version_id.clear();
        out.back().runtime_identifier.clear();
      }
    }
  }
  EndOk(kOp);
  co_return out;
}

FakeCmlClient::Result<api::ModelBuild> FakeCmlClient::GetModelBuild(std::string project_id,
                                                                    std::string model_id,
                                                                    std::string build_id) {
  constexpr std::string_view kOp = "get_model_build";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  StoredBuild* stored = FindModel(project_id, model_id) ? FindBuild(model_id, build_id) : nullptr;
  if (stored == nullptr) co_return End(kOp, NotFound(kOp, "build", build_id));
  EndOk(kOp);
  co_return stored->build;
}

FakeCmlClient::Result<api::ModelBuild> FakeCmlClient::CreateModelBuild(
    std::string project_id, std::string model_id, api::CreateModelBuildRequest request) {
  constexpr std::string_view kOp = "create_model_build";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  if (FindModel(project_id, model_id) == nullptr) {
    co_return End(kOp, NotFound(kOp, "model", model_id));
  }
  const std::string id = NextId("b");
  api::ModelBuild build{.id = id,
                        .model_id = model_id,
                        .creator = {.username = "fake-user"},
                        .comment = request.comment,
                        .file_path = request.file_path,
                        .function_name = request.function_name,
                        .kernel = request.kernel,
                        .created_at = clock_.Now(),
                        .updated_at = clock_.Now(),
                        .status = "queued",
                        .crn = "crn:cdp:ml:fake:build/" + id,
                        .runtime_identifier = request.runtime_identifier,
                        .runtime_addon_identifiers = request.runtime_addon_identifiers,
                        .registered_model_version_id = request.registered_model_version_id,
                        .model_root_dir = request.model_root_dir,
                        .build_script_path = request.build_script_path};
  builds_.push_back(StoredBuild{.project_id = project_id, .build = build});
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return build;
}

FakeCmlClient::Result<std::vector<api::ModelDeployment>> FakeCmlClient::ListModelDeployments(
    std::string project_id, std::string model_id, std::string build_id, ListOptions options) {
  constexpr std::string_view kOp = "list_model_deployments";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  if (FindModel(project_id, model_id) == nullptr || FindBuild(model_id, build_id) == nullptr) {
    co_return End(kOp, NotFound(kOp, "build", build_id));
  }
  std::vector<api::ModelDeployment> out;
  for (const auto& stored : deployments_) {
    if (stored.deployment.build_id == build_id && Listed(stored.deployment.created_at) &&
        Matches(options.search_filter, {{"status", stored.deployment.status}})) {
      out.push_back(stored.deployment);
    }
  }
  EndOk(kOp);
  co_return out;
}

FakeCmlClient::Result<api::ModelDeployment> FakeCmlClient::GetModelDeployment(
    std::string project_id, std::string model_id, std::string build_id, std::string deployment_id) {
  constexpr std::string_view kOp = "get_model_deployment";
  if (auto injected = Begin(kOp, false)) co_return End(kOp, injected->status);
  StoredDeployment* stored =
      FindModel(project_id, model_id) ? FindDeployment(build_id, deployment_id) : nullptr;
  if (stored == nullptr) co_return End(kOp, NotFound(kOp, "deployment", deployment_id));
  EndOk(kOp);
  co_return stored->deployment;
}

FakeCmlClient::Result<api::ModelDeployment> FakeCmlClient::CreateModelDeployment(
    std::string project_id, std::string model_id, std::string build_id,
    api::CreateModelDeploymentRequest request) {
  constexpr std::string_view kOp = "create_model_deployment";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  StoredBuild* build = FindModel(project_id, model_id) ? FindBuild(model_id, build_id) : nullptr;
  if (build == nullptr) co_return End(kOp, NotFound(kOp, "build", build_id));
  if (build->build.status != "built") {
    co_return End(
        kOp, common::FailedPreconditionError(std::string(kOp) + ": HTTP 400: build " + build_id +
                                             " is not built (status " + build->build.status + ")")
                 .WithHttpStatus(400));
  }
  const std::string id = NextId("d");
  api::ModelDeployment deployment{.project_id = project_id,
                                  .model_id = model_id,
                                  .build_id = build_id,
                                  .id = id,
                                  .cpu = request.cpu,
                                  .memory = request.memory,
                                  .nvidia_gpu = request.nvidia_gpus,
                                  .environment = request.environment,
                                  .created_at = clock_.Now(),
                                  .updated_at = clock_.Now(),
                                  .crn = "crn:cdp:ml:fake:deployment/" + id,
                                  .deployer = {.username = "fake-user"},
                                  .status = "pending",
                                  .replicas = request.replicas};
  deployments_.push_back(StoredDeployment{.deployment = deployment, .started_at = clock_.Now()});
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return deployment;
}

FakeCmlClient::Result<api::ModelDeployment> FakeCmlClient::StopModelDeployment(
    std::string project_id, std::string model_id, std::string build_id, std::string deployment_id) {
  constexpr std::string_view kOp = "stop_model_deployment";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  StoredDeployment* stored =
      FindModel(project_id, model_id) ? FindDeployment(build_id, deployment_id) : nullptr;
  if (stored == nullptr) co_return End(kOp, NotFound(kOp, "deployment", deployment_id));
  if (IsRunning(stored->deployment.status)) {
    stored->forced_status = "stopped";
    stored->deployment.status = "stopped";
    stored->deployment.stopped_at = clock_.Now();
    stored->deployment.updated_at = clock_.Now();
  }
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return stored->deployment;
}

FakeCmlClient::Result<api::ModelDeployment> FakeCmlClient::RestartModelDeployment(
    std::string project_id, std::string model_id, std::string build_id, std::string deployment_id) {
  constexpr std::string_view kOp = "restart_model_deployment";
  std::optional<Injected> injected = Begin(kOp, true);
  if (injected && !injected->apply) co_return End(kOp, injected->status);
  StoredDeployment* stored =
      FindModel(project_id, model_id) ? FindDeployment(build_id, deployment_id) : nullptr;
  if (stored == nullptr) co_return End(kOp, NotFound(kOp, "deployment", deployment_id));
  stored->forced_status.clear();
  stored->started_at = clock_.Now();
  stored->deployment.status = "pending";
  stored->deployment.stopped_at.reset();
  stored->deployment.updated_at = clock_.Now();
  if (injected) co_return End(kOp, injected->status);
  EndOk(kOp);
  co_return stored->deployment;
}

}  // namespace cmlr::testing
