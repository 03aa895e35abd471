#include "controllers/planner.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "common/duration.h"
#include "controllers/write_budget.h"

namespace cmlr::controllers {

namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

bool NearlyEqual(double a, double b) { return std::fabs(a - b) < 1e-6; }

std::string Number(double value) { return fmt::format("{}", value); }

std::string EnvText(const api::StringMap& env) {
  std::string text = "{";
  for (const auto& [key, value] : env) {
    if (text.size() > 1) text += ", ";
    text += key + "=" + value;
  }
  return text + "}";
}

// Splits "2024.02.1-b4" into numbers and words and compares them in order, numbers by value.
int CompareVersions(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    const bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      std::string_view na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size() ? -1 : 1;
      if (na != nb) return na < nb ? -1 : 1;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
      ++i;
      ++j;
    }
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

template <typename T>
common::TimePoint CreatedAt(const T& item) {
  return item.created_at.value_or(common::TimePoint{});
}

// The newest of `items` by created_at (ties: the later in the list), or null.
template <typename T>
const T* Newest(const std::vector<const T*>& items) {
  const T* newest = nullptr;
  for (const T* item : items) {
    if (newest == nullptr || CreatedAt(*item) >= CreatedAt(*newest)) newest = item;
  }
  return newest;
}

bool DeploymentMatches(const api::ModelDeployment& d, const config::ModelDeploymentSpec& spec) {
  const config::Resources& r = spec.resources;
  return NearlyEqual(d.cpu, r.cpu) && NearlyEqual(d.memory, r.memory_gib) &&
         d.nvidia_gpu == r.gpus && d.replicas == r.replicas && d.environment == spec.environment;
}

// Fields in which a live deployment differs from the desired one.
std::vector<FieldDiff> DeploymentDiffs(const api::ModelDeployment& d,
                                       const config::ModelDeploymentSpec& spec) {
  std::vector<FieldDiff> diffs;
  const config::Resources& r = spec.resources;
  if (!NearlyEqual(d.cpu, r.cpu)) diffs.push_back({"resources.cpu", Number(d.cpu), Number(r.cpu)});
  if (!NearlyEqual(d.memory, r.memory_gib)) {
    diffs.push_back({"resources.memory", Number(d.memory) + "Gi", Number(r.memory_gib) + "Gi"});
  }
  if (d.nvidia_gpu != r.gpus) {
    diffs.push_back({"resources.gpus", std::to_string(d.nvidia_gpu), std::to_string(r.gpus)});
  }
  if (d.replicas != r.replicas) {
    diffs.push_back({"resources.replicas", std::to_string(d.replicas), std::to_string(r.replicas)});
  }
  if (d.environment != spec.environment) {
    diffs.push_back({"environment", EnvText(d.environment), EnvText(spec.environment)});
  }
  return diffs;
}

void Stall(Plan& plan, Reason reason, std::string message) {
  plan.stalled = true;
  plan.reconciling = false;
  plan.sync = SyncState::kOutOfSync;
  if (plan.health == HealthState::kUnknown) plan.health = HealthState::kDegraded;
  plan.reason = reason;
  plan.message = std::move(message);
  plan.next = NextCheck::kStalled;
}

void Act(Plan& plan, PlannedAction action, Reason reason, HealthState health) {
  plan.sync = SyncState::kOutOfSync;
  plan.health = health;
  plan.reconciling = true;
  plan.reason = reason;
  plan.message = action.summary;
  plan.next = NextCheck::kProgress;
  plan.action = std::move(action);
}

void Settle(Plan& plan, SyncState sync, HealthState health, Reason reason, std::string message) {
  plan.sync = sync;
  plan.health = health;
  plan.reason = reason;
  plan.message = std::move(message);
}

// Waits on `awaiting`; past `timeout` the model is Degraded with `timeout_reason` (and still
// waits: the operation is never duplicated).
void Wait(Plan& plan, Awaiting awaiting, Reason reason, std::string_view what,
          std::string_view status, common::TimePoint now, common::Duration timeout,
          Reason timeout_reason, std::string_view timeout_name) {
  plan.sync = SyncState::kOutOfSync;
  plan.health = HealthState::kProgressing;
  plan.reconciling = true;
  plan.reason = reason;
  plan.message = fmt::format("{} is {}", what, status);
  plan.next = NextCheck::kProgress;
  const common::Duration waited = now - awaiting.since;
  plan.awaiting = std::move(awaiting);
  if (waited > timeout) {
    plan.health = HealthState::kDegraded;
    plan.reason = timeout_reason;
    plan.message =
        fmt::format("{} still \"{}\" after {} ({} {})", what, status,
                    common::FormatDuration(waited), timeout_name, common::FormatDuration(timeout));
  }
}

PlannedAction StopAction(const std::string& project_id, const api::ModelDeployment& d,
                         std::string_view why) {
  PlannedAction action{.kind = ActionKind::kStopDeployment};
  action.project_id = project_id;
  action.model_id = d.model_id;
  action.build_id = d.build_id;
  action.deployment_id = d.id;
  action.summary = fmt::format("stop deployment {} ({})", d.id, why);
  return action;
}

void FillLiveDeployment(LiveState& live, const api::ModelDeployment& d) {
  live.deployment_id = d.id;
  live.deployment_status = d.status;
  live.cpu = d.cpu;
  live.memory_gib = d.memory;
  live.gpus = d.nvidia_gpu;
  live.replicas = IsRunning(d.status) && ClassifyDeployment(d.status) == DeploymentPhase::kDeployed
                      ? d.replicas
                      : 0;
}

// The deployments of the model that are running (serving or about to), newest first.
std::vector<const api::ModelDeployment*> Running(const ObservedState& observed) {
  std::vector<const api::ModelDeployment*> running;
  for (const api::ModelDeployment& d : observed.deployments) {
    if (IsRunning(d.status)) running.push_back(&d);
  }
  std::sort(running.begin(), running.end(),
            [](const auto* a, const auto* b) { return CreatedAt(*a) > CreatedAt(*b); });
  return running;
}

// ---------------------------------------------------------------------------------------------
// Prerequisites: the registry version, the runtime and the CML model. Each returns true when
// it decided the plan.

// A registered version is built only once the registry says it is ready (design 4a):
// registration may be asynchronous.
bool PlanRegistration(const ObservedState& observed, Plan& plan) {
  const api::RegisteredModelVersion& version = *observed.version;
  const std::string status = Lower(version.status);
  if (status.find("fail") != std::string::npos) {
    plan.health = observed.model ? HealthState::kDegraded : HealthState::kMissing;
    Stall(plan, Reason::kVersionRegistrationFailed,
          fmt::format("registering version {} failed ({}): {}", version.number, version.status,
                      version.error_message.empty() ? "no error message" : version.error_message));
    return true;
  }
  if (status.find("pending") == std::string::npos &&
      status.find("registering") == std::string::npos) {
    return false;
  }
  plan.sync = SyncState::kOutOfSync;
  plan.health = HealthState::kProgressing;
  plan.reconciling = true;
  plan.reason = Reason::kVersionRegistering;
  plan.message = fmt::format("version {} is {}", version.number, version.status);
  plan.next = NextCheck::kProgress;
  return true;
}

bool PlanRegistry(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                  Plan& plan) {
  const config::RegisteredModelRef& ref = spec.registered_model;
  if (observed.registered_model && observed.version) {
    plan.live.registered_model_id = observed.registered_model->model_id;
    plan.live.registered_model_version_id = observed.version->model_version_id;
    return PlanRegistration(observed, plan);
  }
  if (ref.from_experiment_run && !ref.name.empty()) {
    const config::ExperimentRunSource& run = *ref.from_experiment_run;
    PlannedAction action{.kind = ActionKind::kCreateRegisteredModel};
    action.project_id = spec.project_id;
    action.register_request = {.project_id = spec.project_id,
                               .experiment_id = run.experiment_id,
                               .run_id = run.run_id,
                               .model_path = run.model_path,
                               .model_name = ref.name};
    action.summary = fmt::format("register MLflow run {} of experiment {} as a version of {}",
                                 run.run_id, run.experiment_id, ref.name);
    plan.diffs.push_back({"registeredModel.version", "<none>", "from run " + run.run_id});
    Act(plan, std::move(action), Reason::kRegisteringModelVersion,
        observed.model ? HealthState::kProgressing : HealthState::kMissing);
    return true;
  }
  const std::string registry_name = ref.name.empty() ? "id " + ref.id : ref.name;
  plan.health = observed.model ? HealthState::kDegraded : HealthState::kMissing;
  const std::string what =
      !observed.registered_model ? fmt::format("registered model {} not found", registry_name)
      : ref.version
          ? fmt::format("registered model {} has no version {}", registry_name, *ref.version)
          : fmt::format("registered model {} has no version from run {}", registry_name,
                        ref.from_experiment_run->run_id);
  Stall(plan, Reason::kRegisteredModelVersionNotFound, what);
  return true;
}

bool PlanRuntime(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                 Plan& plan) {
  if (observed.runtime_identifier) return false;
  const auto& selector = std::get<config::RuntimeSelector>(spec.runtime);
  plan.health = observed.model ? HealthState::kDegraded : HealthState::kMissing;
  Stall(plan, Reason::kRuntimeNotFound,
        fmt::format("no ENABLED runtime matches kernel=\"{}\" edition=\"{}\" editor=\"{}\"",
                    selector.kernel, selector.edition, selector.editor));
  return true;
}

// The update_model body for a new description: every updatable field the model has, so that a
// server whose PATCH replaces the whole model (design 4a) keeps them.
api::UpdateModelRequest UpdateRequestFor(const api::Model& model, const std::string& description) {
  api::UpdateModelRequest request{.id = model.id, .name = model.name, .description = description};
  if (!model.visibility.empty()) request.visibility = model.visibility;
  if (model.default_resources.cpu_millicores != 0 || model.default_resources.memory_mb != 0 ||
      model.default_resources.nvidia_gpus != 0) {
    request.default_resources = model.default_resources;
  }
  if (model.default_replication_policy.num_replicas != 0 ||
      !model.default_replication_policy.type.empty()) {
    request.default_replication_policy = model.default_replication_policy;
  }
  if (model.run_as != 0) request.run_as = model.run_as;
  if (model.accelerator_label_id != 0) request.accelerator_label_id = model.accelerator_label_id;
  if (model.resource_group_id != 0) request.resource_group_id = model.resource_group_id;
  if (model.resource_profile_id != 0) request.resource_profile_id = model.resource_profile_id;
  return request;
}

bool PlanModel(const config::ModelDeploymentSpec& spec, const ObservedState& observed, Plan& plan) {
  if (!observed.model) {
    PlannedAction action{.kind = ActionKind::kCreateModel};
    action.project_id = spec.project_id;
    action.model_request = {.project_id = spec.project_id,
                            .name = spec.model_name,
                            .description = spec.description.value_or(""),
                            .disable_authentication = !spec.authentication,
                            .registered_model_id = observed.registered_model->model_id};
    action.summary = fmt::format("create model {} in project {}", spec.model_name, spec.project_id);
    plan.diffs.push_back({"model", "<none>", spec.model_name});
    Act(plan, std::move(action), Reason::kCreatingModel, HealthState::kMissing);
    return true;
  }
  const api::Model& model = *observed.model;
  plan.live.model_id = model.id;
  plan.live.auth_enabled = model.auth_enabled;
  if (!spec.description || model.description == *spec.description) return false;
  PlannedAction action{.kind = ActionKind::kUpdateModel};
  action.project_id = spec.project_id;
  action.model_id = model.id;
  action.update_request = UpdateRequestFor(model, *spec.description);
  action.summary = fmt::format("update description of model {}", spec.model_name);
  plan.diffs.push_back({"description", model.description, *spec.description});
  Act(plan, std::move(action), Reason::kUpdatingModel, HealthState::kProgressing);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Serving: scale to zero, the build, the deployment, drift.

// replicas: 0 stops what runs, one deployment per pass. True when it decided the plan.
bool PlanScaleToZero(const config::ModelDeploymentSpec& spec,
                     const std::vector<const api::ModelDeployment*>& running, Plan& plan) {
  if (spec.resources.replicas != 0) return false;
  if (!running.empty()) {
    plan.diffs.push_back({"resources.replicas", std::to_string(running.front()->replicas), "0"});
    Act(plan, StopAction(spec.project_id, *running.front(), "replicas: 0"), Reason::kScalingToZero,
        HealthState::kProgressing);
    return true;
  }
  Settle(plan, SyncState::kSynced, HealthState::kSuspended, Reason::kScaledToZero,
         "replicas: 0; the model and its build are kept, nothing serves");
  return true;
}

// The builds of the desired version on the desired runtime, sorted by what planning needs.
struct MatchingBuilds {
  std::vector<const api::ModelBuild*> built;
  std::vector<const api::ModelBuild*> in_progress;
  int failed_attempts = 0;  // failed ones carrying this spec's marker, since attempts_since
  std::string last_failure;
};

MatchingBuilds ClassifyBuilds(const ObservedState& observed, const std::string& marker,
                              const PlanContext& context) {
  MatchingBuilds matching;
  const std::string& version_id = observed.version->model_version_id;
  for (const api::ModelBuild& b : observed.builds) {
    if (b.registered_model_version_id != version_id ||
        b.runtime_identifier != *observed.runtime_identifier) {
      continue;
    }
    switch (ClassifyBuild(b.status)) {
      case BuildPhase::kSucceeded:
        matching.built.push_back(&b);
        break;
      case BuildPhase::kInProgress:
        matching.in_progress.push_back(&b);
        break;
      case BuildPhase::kFailed:
        if (b.comment == marker && CreatedAt(b) >= context.attempts_since) {
          ++matching.failed_attempts;
          matching.last_failure = fmt::format("build {} ended with status \"{}\"", b.id, b.status);
        }
        break;
    }
  }
  return matching;
}

// The build to deploy: the newest built matching one. When there is none, plans waiting for the
// one in progress, a new build, or a stall, and returns null.
const api::ModelBuild* PlanBuild(const config::ModelDeploymentSpec& spec,
                                 const ObservedState& observed, const MatchingBuilds& builds,
                                 bool serving, const PlanContext& context, Plan& plan) {
  if (const api::ModelBuild* build = Newest(builds.built)) {
    plan.live.build_id = build->id;
    plan.live.build_status = build->status;
    return build;
  }
  if (const api::ModelBuild* current = Newest(builds.in_progress)) {
    plan.live.build_id = current->id;
    plan.live.build_status = current->status;
    Wait(plan,
         {.kind = Awaiting::Kind::kBuild, .build_id = current->id, .since = CreatedAt(*current)},
         Reason::kBuildInProgress, "build " + current->id, current->status, context.now,
         spec.sync.build_timeout, Reason::kBuildTimeout, "buildTimeout");
    return nullptr;
  }
  if (builds.failed_attempts >= spec.sync.max_attempts) {
    Stall(plan, Reason::kBuildFailed,
          fmt::format("{} of {} build attempts failed; last: {}", builds.failed_attempts,
                      spec.sync.max_attempts, builds.last_failure));
    return nullptr;
  }
  const int version = observed.version->number;
  const std::string& runtime = *observed.runtime_identifier;
  PlannedAction action{.kind = ActionKind::kCreateBuild};
  action.project_id = spec.project_id;
  action.model_id = observed.model->id;
  action.build_request = {.project_id = spec.project_id,
                          .model_id = observed.model->id,
                          .comment = BuildMarker(spec),
                          .runtime_identifier = runtime,
                          .registered_model_version_id = observed.version->model_version_id};
  action.summary = fmt::format("create build of version {} on runtime {}", version, runtime);
  plan.diffs.push_back({"build", "<none>", fmt::format("version {} on {}", version, runtime)});
  Act(plan, std::move(action),
      builds.failed_attempts > 0 ? Reason::kRetryingBuild : Reason::kCreatingBuild,
      serving ? HealthState::kProgressing : HealthState::kMissing);
  return nullptr;
}

// The deployments of the matching built builds whose resources and environment are the
// desired ones.
struct MatchingDeployments {
  std::vector<const api::ModelDeployment*> deployed;
  std::vector<const api::ModelDeployment*> in_progress;
  std::vector<const api::ModelDeployment*> failed;   // all, attempts or not
  std::vector<const api::ModelDeployment*> stopped;  // ran, then stopped from outside
  int failed_attempts = 0;
};

// Whether a stopped deployment of the desired spec is drift evidence: not when this daemon
// stopped it, nor when a later deployment of this daemon's replaced it (CML stops the old one);
// both are only known in memory, so after a restart such a deployment reads as drift once.
bool StoppedFromOutside(const api::ModelDeployment& stopped, const ObservedState& observed,
                        const PlanContext& context) {
  const WriteLedger* ledger = context.ledger;
  if (ledger == nullptr) return true;
  if (ledger->StoppedByUs(stopped.id)) return false;
  return std::none_of(observed.deployments.begin(), observed.deployments.end(),
                      [&](const api::ModelDeployment& later) {
                        return CreatedAt(later) > CreatedAt(stopped) &&
                               ledger->CreatedByUs(later.id);
                      });
}

MatchingDeployments ClassifyDeployments(const config::ModelDeploymentSpec& spec,
                                        const ObservedState& observed, const MatchingBuilds& builds,
                                        const PlanContext& context) {
  MatchingDeployments matching;
  for (const api::ModelDeployment& d : observed.deployments) {
    const bool on_matching_build =
        std::any_of(builds.built.begin(), builds.built.end(),
                    [&](const api::ModelBuild* b) { return b->id == d.build_id; });
    if (!on_matching_build || !DeploymentMatches(d, spec)) continue;
    switch (ClassifyDeployment(d.status)) {
      case DeploymentPhase::kDeployed:
        matching.deployed.push_back(&d);
        break;
      case DeploymentPhase::kInProgress:
        matching.in_progress.push_back(&d);
        break;
      case DeploymentPhase::kStopped:
        if (StoppedFromOutside(d, observed, context)) matching.stopped.push_back(&d);
        break;
      case DeploymentPhase::kFailed:
        matching.failed.push_back(&d);
        if (CreatedAt(d) >= context.attempts_since) ++matching.failed_attempts;
        break;
    }
  }
  return matching;
}

// Ours serves: stop the others, one per pass, then report Synced and Healthy.
void PlanServingDeployment(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                           const api::ModelDeployment& serving,
                           const std::vector<const api::ModelDeployment*>& running, Plan& plan) {
  FillLiveDeployment(plan.live, serving);
  for (const api::ModelDeployment* other : running) {
    if (other->id == serving.id) continue;
    plan.diffs.push_back({"deployment " + other->id, other->status, "stopped"});
    Act(plan, StopAction(spec.project_id, *other, "superseded"), Reason::kStoppingOldDeployment,
        HealthState::kHealthy);
    return;
  }
  Settle(plan, SyncState::kSynced, HealthState::kHealthy, Reason::kSynced,
         fmt::format("version {} serving on deployment {} with {} replica(s)",
                     observed.version->number, serving.id, serving.replicas));
}

// Nothing matching serves or is on its way. If a matching deployment once ran and was stopped
// from outside, or a hand-made one replaced it, that is drift; otherwise a new spec to roll out.
void PlanNewDeployment(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                       const api::ModelBuild& build, const MatchingDeployments& deployments,
                       const std::vector<const api::ModelDeployment*>& running, Plan& plan) {
  const bool drifted = !deployments.stopped.empty();
  if (!running.empty()) {
    for (FieldDiff& diff : DeploymentDiffs(*running.front(), spec)) {
      if (drifted) plan.drift.push_back(diff.field);
      plan.diffs.push_back(std::move(diff));
    }
    if (running.front()->build_id != build.id && plan.diffs.empty()) {
      plan.diffs.push_back({"deployment.build", running.front()->build_id, build.id});
    }
  } else {
    plan.diffs.push_back({"deployment", "<none>", "deployed"});
    if (drifted) plan.drift.push_back("deployment");
  }
  if (drifted && !spec.sync.self_heal) {
    Settle(plan, SyncState::kOutOfSync,
           running.empty() ? HealthState::kDegraded : HealthState::kHealthy, Reason::kDriftDetected,
           "the deployment was changed outside git and selfHeal is false");
    plan.next = NextCheck::kResync;
    return;
  }
  if (deployments.failed_attempts >= spec.sync.max_attempts) {
    Stall(plan, Reason::kDeploymentFailed,
          fmt::format("{} of {} deployment attempts failed", deployments.failed_attempts,
                      spec.sync.max_attempts));
    return;
  }
  const config::Resources& r = spec.resources;
  PlannedAction action{.kind = ActionKind::kCreateDeployment};
  action.project_id = spec.project_id;
  action.model_id = observed.model->id;
  action.build_id = build.id;
  action.deployment_request = {.project_id = spec.project_id,
                               .model_id = observed.model->id,
                               .build_id = build.id,
                               .cpu = r.cpu,
                               .memory = r.memory_gib,
                               .nvidia_gpus = r.gpus,
                               .environment = spec.environment,
                               .replicas = r.replicas};
  action.summary = fmt::format("deploy build {} with cpu {} memory {}Gi gpus {} replicas {}",
                               build.id, r.cpu, r.memory_gib, r.gpus, r.replicas);
  const Reason reason = drifted                           ? Reason::kUndoingDrift
                        : deployments.failed_attempts > 0 ? Reason::kRetryingDeployment
                                                          : Reason::kCreatingDeployment;
  Act(plan, std::move(action), reason,
      running.empty() ? HealthState::kMissing : HealthState::kProgressing);
}

// ---------------------------------------------------------------------------------------------
// Verification and rollback (design 4b).

// The deployment a failed rollout returns to: the newest of the model that neither matches the
// desired spec nor failed (in CML or in this daemon's verification). In progress counts (a
// restore on its way), so callers look at its status.
const api::ModelDeployment* FindLastGood(const config::ModelDeploymentSpec& spec,
                                         const ObservedState& observed,
                                         const MatchingBuilds& builds, const PlanContext& context) {
  const api::ModelDeployment* best = nullptr;
  for (const api::ModelDeployment& d : observed.deployments) {
    if (ClassifyDeployment(d.status) == DeploymentPhase::kFailed) continue;
    const bool matching =
        DeploymentMatches(d, spec) &&
        std::any_of(builds.built.begin(), builds.built.end(),
                    [&](const api::ModelBuild* b) { return b->id == d.build_id; });
    if (matching) continue;
    if (context.verifications != nullptr) {
      const auto v = context.verifications->find(d.id);
      if (v != context.verifications->end() && v->second.result == VerificationResult::kFailed) {
        continue;
      }
    }
    if (best == nullptr || CreatedAt(d) >= CreatedAt(*best)) best = &d;
  }
  return best;
}

LastGood DescribeLastGood(const ObservedState& observed, const api::ModelDeployment& d) {
  LastGood good{.build_id = d.build_id, .deployment_id = d.id};
  const auto build = std::find_if(observed.builds.begin(), observed.builds.end(),
                                  [&](const api::ModelBuild& b) { return b.id == d.build_id; });
  if (build == observed.builds.end() || !observed.registered_model) return good;
  if (observed.version &&
      observed.version->model_version_id == build->registered_model_version_id) {
    good.version = observed.version->number;
  }
  for (const api::RegisteredModelVersion& v : observed.registered_model->model_versions) {
    if (v.model_version_id == build->registered_model_version_id) good.version = v.number;
  }
  return good;
}

std::string VersionText(int version) {
  return version > 0 ? fmt::format("version {}", version) : std::string("the last good version");
}

// A deployment of the last good build with the last good resources, to serve again.
PlannedAction RestoreAction(const config::ModelDeploymentSpec& spec,
                            const api::ModelDeployment& good, const LastGood& described) {
  PlannedAction action{.kind = ActionKind::kCreateDeployment};
  action.project_id = spec.project_id;
  action.model_id = good.model_id;
  action.build_id = good.build_id;
  action.deployment_request = {.project_id = spec.project_id,
                               .model_id = good.model_id,
                               .build_id = good.build_id,
                               .cpu = good.cpu,
                               .memory = good.memory,
                               .nvidia_gpus = good.nvidia_gpu,
                               .environment = good.environment,
                               .replicas = good.replicas};
  action.summary = fmt::format("restore {}: deploy build {} with cpu {} memory {}Gi replicas {}",
                               VersionText(described.version), good.build_id, good.cpu, good.memory,
                               good.replicas);
  return action;
}

// After a rollback: serve the last good deployment (restored or kept), stop anything else that
// runs, then stay Stalled RolledBack until the spec changes or a retry.
void PlanRolledBack(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                    const api::ModelDeployment* good, const std::string& failure,
                    const std::vector<const api::ModelDeployment*>& running, common::TimePoint now,
                    Plan& plan) {
  const std::string failed =
      fmt::format("version {} failed: {}", observed.version->number, failure);
  plan.rollback_of = failure;
  if (good != nullptr && IsRunning(good->status)) {
    FillLiveDeployment(plan.live, *good);
    if (ClassifyDeployment(good->status) != DeploymentPhase::kDeployed) {
      Wait(plan,
           {.kind = Awaiting::Kind::kDeployment,
            .build_id = good->build_id,
            .deployment_id = good->id,
            .since = CreatedAt(*good)},
           Reason::kRollingBack, "restored deployment " + good->id, good->status, now,
           spec.sync.deploy_timeout, Reason::kRollingBack, "deployTimeout");
      plan.health = HealthState::kDegraded;
      plan.message = failed + "; restoring " + VersionText(plan.last_good->version);
      return;
    }
    for (const api::ModelDeployment* other : running) {
      if (other->id == good->id) continue;
      Act(plan, StopAction(spec.project_id, *other, "rolled back"), Reason::kRollingBack,
          HealthState::kDegraded);
      return;
    }
  }
  plan.health = HealthState::kDegraded;
  Stall(plan, Reason::kRolledBack,
        good != nullptr && IsRunning(good->status)
            ? fmt::format("{}; rolled back to {} (deployment {}), which serves", failed,
                          VersionText(plan.last_good->version), good->id)
            : fmt::format("{}; rolled back, but the last good deployment no longer runs", failed));
}

// A failed rollout (`failure` says how) with `failing` (null: none runs): return to the last
// good deployment when rollback allows, with one write at most. False when there is nothing to
// return to or rollback is off: the caller reports the failure as it would without 4b.
bool PlanRollback(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                  const api::ModelDeployment* good, const std::string& failure,
                  const std::vector<const api::ModelDeployment*>& running, common::TimePoint now,
                  Plan& plan) {
  if (!spec.sync.rollback || good == nullptr) return false;
  const std::string failed =
      fmt::format("version {} failed: {}", observed.version->number, failure);
  plan.rollback_of = failure;
  if (IsRunning(good->status)) {
    for (const api::ModelDeployment* other : running) {
      if (other->id == good->id) continue;
      Act(plan, StopAction(spec.project_id, *other, "rolling back"), Reason::kRollingBack,
          HealthState::kDegraded);
      plan.message = failed + "; keeping " + VersionText(plan.last_good->version);
      return true;
    }
    PlanRolledBack(spec, observed, good, failure, running, now, plan);
    return true;
  }
  Act(plan, RestoreAction(spec, *good, *plan.last_good), Reason::kRollingBack,
      HealthState::kDegraded);
  plan.message = failed + "; " + plan.action->summary;
  return true;
}

// CML shows a rollback this daemon no longer remembers (a restart): a deployment of the
// desired spec was stopped and a newer one of another spec serves, and nothing says the
// desired one had passed verification (then it is drift, undone by selfHeal).
bool LooksRolledBack(const config::ModelDeploymentSpec& spec, const MatchingDeployments& matching,
                     const api::ModelDeployment* good, const PlanContext& context) {
  if (!spec.verify || !spec.sync.rollback || good == nullptr || !IsRunning(good->status) ||
      matching.stopped.empty() || !matching.deployed.empty() || !matching.in_progress.empty()) {
    return false;
  }
  const api::ModelDeployment* stopped = Newest(matching.stopped);
  if (CreatedAt(*good) < CreatedAt(*stopped)) return false;
  if (context.verifications != nullptr) {
    const auto v = context.verifications->find(stopped->id);
    if (v != context.verifications->end() && v->second.result == VerificationResult::kPassed) {
      return false;
    }
  }
  return true;
}

// Ours is deployed: with `verify`, verified first (the reconciler runs it), and on failure
// rolled back; then the others are stopped and the model is Synced and Healthy.
void PlanDeployed(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                  const api::ModelDeployment& serving, const api::ModelDeployment* good,
                  const std::vector<const api::ModelDeployment*>& running,
                  const PlanContext& context, Plan& plan) {
  if (spec.verify) {
    std::optional<Verification> verification;
    if (context.verifications != nullptr) {
      const auto it = context.verifications->find(serving.id);
      if (it != context.verifications->end()) verification = it->second;
    }
    plan.verification = verification.value_or(Verification{});
    if (plan.verification->result == VerificationResult::kPending) {
      FillLiveDeployment(plan.live, serving);
      plan.sync = SyncState::kOutOfSync;
      plan.health = HealthState::kProgressing;
      plan.reconciling = true;
      plan.reason = Reason::kVerifying;
      plan.message = fmt::format("deployment {} is deployed; verifying it", serving.id);
      plan.next = NextCheck::kProgress;
      plan.awaiting = Awaiting{.kind = Awaiting::Kind::kVerification,
                               .build_id = serving.build_id,
                               .deployment_id = serving.id,
                               .since = context.now};
      return;
    }
    if (plan.verification->result == VerificationResult::kFailed) {
      const std::string failure = "verification failed: " + plan.verification->message;
      if (PlanRollback(spec, observed, good, failure, running, context.now, plan)) return;
      FillLiveDeployment(plan.live, serving);
      plan.health = HealthState::kDegraded;
      Stall(plan, Reason::kVerificationFailed,
            fmt::format("deployment {} {}; {}", serving.id, failure,
                        spec.sync.rollback ? "nothing to roll back to" : "rollback is off"));
      return;
    }
  }
  PlanServingDeployment(spec, observed, serving, running, plan);
}

// Once the model exists with the right description: builds, deployments, verification,
// rollback, drift, replicas 0.
void PlanServing(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                 const PlanContext& context, Plan& plan) {
  plan.live.runtime = *observed.runtime_identifier;
  plan.live.version = observed.version->number;
  const std::vector<const api::ModelDeployment*> running = Running(observed);
  if (!running.empty()) FillLiveDeployment(plan.live, *running.front());
  if (PlanScaleToZero(spec, running, plan)) return;

  const MatchingBuilds builds = ClassifyBuilds(observed, BuildMarker(spec), context);
  const api::ModelDeployment* good = FindLastGood(spec, observed, builds, context);
  if (good != nullptr) plan.last_good = DescribeLastGood(observed, *good);
  const api::ModelBuild* build = PlanBuild(spec, observed, builds, !running.empty(), context, plan);
  if (build == nullptr) return;

  const MatchingDeployments deployments = ClassifyDeployments(spec, observed, builds, context);
  if (context.rolled_back || LooksRolledBack(spec, deployments, good, context)) {
    PlanRolledBack(spec, observed, good,
                   context.rolled_back.value_or("its deployment was replaced by the last good one"),
                   running, context.now, plan);
  } else if (const api::ModelDeployment* serving = Newest(deployments.deployed)) {
    PlanDeployed(spec, observed, *serving, good, running, context, plan);
  } else if (const api::ModelDeployment* current = Newest(deployments.in_progress)) {
    FillLiveDeployment(plan.live, *current);
    Wait(plan,
         {.kind = Awaiting::Kind::kDeployment,
          .build_id = current->build_id,
          .deployment_id = current->id,
          .since = CreatedAt(*current)},
         Reason::kDeploymentInProgress, "deployment " + current->id, current->status, context.now,
         spec.sync.deploy_timeout, Reason::kDeploymentTimeout, "deployTimeout");
    if (plan.reason == Reason::kDeploymentTimeout) {
      (void)PlanRollback(spec, observed, good, plan.message, running, context.now, plan);
    }
  } else {
    const bool exhausted = deployments.failed_attempts >= spec.sync.max_attempts;
    const std::string failure = fmt::format("{} of {} deployment attempts failed",
                                            deployments.failed_attempts, spec.sync.max_attempts);
    if (!exhausted || !PlanRollback(spec, observed, good, failure, running, context.now, plan)) {
      PlanNewDeployment(spec, observed, *build, deployments, running, plan);
    }
  }
}

// An authentication change is reported, never written (CML cannot change it).
void ReportImmutableFields(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                           Plan& plan) {
  if (!observed.model || observed.model->auth_enabled == spec.authentication || plan.stalled) {
    return;
  }
  plan.diffs.push_back({"authentication", observed.model->auth_enabled ? "true" : "false",
                        spec.authentication ? "true" : "false"});
  plan.sync = SyncState::kOutOfSync;
  if (!plan.action) {
    plan.reason = Reason::kImmutableFieldChanged;
    plan.message =
        "authentication cannot be changed on an existing CML model; delete and recreate it "
        "by hand to apply";
  }
}

// Read your writes (design 4a): never create again what this reconciler created and CML does
// not show yet, neither in a list nor by id; after kWriteVisibleWithin, stall.
void GuardUnseenWrites(const ObservedState& observed, common::TimePoint now, Plan& plan) {
  if (!plan.action || plan.action->kind == ActionKind::kStopDeployment ||
      plan.action->kind == ActionKind::kUpdateModel) {
    return;
  }
  for (const UnseenWrite& unseen : observed.unseen_writes) {
    if (unseen.kind != plan.action->kind || unseen.found_by_id) continue;
    const common::Duration age = now - unseen.created_at;
    const std::string what = fmt::format("{} created {} ago ({})", ActionName(unseen.kind),
                                         common::FormatDuration(age), unseen.id);
    plan.action.reset();
    if (age < kWriteVisibleWithin) {
      plan.reconciling = true;
      plan.reason = Reason::kWriteNotYetVisible;
      plan.message = what + " is not visible in CML yet; waiting instead of creating it again";
      plan.next = NextCheck::kProgress;
    } else {
      Stall(plan, Reason::kWriteNotObserved,
            what + " never became visible in CML; not created again until a retry");
    }
    return;
  }
}

// Suspended: observe and report only; the would-be action stays visible.
void ApplySuspend(const config::Suspend& suspend, common::TimePoint now, Plan& plan) {
  if (!suspend.suspended || (suspend.until && now >= *suspend.until)) return;
  plan.suppressed_by_suspend = plan.action.has_value();
  plan.health = HealthState::kSuspended;
  plan.reconciling = false;
  plan.stalled = false;
  plan.reason = Reason::kSuspended;
  plan.message = suspend.reason.empty() ? "suspended: observing only" : suspend.reason;
  plan.next = NextCheck::kResync;
  plan.awaiting.reset();
}

}  // namespace

BuildPhase ClassifyBuild(std::string_view status) {
  const std::string s = Lower(status);
  // `succeeded` may come before `pushing` (design section 4): only `built` is done.
  if (s == "built") return BuildPhase::kSucceeded;
  if (s == "build failed" || s == "timedout" || s == "failed") return BuildPhase::kFailed;
  return BuildPhase::kInProgress;
}

DeploymentPhase ClassifyDeployment(std::string_view status) {
  const std::string s = Lower(status);
  if (s == "deployed") return DeploymentPhase::kDeployed;
  if (s == "failed") return DeploymentPhase::kFailed;
  if (s == "stopped") return DeploymentPhase::kStopped;
  return DeploymentPhase::kInProgress;
}

bool IsRunning(std::string_view deployment_status) {
  const DeploymentPhase phase = ClassifyDeployment(deployment_status);
  return phase == DeploymentPhase::kDeployed ||
         (phase == DeploymentPhase::kInProgress && Lower(deployment_status) != "stopping");
}

std::optional<api::Runtime> ResolveRuntime(const config::RuntimeSelector& selector,
                                           const std::vector<api::Runtime>& runtimes) {
  const api::Runtime* best = nullptr;
  for (const api::Runtime& r : runtimes) {
    if (Lower(r.status) != "enabled") continue;
    if (!selector.kernel.empty() && r.kernel != selector.kernel) continue;
    if (!selector.edition.empty() && r.edition != selector.edition) continue;
    if (!selector.editor.empty() && r.editor != selector.editor) continue;
    if (best == nullptr || CompareVersions(r.full_version, best->full_version) > 0 ||
        (CompareVersions(r.full_version, best->full_version) == 0 &&
         r.image_identifier > best->image_identifier)) {
      best = &r;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::string BuildMarker(const config::ModelDeploymentSpec& spec) {
  return fmt::format("cml-reconciler {} {}", spec.name, spec.digest.substr(0, 12));
}

std::string_view ActionName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCreateRegisteredModel:
      return "create_registered_model";
    case ActionKind::kCreateModel:
      return "create_model";
    case ActionKind::kUpdateModel:
      return "update_model";
    case ActionKind::kCreateBuild:
      return "create_build";
    case ActionKind::kCreateDeployment:
      return "create_deployment";
    case ActionKind::kStopDeployment:
      break;
  }
  return "stop_deployment";
}

Plan ComputePlan(const config::ModelDeploymentSpec& desired, const ObservedState& observed,
                 const PlanContext& context) {
  Plan plan;
  plan.live.project_id = desired.project_id;
  if (observed.incomplete) {
    // Identity or matching cannot be decided: no write on a guess.
    if (observed.model) plan.live.model_id = observed.model->id;
    Stall(plan, Reason::kIncompleteCmlResponse, *observed.incomplete);
    return plan;
  }
  const bool decided = PlanRegistry(desired, observed, plan) ||
                       PlanRuntime(desired, observed, plan) || PlanModel(desired, observed, plan);
  if (!decided) PlanServing(desired, observed, context, plan);
  ReportImmutableFields(desired, observed, plan);
  GuardUnseenWrites(observed, context.now, plan);
  ApplyWriteBudget(desired, observed, context, plan);
  ApplySuspend(desired.sync.suspend, context.now, plan);
  return plan;
}

void TrimObservation(const config::ModelDeploymentSpec& desired,
                     const std::map<std::string, Verification>& verifications,
                     const WriteLedger* ledger, ObservedState& observed) {
  std::set<std::string> keep;  // deployment ids
  if (observed.version && observed.runtime_identifier) {
    const PlanContext context{.ledger = ledger, .verifications = &verifications};
    const MatchingBuilds builds = ClassifyBuilds(observed, BuildMarker(desired), context);
    const MatchingDeployments matching = ClassifyDeployments(desired, observed, builds, context);
    for (const auto* group : {&matching.deployed, &matching.in_progress, &matching.failed}) {
      for (const api::ModelDeployment* d : *group) keep.insert(d->id);
    }
    if (const api::ModelDeployment* stopped = Newest(matching.stopped)) keep.insert(stopped->id);
    if (const api::ModelDeployment* good = FindLastGood(desired, observed, builds, context)) {
      keep.insert(good->id);
    }
  }
  std::erase_if(observed.deployments, [&](const api::ModelDeployment& d) {
    return !IsRunning(d.status) && keep.count(d.id) == 0;
  });
  // erase_if keeps the capacity the whole history needed: give it back, or the cached
  // observation would still grow with CML's history (one slot per deployment ever listed).
  observed.deployments.shrink_to_fit();
  // Builds: the desired version on the desired runtime, those the write budget counts (marked
  // for this spec, whatever runtime a selector resolved to then), and those of the kept
  // deployments.
  const std::string marker = BuildMarker(desired);
  std::erase_if(observed.builds, [&](const api::ModelBuild& b) {
    const bool matching = observed.version && observed.runtime_identifier &&
                          b.registered_model_version_id == observed.version->model_version_id &&
                          b.runtime_identifier == *observed.runtime_identifier;
    return !matching && b.comment != marker &&
           std::none_of(observed.deployments.begin(), observed.deployments.end(),
                        [&](const api::ModelDeployment& d) { return d.build_id == b.id; });
  });
  observed.builds.shrink_to_fit();
  // Versions: those of the kept builds (the last good one's number, for messages).
  if (observed.registered_model) {
    std::erase_if(
        observed.registered_model->model_versions, [&](const api::RegisteredModelVersion& v) {
          return std::none_of(observed.builds.begin(), observed.builds.end(),
                              [&](const api::ModelBuild& b) {
                                return b.registered_model_version_id == v.model_version_id;
                              });
        });
    observed.registered_model->model_versions.shrink_to_fit();
  }
}

Plan ComputePrunePlan(const std::string& project_id, const ObservedState& observed) {
  Plan plan;
  plan.live.project_id = project_id;
  if (observed.model) plan.live.model_id = observed.model->id;
  const std::vector<const api::ModelDeployment*> running = Running(observed);
  if (!running.empty()) {
    plan.diffs.push_back(
        {"deployment " + running.front()->id, running.front()->status, "stopped (pruned)"});
    Act(plan, StopAction(project_id, *running.front(), "removed from the desired state"),
        Reason::kPruning, HealthState::kProgressing);
    return plan;
  }
  Settle(plan, SyncState::kSynced, HealthState::kMissing, Reason::kPruned,
         "removed from the desired state; nothing of it serves");
  return plan;
}

}  // namespace cmlr::controllers
