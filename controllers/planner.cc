#include "controllers/planner.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "common/duration.h"

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

void Stall(Plan& plan, std::string reason, std::string message) {
  plan.stalled = true;
  plan.reconciling = false;
  plan.sync = SyncState::kOutOfSync;
  if (plan.health == HealthState::kUnknown) plan.health = HealthState::kDegraded;
  plan.reason = std::move(reason);
  plan.message = std::move(message);
  plan.next = NextCheck::kStalled;
}

void Act(Plan& plan, PlannedAction action, std::string reason, HealthState health) {
  plan.sync = SyncState::kOutOfSync;
  plan.health = health;
  plan.reconciling = true;
  plan.reason = std::move(reason);
  plan.message = action.summary;
  plan.next = NextCheck::kProgress;
  plan.action = std::move(action);
}

void Wait(Plan& plan, std::string reason, std::string message, common::TimePoint since) {
  plan.sync = SyncState::kOutOfSync;
  plan.health = HealthState::kProgressing;
  plan.reconciling = true;
  plan.reason = std::move(reason);
  plan.message = std::move(message);
  plan.next = NextCheck::kProgress;
  plan.waiting_since = since;
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

// Plans the registry, runtime and model steps. Returns true when the plan is decided.
bool PlanPrerequisites(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                       Plan& plan) {
  const config::RegisteredModelRef& ref = spec.registered_model;
  const std::string registry_name = ref.name.empty() ? "id " + ref.id : ref.name;
  if (!observed.registered_model || !observed.version) {
    if (ref.from_experiment_run && !ref.name.empty()) {
      PlannedAction action{.kind = ActionKind::kCreateRegisteredModel};
      action.project_id = spec.project_id;
      action.register_request = {.project_id = spec.project_id,
                                 .experiment_id = ref.from_experiment_run->experiment_id,
                                 .run_id = ref.from_experiment_run->run_id,
                                 .model_path = ref.from_experiment_run->model_path,
                                 .model_name = ref.name};
      action.summary = fmt::format("register MLflow run {} of experiment {} as a version of {}",
                                   ref.from_experiment_run->run_id,
                                   ref.from_experiment_run->experiment_id, ref.name);
      plan.diffs.push_back(
          {"registeredModel.version", "<none>", "from run " + ref.from_experiment_run->run_id});
      Act(plan, std::move(action), "RegisteringModelVersion",
          observed.model ? HealthState::kProgressing : HealthState::kMissing);
      return true;
    }
    plan.health = observed.model ? HealthState::kDegraded : HealthState::kMissing;
    const std::string what =
        !observed.registered_model ? fmt::format("registered model {} not found", registry_name)
        : ref.version
            ? fmt::format("registered model {} has no version {}", registry_name, *ref.version)
            : fmt::format("registered model {} has no version from run {}", registry_name,
                          ref.from_experiment_run->run_id);
    Stall(plan, "RegisteredModelVersionNotFound", what);
    return true;
  }
  plan.live.registered_model_id = observed.registered_model->model_id;
  plan.live.registered_model_version_id = observed.version->model_version_id;

  if (!observed.runtime_identifier) {
    const auto& selector = std::get<config::RuntimeSelector>(spec.runtime);
    plan.health = observed.model ? HealthState::kDegraded : HealthState::kMissing;
    Stall(plan, "RuntimeNotFound",
          fmt::format("no ENABLED runtime matches kernel=\"{}\" edition=\"{}\" editor=\"{}\"",
                      selector.kernel, selector.edition, selector.editor));
    return true;
  }

  if (!observed.model) {
    PlannedAction action{.kind = ActionKind::kCreateModel};
    action.project_id = spec.project_id;
    action.model_request = {.project_id = spec.project_id,
                            .name = spec.model_name,
                            .description = spec.description,
                            .disable_authentication = !spec.authentication,
                            .registered_model_id = observed.registered_model->model_id};
    action.summary = fmt::format("create model {} in project {}", spec.model_name, spec.project_id);
    plan.diffs.push_back({"model", "<none>", spec.model_name});
    Act(plan, std::move(action), "CreatingModel", HealthState::kMissing);
    return true;
  }
  const api::Model& model = *observed.model;
  plan.live.model_id = model.id;
  plan.live.auth_enabled = model.auth_enabled;
  if (model.description != spec.description) {
    PlannedAction action{.kind = ActionKind::kUpdateModel};
    action.project_id = spec.project_id;
    action.model_id = model.id;
    action.update_request = {.id = model.id, .description = spec.description};
    action.summary = fmt::format("update description of model {}", spec.model_name);
    plan.diffs.push_back({"description", model.description, spec.description});
    Act(plan, std::move(action), "UpdatingModel", HealthState::kProgressing);
    return true;
  }
  return false;
}

// Plans builds and deployments once the model exists with the right description.
void PlanServing(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
                 const PlanContext& context, Plan& plan) {
  const std::string& runtime = *observed.runtime_identifier;
  const std::string& version_id = observed.version->model_version_id;
  const std::string marker = BuildMarker(spec);
  plan.live.runtime = runtime;
  plan.live.version = observed.version->number;

  const std::vector<const api::ModelDeployment*> running = Running(observed);
  if (!running.empty()) FillLiveDeployment(plan.live, *running.front());

  if (spec.resources.replicas == 0) {
    if (!running.empty()) {
      plan.diffs.push_back({"resources.replicas", std::to_string(running.front()->replicas), "0"});
      Act(plan, StopAction(spec.project_id, *running.front(), "replicas: 0"), "ScalingToZero",
          HealthState::kProgressing);
      return;
    }
    plan.sync = SyncState::kSynced;
    plan.health = HealthState::kSuspended;
    plan.reason = "ScaledToZero";
    plan.message = "replicas: 0; the model and its build are kept, nothing serves";
    return;
  }

  std::vector<const api::ModelBuild*> succeeded, in_progress;
  int failed_attempts = 0;
  std::string last_failure;
  for (const api::ModelBuild& b : observed.builds) {
    if (b.registered_model_version_id != version_id || b.runtime_identifier != runtime) continue;
    switch (ClassifyBuild(b.status)) {
      case BuildPhase::kSucceeded:
        succeeded.push_back(&b);
        break;
      case BuildPhase::kInProgress:
        in_progress.push_back(&b);
        break;
      case BuildPhase::kFailed:
        if (b.comment == marker && CreatedAt(b) >= context.attempts_since) {
          ++failed_attempts;
          last_failure = fmt::format("build {} ended with status \"{}\"", b.id, b.status);
        }
        break;
    }
  }

  const api::ModelBuild* build = Newest(succeeded);
  if (build == nullptr) {
    if (const api::ModelBuild* current = Newest(in_progress)) {
      plan.live.build_id = current->id;
      plan.live.build_status = current->status;
      const common::TimePoint since = CreatedAt(*current);
      Wait(plan, "BuildInProgress", fmt::format("build {} is {}", current->id, current->status),
           since);
      if (context.now - since > spec.sync.build_timeout) {
        plan.health = HealthState::kDegraded;
        plan.reason = "BuildTimeout";
        plan.message = fmt::format("build {} still \"{}\" after {} (buildTimeout {})", current->id,
                                   current->status, common::FormatDuration(context.now - since),
                                   common::FormatDuration(spec.sync.build_timeout));
      }
      return;
    }
    if (failed_attempts >= spec.sync.max_attempts) {
      Stall(plan, "BuildFailed",
            fmt::format("{} of {} build attempts failed; last: {}", failed_attempts,
                        spec.sync.max_attempts, last_failure));
      return;
    }
    PlannedAction action{.kind = ActionKind::kCreateBuild};
    action.project_id = spec.project_id;
    action.model_id = observed.model->id;
    action.build_request = {.project_id = spec.project_id,
                            .model_id = observed.model->id,
                            .comment = marker,
                            .runtime_identifier = runtime,
                            .registered_model_version_id = version_id};
    action.summary =
        fmt::format("create build of version {} on runtime {}", observed.version->number, runtime);
    plan.diffs.push_back(
        {"build", "<none>", fmt::format("version {} on {}", observed.version->number, runtime)});
    Act(plan, std::move(action), failed_attempts > 0 ? "RetryingBuild" : "CreatingBuild",
        running.empty() ? HealthState::kMissing : HealthState::kProgressing);
    return;
  }
  plan.live.build_id = build->id;
  plan.live.build_status = build->status;

  std::vector<const api::ModelDeployment*> deployed, pending, stopped;
  int failed_deployments = 0;
  for (const api::ModelDeployment& d : observed.deployments) {
    const bool on_matching_build =
        std::any_of(succeeded.begin(), succeeded.end(),
                    [&](const api::ModelBuild* b) { return b->id == d.build_id; });
    if (!on_matching_build || !DeploymentMatches(d, spec)) continue;
    switch (ClassifyDeployment(d.status)) {
      case DeploymentPhase::kDeployed:
        deployed.push_back(&d);
        break;
      case DeploymentPhase::kInProgress:
        pending.push_back(&d);
        break;
      case DeploymentPhase::kStopped:
        stopped.push_back(&d);
        break;
      case DeploymentPhase::kFailed:
        if (CreatedAt(d) >= context.attempts_since) ++failed_deployments;
        break;
    }
  }

  if (const api::ModelDeployment* serving = Newest(deployed)) {
    FillLiveDeployment(plan.live, *serving);
    for (const api::ModelDeployment* other : running) {
      if (other->id == serving->id) continue;
      plan.diffs.push_back({"deployment " + other->id, other->status, "stopped"});
      Act(plan, StopAction(spec.project_id, *other, "superseded"), "StoppingOldDeployment",
          HealthState::kHealthy);
      return;
    }
    plan.sync = SyncState::kSynced;
    plan.health = HealthState::kHealthy;
    plan.reason = "Synced";
    plan.message = fmt::format("version {} serving on deployment {} with {} replica(s)",
                               observed.version->number, serving->id, serving->replicas);
    return;
  }
  if (const api::ModelDeployment* current = Newest(pending)) {
    FillLiveDeployment(plan.live, *current);
    const common::TimePoint since = CreatedAt(*current);
    Wait(plan, "DeploymentInProgress",
         fmt::format("deployment {} is {}", current->id, current->status), since);
    if (context.now - since > spec.sync.deploy_timeout) {
      plan.health = HealthState::kDegraded;
      plan.reason = "DeploymentTimeout";
      plan.message =
          fmt::format("deployment {} still \"{}\" after {} (deployTimeout {})", current->id,
                      current->status, common::FormatDuration(context.now - since),
                      common::FormatDuration(spec.sync.deploy_timeout));
    }
    return;
  }

  // Nothing matching serves. If a matching deployment once did and was stopped from outside,
  // or a hand-made one replaced it, that is drift; otherwise it is a new spec to roll out.
  const bool drifted = !stopped.empty();
  if (!running.empty()) {
    for (FieldDiff& diff : DeploymentDiffs(*running.front(), spec)) {
      if (drifted) plan.drift.push_back(diff.field);
      plan.diffs.push_back(std::move(diff));
    }
    if (running.front()->build_id != build->id && plan.diffs.empty()) {
      plan.diffs.push_back({"deployment.build", running.front()->build_id, build->id});
    }
  } else {
    plan.diffs.push_back({"deployment", "<none>", "deployed"});
    if (drifted) plan.drift.push_back("deployment");
  }
  if (drifted && !spec.sync.self_heal) {
    plan.sync = SyncState::kOutOfSync;
    plan.health = running.empty() ? HealthState::kDegraded : HealthState::kHealthy;
    plan.reason = "DriftDetected";
    plan.message = "the deployment was changed outside git and selfHeal is false";
    plan.next = NextCheck::kResync;
    return;
  }
  if (failed_deployments >= spec.sync.max_attempts) {
    Stall(plan, "DeploymentFailed",
          fmt::format("{} of {} deployment attempts failed", failed_deployments,
                      spec.sync.max_attempts));
    return;
  }
  PlannedAction action{.kind = ActionKind::kCreateDeployment};
  action.project_id = spec.project_id;
  action.model_id = observed.model->id;
  action.build_id = build->id;
  action.deployment_request = {.project_id = spec.project_id,
                               .model_id = observed.model->id,
                               .build_id = build->id,
                               .cpu = spec.resources.cpu,
                               .memory = spec.resources.memory_gib,
                               .nvidia_gpus = spec.resources.gpus,
                               .environment = spec.environment,
                               .replicas = spec.resources.replicas};
  action.summary = fmt::format("deploy build {} with cpu {} memory {}Gi gpus {} replicas {}",
                               build->id, spec.resources.cpu, spec.resources.memory_gib,
                               spec.resources.gpus, spec.resources.replicas);
  std::string reason = drifted                  ? "UndoingDrift"
                       : failed_deployments > 0 ? "RetryingDeployment"
                                                : "CreatingDeployment";
  Act(plan, std::move(action), std::move(reason),
      running.empty() ? HealthState::kMissing : HealthState::kProgressing);
}

}  // namespace

BuildPhase ClassifyBuild(std::string_view status) {
  const std::string s = Lower(status);
  if (s == "built" || s == "succeeded") return BuildPhase::kSucceeded;
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
  if (!PlanPrerequisites(desired, observed, plan)) {
    PlanServing(desired, observed, context, plan);
  }
  if (observed.model && observed.model->auth_enabled != desired.authentication && !plan.stalled) {
    // CML cannot change a model's authentication: report it, keep everything else going.
    plan.diffs.push_back({"authentication", observed.model->auth_enabled ? "true" : "false",
                          desired.authentication ? "true" : "false"});
    plan.sync = SyncState::kOutOfSync;
    if (!plan.action) {
      plan.reason = "ImmutableFieldChanged";
      plan.message =
          "authentication cannot be changed on an existing CML model; delete and recreate it "
          "by hand to apply";
    }
  }
  const config::Suspend& suspend = desired.sync.suspend;
  if (suspend.suspended && (!suspend.until || context.now < *suspend.until)) {
    plan.suppressed_by_suspend = plan.action.has_value();
    plan.health = HealthState::kSuspended;
    plan.reconciling = false;
    plan.stalled = false;
    plan.reason = "Suspended";
    plan.message = suspend.reason.empty() ? "suspended: observing only" : suspend.reason;
    plan.next = NextCheck::kResync;
    plan.waiting_since.reset();
  }
  return plan;
}

Plan ComputePrunePlan(const std::string& project_id, const ObservedState& observed) {
  Plan plan;
  plan.live.project_id = project_id;
  if (observed.model) plan.live.model_id = observed.model->id;
  const std::vector<const api::ModelDeployment*> running = Running(observed);
  if (!running.empty()) {
    plan.diffs.push_back(
        {"deployment " + running.front()->id, running.front()->status, "stopped (pruned)"});
    Act(plan, StopAction(project_id, *running.front(), "removed from the desired state"), "Pruning",
        HealthState::kProgressing);
    return plan;
  }
  plan.sync = SyncState::kSynced;
  plan.health = HealthState::kMissing;
  plan.reason = "Pruned";
  plan.message = "removed from the desired state; nothing of it serves";
  return plan;
}

}  // namespace cmlr::controllers
