#include "emulator/emulator_state.h"

#include <algorithm>
#include <array>
#include <span>
#include <unordered_map>

#include <fmt/format.h>

#include "emulator/persistence.h"
#include "emulator/wire.h"

namespace cmlr::emulator {

namespace {

using common::Status;
using common::StatusOr;
using common::TimePoint;
using nlohmann::json;

constexpr std::string_view kWorkspaceCrn =
    "crn:cdp:ml:us-west-1:8a1e15cd-04c2-48aa-8f35-b4a8c11997d3:workspace:"
    "7e3f5b2c-91a4-4c1d-8e2f-5a6b7c8d9e0f";

bool IsRunning(std::string_view status) {
  return status == "pending" || status == "deploying" || status == "deployed";
}

template <typename T, typename Pred>
const T* FindIf(const std::vector<T>& items, Pred pred) {
  const auto it = std::find_if(items.begin(), items.end(), pred);
  return it == items.end() ? nullptr : &*it;
}

}  // namespace

EmulatorState::EmulatorState(Fixture fixture, Timings timings, std::uint64_t seed, TimePoint)
    : timings_(timings),
      seed_(seed),
      users_(std::move(fixture.users)),
      projects_(std::move(fixture.projects)),
      runtimes_(std::move(fixture.runtimes)),
      registered_models_(std::move(fixture.registered_models)),
      mlflow_runs_(std::move(fixture.mlflow_runs)) {}

std::uint64_t EmulatorState::NextRandom() {
  // splitmix64 of (seed, counter): ids are repeatable for a seed and survive a restore.
  std::uint64_t z = seed_ + 0x9e3779b97f4a7c15ULL * ++id_counter_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string EmulatorState::NextUuid() {
  const std::uint64_t a = NextRandom();
  const std::uint64_t b = NextRandom();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

std::string EmulatorState::NextRegistryId() {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::uint64_t r = NextRandom();
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i > 0 && i % 4 == 0) id += '-';
    id += kAlphabet[r % kAlphabet.size()];
    r /= kAlphabet.size();
    if (r == 0) r = NextRandom();
  }
  return id;
}

std::string EmulatorState::NextAccessKey() {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string key;
  while (key.size() < 32) {
    std::uint64_t r = NextRandom();
    for (int i = 0; i < 8 && key.size() < 32; ++i) {
      key += kAlphabet[r % kAlphabet.size()];
      r /= kAlphabet.size();
    }
  }
  return key;
}

const User* EmulatorState::FindUser(std::string_view username) const {
  return FindIf(users_, [&](const User& u) { return u.username == username; });
}

const User* EmulatorState::FindUserByKey(std::string_view api_key) const {
  if (api_key.empty()) return nullptr;
  return FindIf(users_, [&](const User& u) {
    return std::find(u.api_keys.begin(), u.api_keys.end(), api_key) != u.api_keys.end();
  });
}

void EmulatorState::AddApiKey(std::string key, std::string_view username) {
  if (users_.empty()) users_.push_back(User{.username = "admin", .name = "Admin", .email = ""});
  User* user = &users_.front();
  for (auto& u : users_) {
    if (u.username == username) user = &u;
  }
  if (std::find(user->api_keys.begin(), user->api_keys.end(), key) == user->api_keys.end()) {
    user->api_keys.push_back(std::move(key));
  }
  Changed();
}

const Project* EmulatorState::FindProject(std::string_view id) const {
  return FindIf(projects_, [&](const Project& p) { return p.public_identifier == id; });
}

const Runtime* EmulatorState::FindRuntime(std::string_view id) const {
  return FindIf(runtimes_, [&](const Runtime& r) { return r.image_identifier == id; });
}

const RegisteredModel* EmulatorState::FindRegisteredModel(std::string_view id) const {
  return FindIf(registered_models_, [&](const RegisteredModel& m) { return m.model_id == id; });
}

StatusOr<MlflowRun> EmulatorState::FindRun(const NewRegistration& request) const {
  // The run is known when it is an unregistered fixture run or backs a registered version.
  const MlflowRun* run = nullptr;
  for (const auto& r : mlflow_runs_) {
    if (r.experiment_id == request.experiment_id && r.run_id == request.run_id) run = &r;
  }
  for (const auto& m : registered_models_) {
    for (const auto& v : m.versions) {
      if (!run && v.run.experiment_id == request.experiment_id && v.run.run_id == request.run_id) {
        run = &v.run;
      }
    }
  }
  if (run == nullptr) {
    return common::NotFoundError(
        fmt::format("run {} not found in experiment {}", request.run_id, request.experiment_id));
  }
  if (run->project_id != request.project_id) {
    return common::NotFoundError(fmt::format("experiment {} not found in project {}",
                                             request.experiment_id, request.project_id));
  }
  const std::string model_path = request.model_path.empty() ? "artifacts" : request.model_path;
  if (model_path != run->model_path) {
    return common::InvalidArgumentError(fmt::format(
        "model_path {} not found in the artifacts of run {}", model_path, request.run_id));
  }
  return *run;
}

StatusOr<std::pair<RegisteredModel, int>> EmulatorState::Register(const NewRegistration& request,
                                                                  std::string_view username,
                                                                  TimePoint now) {
  if (request.model_name.empty()) return common::InvalidArgumentError("model_name is required");
  if (request.project_id.empty()) return common::InvalidArgumentError("project_id is required");
  if (request.experiment_id.empty() || request.run_id.empty()) {
    return common::InvalidArgumentError("experiment_id and run_id are required");
  }
  if (FindProject(request.project_id) == nullptr) {
    return common::NotFoundError(fmt::format("project {} not found", request.project_id));
  }
  CMLR_ASSIGN_OR_RETURN(MlflowRun run, FindRun(request));
  auto it = std::find_if(registered_models_.begin(), registered_models_.end(),
                         [&](const RegisteredModel& m) { return m.name == request.model_name; });
  if (it == registered_models_.end()) {
    registered_models_.push_back(
        RegisteredModel{.model_id = NextRegistryId(),
                        .name = request.model_name,
                        .description = request.description,
                        .owner = std::string(username),
                        .project_id = request.project_id,
                        .visibility = request.visibility.empty() ? "PRIVATE" : request.visibility,
                        .created_at = now,
                        .updated_at = now});
    it = std::prev(registered_models_.end());
  }
  const int number = it->versions.empty() ? 1 : it->versions.back().number + 1;
  RegisteredModelVersion version{.model_version_id = NextRegistryId(),
                                 .number = number,
                                 .username = std::string(username),
                                 .notes = request.notes,
                                 .created_at = now,
                                 .updated_at = now,
                                 .status = "REGISTERED",
                                 .run = std::move(run)};
  if (quirks_.registration) {
    version.status = "PENDING_REGISTRATION";
    version.ready_at = now + *quirks_.registration;
  }
  it->versions.push_back(std::move(version));
  it->updated_at = now;
  Changed();
  return std::make_pair(*it, number);
}

std::vector<const Model*> EmulatorState::Models(std::string_view project_id) const {
  std::vector<const Model*> out;
  for (const auto& m : models_) {
    if (project_id.empty() || m.project_id == project_id) out.push_back(&m);
  }
  return out;
}

StatusOr<Model> EmulatorState::GetModel(std::string_view project_id,
                                        std::string_view model_id) const {
  if (FindProject(project_id) == nullptr) {
    return common::NotFoundError(fmt::format("project {} not found", project_id));
  }
  const Model* model = FindIf(
      models_, [&](const Model& m) { return m.id == model_id && m.project_id == project_id; });
  if (model == nullptr) return common::NotFoundError(fmt::format("model {} not found", model_id));
  return *model;
}

const Model* EmulatorState::FindModelByAccessKey(std::string_view access_key) const {
  return FindIf(models_, [&](const Model& m) { return m.access_key == access_key; });
}

StatusOr<Model> EmulatorState::CreateModel(const NewModel& request, std::string_view username,
                                           TimePoint now) {
  if (FindProject(request.project_id) == nullptr) {
    return common::NotFoundError(fmt::format("project {} not found", request.project_id));
  }
  if (request.name.empty()) return common::InvalidArgumentError("name is required");
  if (!request.registered_model_id.empty() &&
      FindRegisteredModel(request.registered_model_id) == nullptr) {
    return common::NotFoundError(
        fmt::format("registered model {} not found", request.registered_model_id));
  }
  Model model{.id = NextUuid(),
              .project_id = request.project_id,
              .name = request.name,
              .description = request.description,
              .creator = std::string(username),
              .access_key = NextAccessKey(),
              .auth_enabled = !request.disable_authentication,
              .registered_model_id = request.registered_model_id,
              .visibility = request.visibility.empty() ? "private" : request.visibility,
              .run_as = request.run_as,
              .accelerator_label_id = request.accelerator_label_id,
              .resource_group_id = request.resource_group_id,
              .resource_profile_id = request.resource_profile_id,
              .created_at = now,
              .updated_at = now};
  model.crn = fmt::format("{}/{}", kWorkspaceCrn, model.id);
  models_.push_back(model);
  Changed();
  return model;
}

void EmulatorState::ApplyUpdate(Model& model, const ModelUpdate& u) const {
  // With `replace`, what was not sent is cleared; else it stays.
  auto set = [&](auto& field, const auto& value) {
    using T = std::remove_cvref_t<decltype(field)>;
    if (value) {
      field = *value;
    } else if (u.replace) {
      field = T{};
    }
  };
  set(model.name, u.name);
  set(model.description, u.description);
  set(model.visibility, u.visibility);
  set(model.default_resources, u.default_resources);
  set(model.default_num_replicas, u.default_num_replicas);
  set(model.default_replication_type, u.default_replication_type);
  set(model.run_as, u.run_as);
  model.run_as = std::max(0, model.run_as);
  set(model.accelerator_label_id, u.accelerator_label_id);
  set(model.resource_group_id, u.resource_group_id);
  set(model.resource_profile_id, u.resource_profile_id);
}

StatusOr<Model> EmulatorState::UpdateModel(std::string_view project_id, std::string_view model_id,
                                           const ModelUpdate& update, TimePoint now) {
  CMLR_RETURN_IF_ERROR(GetModel(project_id, model_id).status());
  if (update.name && update.name->empty()) {
    return common::InvalidArgumentError("name must not be empty");
  }
  auto it = std::find_if(models_.begin(), models_.end(),
                         [&](const Model& m) { return m.id == model_id; });
  ApplyUpdate(*it, update);
  it->updated_at = now;
  Changed();
  return *it;
}

Status EmulatorState::DeleteModel(std::string_view project_id, std::string_view model_id) {
  CMLR_RETURN_IF_ERROR(GetModel(project_id, model_id).status());
  std::erase_if(deployments_, [&](const Deployment& d) { return d.model_id == model_id; });
  std::erase_if(builds_, [&](const Build& b) { return b.model_id == model_id; });
  std::erase_if(models_, [&](const Model& m) { return m.id == model_id; });
  Changed();
  return common::OkStatus();
}

StatusOr<std::vector<const Build*>> EmulatorState::Builds(std::string_view project_id,
                                                          std::string_view model_id) const {
  CMLR_RETURN_IF_ERROR(GetModel(project_id, model_id).status());
  std::vector<const Build*> out;
  for (const auto& b : builds_) {
    if (b.model_id == model_id) out.push_back(&b);
  }
  return out;
}

StatusOr<Build> EmulatorState::GetBuild(std::string_view project_id, std::string_view model_id,
                                        std::string_view build_id) const {
  CMLR_RETURN_IF_ERROR(GetModel(project_id, model_id).status());
  const Build* build =
      FindIf(builds_, [&](const Build& b) { return b.id == build_id && b.model_id == model_id; });
  if (build == nullptr) return common::NotFoundError(fmt::format("build {} not found", build_id));
  return *build;
}

const RegisteredModelVersion* EmulatorState::FindVersion(std::string_view id) const {
  for (const auto& m : registered_models_) {
    for (const auto& v : m.versions) {
      if (v.model_version_id == id) return &v;
    }
  }
  return nullptr;
}

const Build* EmulatorState::FindBuild(std::string_view build_id) const {
  return FindIf(builds_, [&](const Build& b) { return b.id == build_id; });
}

StatusOr<Build> EmulatorState::CreateBuild(const NewBuild& request, std::string_view username,
                                           TimePoint now) {
  CMLR_RETURN_IF_ERROR(GetModel(request.project_id, request.model_id).status());
  if (request.runtime_identifier.empty()) {
    return common::InvalidArgumentError("runtime_identifier is required");
  }
  const Runtime* runtime = FindRuntime(request.runtime_identifier);
  if (runtime == nullptr) {
    return common::InvalidArgumentError(
        fmt::format("runtime_identifier: runtime {} not found", request.runtime_identifier));
  }
  bool will_fail = false;
  if (!request.registered_model_version_id.empty()) {
    const RegisteredModelVersion* found = FindVersion(request.registered_model_version_id);
    if (found == nullptr) {
      return common::NotFoundError(fmt::format("registered model version {} not found",
                                               request.registered_model_version_id));
    }
    // A version still registering has no artifacts to build from yet.
    will_fail = found->run.broken || found->status == "PENDING_REGISTRATION";
  } else if (request.file_path.empty() || request.function_name.empty()) {
    return common::InvalidArgumentError(
        "registered_model_version_id, or file_path and function_name, are required");
  }
  Build build{.id = NextUuid(),
              .model_id = request.model_id,
              .project_id = request.project_id,
              .creator = std::string(username),
              .comment = request.comment,
              .file_path = request.file_path,
              .function_name = request.function_name,
              .kernel = request.kernel,
              .runtime_identifier = request.runtime_identifier,
              .runtime_addon_identifiers = request.runtime_addon_identifiers,
              .registered_model_version_id = request.registered_model_version_id,
              .model_root_dir = request.model_root_dir,
              .build_script_path = request.build_script_path,
              .will_fail = will_fail,
              .succeeded_phase = quirks_.succeeded_phase,
              .status = "queued",
              .created_at = now,
              .updated_at = now};
  build.crn = fmt::format("{}/{}", kWorkspaceCrn, build.id);
  builds_.push_back(build);
  Changed();
  Settle(now);
  return builds_.back();
}

Status EmulatorState::DeleteBuild(std::string_view project_id, std::string_view model_id,
                                  std::string_view build_id) {
  CMLR_RETURN_IF_ERROR(GetBuild(project_id, model_id, build_id).status());
  std::erase_if(deployments_, [&](const Deployment& d) { return d.build_id == build_id; });
  std::erase_if(builds_, [&](const Build& b) { return b.id == build_id; });
  Changed();
  return common::OkStatus();
}

StatusOr<std::vector<const Deployment*>> EmulatorState::Deployments(
    std::string_view project_id, std::string_view model_id, std::string_view build_id) const {
  CMLR_RETURN_IF_ERROR(GetBuild(project_id, model_id, build_id).status());
  std::vector<const Deployment*> out;
  for (const auto& d : deployments_) {
    if (d.build_id == build_id) out.push_back(&d);
  }
  return out;
}

std::vector<const Deployment*> EmulatorState::DeploymentsOfModel(std::string_view model_id) const {
  std::vector<const Deployment*> out;
  for (const auto& d : deployments_) {
    if (d.model_id == model_id) out.push_back(&d);
  }
  return out;
}

StatusOr<Deployment> EmulatorState::GetDeployment(std::string_view project_id,
                                                  std::string_view model_id,
                                                  std::string_view build_id,
                                                  std::string_view deployment_id) const {
  CMLR_RETURN_IF_ERROR(GetBuild(project_id, model_id, build_id).status());
  const Deployment* d = FindIf(deployments_, [&](const Deployment& x) {
    return x.id == deployment_id && x.build_id == build_id;
  });
  if (d == nullptr) {
    return common::NotFoundError(fmt::format("deployment {} not found", deployment_id));
  }
  return *d;
}

const Deployment* EmulatorState::FindDeployment(std::string_view deployment_id) const {
  return FindIf(deployments_, [&](const Deployment& d) { return d.id == deployment_id; });
}

Deployment* EmulatorState::MutableDeployment(std::string_view id) {
  auto it = std::find_if(deployments_.begin(), deployments_.end(),
                         [&](const Deployment& d) { return d.id == id; });
  return it == deployments_.end() ? nullptr : &*it;
}

bool EmulatorState::DeploysFail(const Build& build) const {
  const RegisteredModelVersion* version = FindVersion(build.registered_model_version_id);
  return version != nullptr && version->run.deployments_fail;
}

StatusOr<Deployment> EmulatorState::CreateDeployment(const NewDeployment& request,
                                                     std::string_view username, TimePoint now) {
  CMLR_ASSIGN_OR_RETURN(const Build build,
                        GetBuild(request.project_id, request.model_id, request.build_id));
  if (request.cpu < 0) return common::InvalidArgumentError("cpu must not be negative");
  if (request.memory < 0) return common::InvalidArgumentError("memory must not be negative");
  if (request.nvidia_gpus < 0) {
    return common::InvalidArgumentError("nvidia_gpus must not be negative");
  }
  if (request.replicas < 0) return common::InvalidArgumentError("replicas must not be negative");
  Deployment deployment{
      .id = NextUuid(),
      .project_id = request.project_id,
      .model_id = request.model_id,
      .build_id = request.build_id,
      .deployer = std::string(username),
      .cpu = request.cpu == 0 ? 1 : request.cpu,
      .memory = request.memory == 0 ? 2 : request.memory,
      .nvidia_gpus = request.nvidia_gpus,
      .replicas = request.replicas == 0 ? 1 : request.replicas,
      .environment = request.environment,
      .accelerator_label_id = request.accelerator_label_id,
      .resource_group_id = request.resource_group_id,
      .resource_profile_id = request.resource_profile_id,
      .status = "pending",
      .will_fail = (quirks_.succeeded_phase && !request.with_build && build.status != "built") ||
                   DeploysFail(build),
      .phase_started_at = now,
      .created_at = now,
      .updated_at = now};
  deployment.crn = fmt::format("{}/{}", kWorkspaceCrn, deployment.id);
  deployments_.push_back(deployment);
  Changed();
  Settle(now);
  return CurrentOr(deployment.id, deployment);
}

StatusOr<Deployment> EmulatorState::StopDeployment(std::string_view deployment_id, TimePoint now,
                                                   bool immediately) {
  Settle(now);
  Deployment* d = MutableDeployment(deployment_id);
  if (d == nullptr) {
    return common::NotFoundError(fmt::format("deployment {} not found", deployment_id));
  }
  if (IsRunning(d->status)) {
    d->status = immediately ? "stopped" : "stopping";
    d->phase_started_at = now;
    d->updated_at = now;
    if (immediately) d->stopped_at = now;
    const Deployment last_seen = *d;
    Changed();
    Settle(now);  // may drop it (history limit)
    return CurrentOr(deployment_id, last_seen);
  }
  return *d;
}

StatusOr<Deployment> EmulatorState::RestartDeployment(std::string_view deployment_id,
                                                      TimePoint now) {
  Settle(now);
  Deployment* d = MutableDeployment(deployment_id);
  if (d == nullptr) {
    return common::NotFoundError(fmt::format("deployment {} not found", deployment_id));
  }
  const Build* build = FindBuild(d->build_id);
  d->status = "pending";
  d->will_fail = (quirks_.succeeded_phase && (build == nullptr || build->status != "built")) ||
                 (build != nullptr && DeploysFail(*build));
  d->phase_started_at = now;
  d->updated_at = now;
  d->stopped_at = std::nullopt;
  const Deployment last_seen = *d;
  Changed();
  Settle(now);
  return CurrentOr(deployment_id, last_seen);
}

namespace {

// The statuses a build passes through before it ends built (or build failed).
std::span<const std::string_view> BuildPhases(const Build& build) {
  static constexpr std::array<std::string_view, 3> kPhases = {"queued", "pending", "pushing"};
  static constexpr std::array<std::string_view, 4> kWithSucceeded = {"queued", "pending",
                                                                     "succeeded", "pushing"};
  if (build.succeeded_phase) return kWithSucceeded;
  return kPhases;
}

std::optional<std::size_t> PhaseIndex(const Build& build) {
  const auto phases = BuildPhases(build);
  const auto it = std::find(phases.begin(), phases.end(), build.status);
  if (it == phases.end()) return std::nullopt;
  return static_cast<std::size_t>(it - phases.begin());
}

}  // namespace

std::optional<TimePoint> EmulatorState::NextBuildTransition(const Build& build) const {
  const auto index = PhaseIndex(build);
  if (!index) return std::nullopt;
  const auto phases = BuildPhases(build).size();
  if (*index + 1 == phases) return build.created_at + timings_.build;
  const auto step = timings_.build / static_cast<std::int64_t>(phases);
  return build.created_at + static_cast<std::int64_t>(*index + 1) * step;
}

std::optional<TimePoint> EmulatorState::NextDeploymentTransition(const Deployment& d) const {
  const auto half = timings_.deploy / 2;
  if (d.status == "pending") {
    if (d.will_fail) return d.phase_started_at + half;
    const Build* build = FindBuild(d.build_id);
    if (build == nullptr) return std::nullopt;
    if (build->status == "build failed") {
      return std::max(d.phase_started_at, build->updated_at);
    }
    if (build->status != "built" || !build->built_at) return std::nullopt;
    return std::max(d.phase_started_at, *build->built_at) + half;
  }
  if (d.status == "deploying") return d.phase_started_at + (timings_.deploy - half);
  if (d.status == "stopping") return d.phase_started_at + half;
  return std::nullopt;
}

void EmulatorState::NextVersionTransition(std::optional<Transition>& best) const {
  for (std::size_t m = 0; m < registered_models_.size(); ++m) {
    const auto& versions = registered_models_[m].versions;
    for (std::size_t v = 0; v < versions.size(); ++v) {
      const auto& at = versions[v].ready_at;
      if (versions[v].status != "PENDING_REGISTRATION" || !at) continue;
      if (!best || *at < best->at) best = Transition{*at, Transition::Kind::kVersion, m, v};
    }
  }
}

std::optional<EmulatorState::Transition> EmulatorState::NextTransition() const {
  using Kind = Transition::Kind;
  std::optional<Transition> best;
  for (std::size_t i = 0; i < builds_.size(); ++i) {
    const auto at = NextBuildTransition(builds_[i]);
    if (at && (!best || *at < best->at)) best = Transition{*at, Kind::kBuild, i};
  }
  for (std::size_t i = 0; i < deployments_.size(); ++i) {
    const auto at = NextDeploymentTransition(deployments_[i]);
    if (at && (!best || *at < best->at)) best = Transition{*at, Kind::kDeployment, i};
  }
  NextVersionTransition(best);
  return best;
}

void EmulatorState::ApplyBuildTransition(Build& build, TimePoint at) {
  const auto index = PhaseIndex(build);
  const auto phases = BuildPhases(build);
  if (index && *index + 1 < phases.size()) {
    build.status = std::string(phases[*index + 1]);
  } else if (index) {
    build.status = build.will_fail ? "build failed" : "built";
    if (!build.will_fail) build.built_at = at;
  }
  build.updated_at = at;
}

void EmulatorState::ApplyDeploymentTransition(std::size_t index, TimePoint at) {
  Deployment& d = deployments_[index];
  d.updated_at = at;
  d.phase_started_at = at;
  if (d.status == "pending") {
    const Build* build = FindBuild(d.build_id);
    const bool failed = d.will_fail || build == nullptr || build->status == "build failed";
    d.status = failed ? "failed" : "deploying";
  } else if (d.status == "deploying") {
    d.status = "deployed";
    // One active deployment per model: the newest to become deployed replaces the older ones.
    for (auto& other : deployments_) {
      if (&other == &d || other.model_id != d.model_id || !IsRunning(other.status)) continue;
      if (other.created_at > d.created_at) continue;
      other.status = "stopped";
      other.stopped_at = at;
      other.updated_at = at;
      other.phase_started_at = at;
    }
  } else if (d.status == "stopping") {
    d.status = "stopped";
    d.stopped_at = at;
  }
}

void EmulatorState::set_history_limit(std::size_t limit) {
  history_limit_ = limit;
  PruneHistory();
  Changed();
}

void EmulatorState::PruneHistory() {
  if (history_limit_ == 0) return;
  std::unordered_map<std::string_view, std::vector<std::size_t>> ended;  // by model
  for (std::size_t i = 0; i < deployments_.size(); ++i) {
    const auto& status = deployments_[i].status;
    if (status == "stopped" || status == "failed") ended[deployments_[i].model_id].push_back(i);
  }
  std::vector<bool> drop(deployments_.size(), false);
  bool dropped = false;
  for (auto& [model, indices] : ended) {
    if (indices.size() <= history_limit_) continue;
    auto ended_at = [&](std::size_t i) {
      return deployments_[i].stopped_at.value_or(deployments_[i].updated_at);
    };
    std::stable_sort(indices.begin(), indices.end(),
                     [&](std::size_t a, std::size_t b) { return ended_at(a) < ended_at(b); });
    for (std::size_t k = 0; k + history_limit_ < indices.size(); ++k) drop[indices[k]] = true;
    dropped = true;
  }
  if (!dropped) return;
  std::vector<Deployment> kept;
  kept.reserve(deployments_.size());
  for (std::size_t i = 0; i < deployments_.size(); ++i) {
    if (!drop[i]) kept.push_back(std::move(deployments_[i]));
  }
  deployments_ = std::move(kept);
  ++revision_;
}

Deployment EmulatorState::CurrentOr(std::string_view id, const Deployment& last_seen) {
  const Deployment* current = MutableDeployment(id);
  return current != nullptr ? *current : last_seen;
}

void EmulatorState::Settle(TimePoint now) {
  if (next_transition_ && (!*next_transition_ || **next_transition_ > now)) return;
  // Each step moves one object one status forward, so this ends.
  while (true) {
    const auto next = NextTransition();
    if (!next || next->at > now) {
      PruneHistory();
      next_transition_ = next ? std::optional<TimePoint>(next->at) : std::nullopt;
      return;
    }
    ++revision_;
    switch (next->kind) {
      case Transition::Kind::kBuild:
        ApplyBuildTransition(builds_[next->index], next->at);
        break;
      case Transition::Kind::kDeployment:
        ApplyDeploymentTransition(next->index, next->at);
        break;
      case Transition::Kind::kVersion: {
        auto& version = registered_models_[next->index].versions[next->version];
        version.status = "READY";
        version.updated_at = next->at;
        break;
      }
    }
  }
}

json EmulatorState::DumpForAdmin() const {
  json projects = json::array();
  for (const auto& p : projects_) {
    json models = json::array();
    for (const auto& m : models_) {
      if (m.project_id != p.public_identifier) continue;
      json model = EncodeModel(m, &p, FindUser(m.creator));
      json builds = json::array();
      for (const auto& b : builds_) {
        if (b.model_id != m.id) continue;
        json build = EncodeBuild(b, FindUser(b.creator));
        json deployments = json::array();
        for (const auto& d : deployments_) {
          if (d.build_id == b.id) deployments.push_back(EncodeDeployment(d, FindUser(d.deployer)));
        }
        build["deployments"] = std::move(deployments);
        builds.push_back(std::move(build));
      }
      model["builds"] = std::move(builds);
      models.push_back(std::move(model));
    }
    projects.push_back(json{{"public_identifier", p.public_identifier},
                            {"name", p.name},
                            {"owner", p.owner},
                            {"models", std::move(models)}});
  }
  json registry = json::array();
  for (const auto& m : registered_models_) {
    std::vector<json> versions;
    for (const auto& v : m.versions) {
      versions.push_back(EncodeRegisteredModelVersion(m, v, FindUser(v.username)));
    }
    registry.push_back(EncodeRegisteredModel(m, FindUser(m.owner), &versions));
  }
  json runtimes = json::array();
  for (const auto& r : runtimes_) runtimes.push_back(EncodeRuntime(r));
  return json{{"projects", std::move(projects)},
              {"registered_models", std::move(registry)},
              {"runtimes", std::move(runtimes)}};
}

StateSnapshot EmulatorState::Snapshot() const {
  StateSnapshot snapshot{.seed = seed_,
                         .id_counter = id_counter_,
                         .users = users_,
                         .projects = projects_,
                         .runtimes = runtimes_,
                         .mlflow_runs = mlflow_runs_,
                         .registered_models = registered_models_,
                         .models = models_,
                         .builds = builds_,
                         .deployments = deployments_};
  for (auto& user : snapshot.users) user.api_keys.clear();
  return snapshot;
}

json EmulatorState::Save() const { return SaveSnapshot(Snapshot()); }

Status EmulatorState::Restore(const json& saved) {
  CMLR_ASSIGN_OR_RETURN(StateSnapshot snapshot, LoadSnapshot(saved));
  std::map<std::string, std::vector<std::string>, std::less<>> keys;
  for (auto& u : users_) keys[u.username] = std::move(u.api_keys);
  for (auto& u : snapshot.users) u.api_keys = keys[u.username];
  seed_ = snapshot.seed;
  id_counter_ = snapshot.id_counter;
  users_ = std::move(snapshot.users);
  projects_ = std::move(snapshot.projects);
  runtimes_ = std::move(snapshot.runtimes);
  mlflow_runs_ = std::move(snapshot.mlflow_runs);
  registered_models_ = std::move(snapshot.registered_models);
  models_ = std::move(snapshot.models);
  builds_ = std::move(snapshot.builds);
  deployments_ = std::move(snapshot.deployments);
  Changed();
  return common::OkStatus();
}

}  // namespace cmlr::emulator
