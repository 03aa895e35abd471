#include "controllers/model_reconciler.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::controllers {

namespace net = boost::asio;
using common::Status;
using common::StatusOr;

namespace {

std::string_view AuthAwareReason(const Status& status) {
  switch (status.code()) {
    case common::StatusCode::kUnauthenticated:
    case common::StatusCode::kPermissionDenied:
      return "AuthenticationFailed";
    case common::StatusCode::kUnavailable:
      return "CmlUnavailable";
    default:
      return "ReconcileError";
  }
}

Condition MakeCondition(std::string_view type, bool value, std::string reason, std::string message,
                        const std::string& generation) {
  return {.type = std::string(type),
          .status = value ? "True" : "False",
          .reason = std::move(reason),
          .message = std::move(message),
          .observed_generation = generation};
}

api::ListOptions ModelNameFilter(const config::ModelDeploymentSpec& spec) {
  api::ListOptions options;
  options.search_filter["name"] = spec.model_name;
  return options;
}

// The past-tense log verb of an action.
std::string_view Verb(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCreateRegisteredModel:
      return "Registered model version";
    case ActionKind::kCreateModel:
      return "Created model";
    case ActionKind::kUpdateModel:
      return "Updated model";
    case ActionKind::kCreateBuild:
      return "Created build";
    case ActionKind::kCreateDeployment:
      return "Created deployment";
    case ActionKind::kStopDeployment:
      break;
  }
  return "Stopped deployment";
}

}  // namespace

ModelReconciler::ModelReconciler(api::CmlClient& client, common::Clock& clock,
                                 StatusStore& statuses, ControllerMetrics* metrics,
                                 std::shared_ptr<spdlog::logger> logger, ReconcilerOptions options)
    : client_(client),
      clock_(clock),
      statuses_(statuses),
      metrics_(metrics),
      logger_(std::move(logger)),
      options_(options),
      jitter_(options.jitter_seed),
      listings_(client, clock, options.listing_max_age) {}

void ModelReconciler::Retry(const std::string& name) {
  memory_[name].retry_requested_at = clock_.Now();
}

net::awaitable<StatusOr<ObservedState>> ModelReconciler::Observe(
    const config::ModelDeploymentSpec& spec, std::string* resolved_runtime) {
  ObservedState observed;
  const config::RegisteredModelRef& ref = spec.registered_model;

  std::string registry_id = ref.id;
  if (registry_id.empty()) {
    api::ListOptions by_name;
    by_name.search_filter["model_name"] = ref.name;
    auto listed = co_await client_.ListRegisteredModels(std::move(by_name));
    if (!listed.ok()) co_return listed.status().Annotate("list_registered_models");
    for (const api::RegisteredModel& m : *listed) {
      if (m.name == ref.name) registry_id = m.model_id;  // exact: the filter is a substring
    }
  }
  if (!registry_id.empty()) {
    auto model = co_await client_.GetRegisteredModel(registry_id, api::ListOptions());
    if (model.ok()) {
      observed.registered_model = std::move(model).value();
    } else if (model.status().code() != common::StatusCode::kNotFound) {
      co_return model.status().Annotate("get_registered_model");
    }
  }
  if (observed.registered_model) {
    for (const api::RegisteredModelVersion& v : observed.registered_model->model_versions) {
      const bool match = ref.version ? v.number == *ref.version
                                     : v.model_version_metadata.mlflow_metadata.run_id ==
                                           ref.from_experiment_run->run_id;
      if (match && (!observed.version || v.number > observed.version->number)) observed.version = v;
    }
  }

  if (const auto* image = std::get_if<std::string>(&spec.runtime)) {
    observed.runtime_identifier = *image;
  } else {
    const auto& selector = std::get<config::RuntimeSelector>(spec.runtime);
    nlohmann::json filter = nlohmann::json::object();
    if (!selector.kernel.empty()) filter["kernel"] = selector.kernel;
    if (!selector.edition.empty()) filter["edition"] = selector.edition;
    if (!selector.editor.empty()) filter["editor"] = selector.editor;
    api::ListOptions by_selector;
    by_selector.search_filter = std::move(filter);
    auto runtimes = co_await client_.ListRuntimes(std::move(by_selector));
    if (!runtimes.ok()) co_return runtimes.status().Annotate("list_runtimes");
    if (auto runtime = ResolveRuntime(selector, *runtimes)) {
      observed.runtime_identifier = runtime->image_identifier;
    }
  }
  if (resolved_runtime != nullptr) *resolved_runtime = observed.runtime_identifier.value_or("");

  const Status model = co_await ObserveModel(spec, observed);
  if (!model.ok()) co_return model;
  co_return observed;
}

net::awaitable<Status> ModelReconciler::ObserveModel(const config::ModelDeploymentSpec& spec,
                                                     ObservedState& observed) {
  auto models = co_await client_.ListModels(spec.project_id, ModelNameFilter(spec));
  if (!models.ok()) co_return models.status().Annotate("list_models");
  for (api::Model& m : *models) {
    if (m.name == spec.model_name) observed.model = std::move(m);
  }
  if (!observed.model) co_return common::OkStatus();

  auto builds =
      co_await client_.ListModelBuilds(spec.project_id, observed.model->id, api::ListOptions());
  if (!builds.ok()) co_return builds.status().Annotate("list_model_builds");
  observed.builds = std::move(builds).value();
  for (const api::ModelBuild& build : observed.builds) {
    // A failed build never had a deployment; every other one may have.
    if (ClassifyBuild(build.status) == BuildPhase::kFailed) continue;
    auto deployments = co_await client_.ListModelDeployments(spec.project_id, observed.model->id,
                                                             build.id, api::ListOptions());
    if (!deployments.ok()) co_return deployments.status().Annotate("list_model_deployments");
    for (api::ModelDeployment& d : *deployments) observed.deployments.push_back(std::move(d));
  }
  co_return common::OkStatus();
}

net::awaitable<Status> ModelReconciler::ObserveFully(const config::ModelDeploymentSpec& spec,
                                                     Memory& memory, ModelStatus& status) {
  const common::TimePoint start = clock_.Now();
  auto observed = co_await Observe(spec, &status.resolved_runtime);
  if (!observed.ok()) {
    RecordError(status, "observe", observed.status(), clock_.Now() - start, clock_.Now());
    co_return observed.status();
  }
  memory.observed = std::move(observed).value();
  memory.model_created_by_us = false;
  memory.last_full_at = start;
  co_return common::OkStatus();
}

net::awaitable<Status> ModelReconciler::Refresh(const config::ModelDeploymentSpec& spec,
                                                Memory& memory) {
  ObservedState& observed = *memory.observed;
  const std::string& model_id = observed.model->id;
  if (memory.focus == Focus::kBuild) {
    auto build = co_await client_.GetModelBuild(spec.project_id, model_id, memory.focus_build_id);
    if (!build.ok()) co_return build.status().Annotate("get_model_build");
    for (api::ModelBuild& b : observed.builds) {
      if (b.id == build->id) b = *build;
    }
  } else {
    auto deployment = co_await client_.GetModelDeployment(
        spec.project_id, model_id, memory.focus_build_id, memory.focus_deployment_id);
    if (!deployment.ok()) co_return deployment.status().Annotate("get_model_deployment");
    for (api::ModelDeployment& d : observed.deployments) {
      if (d.id == deployment->id) d = *deployment;
    }
  }
  co_return common::OkStatus();
}

net::awaitable<StatusOr<bool>> ModelReconciler::Recheck(const config::ModelDeploymentSpec& spec,
                                                        Memory& memory, ModelStatus& status) {
  ObservedState& observed = *memory.observed;
  auto models = co_await listings_.ProjectModels(spec.project_id);
  if (!models.ok()) co_return models.status().Annotate("list_models");
  const auto model = std::find_if((*models)->begin(), (*models)->end(), [&](const api::Model& m) {
    return m.name == spec.model_name && m.id == observed.model->id;
  });
  if (model == (*models)->end()) co_return false;
  observed.model = *model;

  if (const auto* selector = std::get_if<config::RuntimeSelector>(&spec.runtime)) {
    auto runtimes = co_await listings_.AllRuntimes();
    if (!runtimes.ok()) co_return runtimes.status().Annotate("list_runtimes");
    const auto runtime = ResolveRuntime(*selector, **runtimes);
    observed.runtime_identifier =
        runtime ? std::optional<std::string>(runtime->image_identifier) : std::nullopt;
    status.resolved_runtime = observed.runtime_identifier.value_or("");
  }

  auto deployment = co_await client_.GetModelDeployment(
      spec.project_id, observed.model->id, memory.focus_build_id, memory.focus_deployment_id);
  if (!deployment.ok()) {
    if (deployment.status().code() == common::StatusCode::kNotFound) co_return false;
    co_return deployment.status().Annotate("get_model_deployment");
  }
  for (api::ModelDeployment& d : observed.deployments) {
    if (d.id == deployment->id) d = *deployment;
  }
  co_return true;
}

bool ModelReconciler::ChainAllowed(const PlannedAction& action, const Memory& memory,
                                   bool refreshed) const {
  if (action.kind == ActionKind::kCreateBuild) {
    return memory.model_created_by_us && memory.observed && memory.observed->builds.empty();
  }
  if (action.kind == ActionKind::kCreateDeployment) {
    return refreshed && !memory.build_created_by_us.empty() &&
           action.build_id == memory.build_created_by_us;
  }
  return false;
}

net::awaitable<Status> ModelReconciler::Act(const std::string& name, const PlannedAction& action,
                                            Memory& memory, ModelStatus& status) {
  const common::TimePoint start = clock_.Now();
  ObservedState& observed = *memory.observed;
  Status result;
  std::string detail;
  switch (action.kind) {
    case ActionKind::kCreateRegisteredModel: {
      auto r = co_await client_.CreateRegisteredModel(action.register_request);
      result = r.status();
      if (r.ok()) {
        detail = fmt::format("registered_model_id={}", r->model_id);
        memory.observed.reset();  // the new version is read back by a full observation
      }
      break;
    }
    case ActionKind::kCreateModel: {
      auto r = co_await client_.CreateModel(action.project_id, action.model_request);
      result = r.status();
      if (r.ok()) {
        detail = fmt::format("model_id={}", r->id);
        observed.model = *r;
        observed.builds.clear();
        observed.deployments.clear();
        memory.model_created_by_us = true;
      }
      break;
    }
    case ActionKind::kUpdateModel: {
      auto r =
          co_await client_.UpdateModel(action.project_id, action.model_id, action.update_request);
      result = r.status();
      if (r.ok()) {
        detail = fmt::format("model_id={}", r->id);
        observed.model = *r;
      }
      break;
    }
    case ActionKind::kCreateBuild: {
      auto r = co_await client_.CreateModelBuild(action.project_id, action.model_id,
                                                 action.build_request);
      result = r.status();
      if (r.ok()) {
        detail = fmt::format("build_id={}", r->id);
        observed.builds.push_back(*r);
        memory.build_created_by_us = r->id;
      }
      break;
    }
    case ActionKind::kCreateDeployment: {
      auto r = co_await client_.CreateModelDeployment(action.project_id, action.model_id,
                                                      action.build_id, action.deployment_request);
      result = r.status();
      if (r.ok()) {
        detail = fmt::format("deployment_id={}", r->id);
        observed.deployments.push_back(*r);
      }
      break;
    }
    case ActionKind::kStopDeployment: {
      auto r = co_await client_.StopModelDeployment(action.project_id, action.model_id,
                                                    action.build_id, action.deployment_id);
      result = r.status();
      if (r.ok()) {
        detail = fmt::format("deployment_id={}", r->id);
        for (api::ModelDeployment& d : observed.deployments) {
          if (d.id == r->id) d = *r;
        }
      }
      break;
    }
  }
  const common::TimePoint end = clock_.Now();
  const std::string_view operation = ActionName(action.kind);
  if (metrics_ != nullptr) metrics_->CountAction(name, operation, result.ok());
  status.AddHistory({.time = end,
                     .operation = std::string(operation),
                     .http_status = result.ok() ? 200 : result.http_status(),
                     .duration = end - start,
                     .error = !result.ok(),
                     .message = result.ok() ? action.summary : result.ToString()});
  if (result.ok()) {
    if (logger_) logger_->info("{} model={} {}", Verb(action.kind), name, detail);
  } else if (logger_) {
    logger_->warn("Failed {} model={} outcome_unknown={} error=\"{}\"", operation, name,
                  result.outcome_unknown(), result.ToString());
  }
  co_return result;
}

common::Duration ModelReconciler::NextDelay(const Plan& plan, bool wrote, common::TimePoint now) {
  if (wrote && plan.action) {
    const ActionKind kind = plan.action->kind;
    // The next step of a chain needs no waiting; a build or deployment needs CML's time.
    if (kind != ActionKind::kCreateBuild && kind != ActionKind::kCreateDeployment &&
        kind != ActionKind::kStopDeployment) {
      return common::Duration::zero();
    }
    return options_.poll_min;
  }
  if (plan.next == NextCheck::kProgress) {
    const common::Duration waited =
        plan.waiting_since ? std::max(common::Duration::zero(), now - *plan.waiting_since)
                           : common::Duration::zero();
    return std::clamp(waited / 10, options_.poll_min, options_.poll_max);
  }
  return jitter_.PlusMinus(options_.resync, 0.10);
}

void ModelReconciler::RecordPlan(const config::ModelDeploymentSpec& spec, const Plan& plan,
                                 ModelStatus& status, common::TimePoint now) {
  status.labels = spec.labels;
  status.sync = plan.sync;
  status.health = plan.health;
  status.live = plan.live;
  status.desired_digest = spec.digest;
  status.desired_replicas = spec.resources.replicas;
  status.removed = false;
  status.planned_action.clear();
  if (plan.action) {
    status.planned_action =
        fmt::format("{}{}: {}", ActionName(plan.action->kind),
                    plan.suppressed_by_suspend ? " (suspended)" : "", plan.action->summary);
  }
  const bool ready = plan.sync == SyncState::kSynced && (plan.health == HealthState::kHealthy ||
                                                         plan.health == HealthState::kSuspended);
  status.SetCondition(MakeCondition(kConditionReady, ready, plan.reason, plan.message, spec.digest),
                      now);
  status.SetCondition(MakeCondition(kConditionReconciling, plan.reconciling, plan.reason,
                                    plan.reconciling ? plan.message : "", spec.digest),
                      now);
  status.SetCondition(
      MakeCondition(kConditionStalled, plan.stalled, plan.stalled ? plan.reason : "NotStalled",
                    plan.stalled ? plan.message : "", spec.digest),
      now);
  if (plan.sync == SyncState::kSynced) status.last_synced_at = now;
}

void ModelReconciler::RecordError(ModelStatus& status, std::string_view operation,
                                  const Status& error, common::Duration duration,
                                  common::TimePoint now) {
  status.AddHistory({.time = now,
                     .operation = std::string(operation),
                     .http_status = error.http_status(),
                     .duration = duration,
                     .error = true,
                     .message = error.ToString()});
  status.SetCondition(MakeCondition(kConditionReady, false, std::string(AuthAwareReason(error)),
                                    error.ToString(), status.desired_digest),
                      now);
}

net::awaitable<StatusOr<Plan>> ModelReconciler::PlanOnly(config::ModelDeploymentSpec spec) {
  auto observed = co_await Observe(spec, nullptr);
  if (!observed.ok()) co_return observed.status();
  co_return ComputePlan(spec, *observed, {.now = clock_.Now()});
}

net::awaitable<StatusOr<PassResult>> ModelReconciler::Prune(std::string name, Memory& memory) {
  ModelStatus& status = statuses_.Get(name);
  status.removed = true;
  const config::ModelDeploymentSpec& spec = *memory.last_spec;
  const common::TimePoint start = clock_.Now();
  ObservedState observed;
  const Status observed_status = co_await ObserveModel(spec, observed);
  if (!observed_status.ok()) {
    RecordError(status, "observe", observed_status, clock_.Now() - start, clock_.Now());
    co_return observed_status;
  }
  memory.observed = observed;
  PassResult result;
  result.plan = ComputePrunePlan(spec.project_id, observed);
  status.sync = result.plan.sync;
  status.health = result.plan.health;
  if (result.plan.action && !options_.dry_run) {
    const Status acted = co_await Act(name, *result.plan.action, memory, status);
    if (!acted.ok()) co_return acted;
    result.wrote = true;
    result.requeue_after = options_.poll_min;
  }
  co_return result;
}

net::awaitable<StatusOr<PassResult>> ModelReconciler::Reconcile(
    std::string name, std::shared_ptr<const config::Snapshot> snapshot) {
  Memory& memory = memory_[name];
  const config::ModelDeploymentSpec* spec = snapshot->Find(name);
  if (spec == nullptr) {
    if (options_.prune && memory.last_spec) co_return co_await Prune(name, memory);
    if (ModelStatus* status = statuses_.Find(name)) {
      status->removed = true;
    }
    co_return PassResult{};
  }
  ModelStatus& status = statuses_.Get(name);
  common::TimePoint now = clock_.Now();
  if (memory.retry_requested_at) {
    memory.attempts_since = *memory.retry_requested_at;
    memory.observed.reset();
    memory.focus = Focus::kNone;
    memory.retry_requested_at.reset();
  }
  memory.last_spec = *spec;
  if (memory.generation != spec->digest) {
    memory.generation = spec->digest;
    memory.generation_seen_at = now;
    memory.observed.reset();
    memory.drift_counted = false;
  }
  status.desired_digest = spec->digest;

  bool full = false, refreshed = false;
  const common::TimePoint observe_start = now;
  if (memory.observed && memory.focus == Focus::kSynced) {
    bool usable = now - memory.last_full_at < options_.full_observe_every;
    if (usable) {
      auto rechecked = co_await Recheck(*spec, memory, status);
      if (!rechecked.ok()) {
        memory.observed.reset();
        RecordError(status, "observe", rechecked.status(), clock_.Now() - observe_start,
                    clock_.Now());
        co_return rechecked.status();
      }
      usable = *rechecked;
    }
    if (!usable) memory.observed.reset();
  }
  if (!memory.observed) {
    const Status observed = co_await ObserveFully(*spec, memory, status);
    if (!observed.ok()) co_return observed;
    full = true;
  } else if (memory.focus == Focus::kBuild || memory.focus == Focus::kDeployment) {
    const Status refresh = co_await Refresh(*spec, memory);
    if (!refresh.ok()) {
      memory.observed.reset();
      RecordError(status, "observe", refresh, clock_.Now() - observe_start, clock_.Now());
      co_return refresh;
    }
    refreshed = true;
  }
  now = clock_.Now();
  Plan plan =
      ComputePlan(*spec, *memory.observed, {.now = now, .attempts_since = memory.attempts_since});
  const bool wants_write = plan.action && !plan.suppressed_by_suspend;
  if (wants_write && !full && !ChainAllowed(*plan.action, memory, refreshed)) {
    const Status observed = co_await ObserveFully(*spec, memory, status);
    if (!observed.ok()) co_return observed;
    full = true;
    now = clock_.Now();
    plan =
        ComputePlan(*spec, *memory.observed, {.now = now, .attempts_since = memory.attempts_since});
  }

  PassResult result;
  bool hold = false;
  if (memory.pending) {
    const bool same = plan.action && plan.action->kind == memory.pending->kind;
    if (same && now < memory.pending->at + options_.ambiguous_grace) {
      hold = true;  // the write may have landed and not be visible yet: never duplicate
      plan.message = fmt::format("waiting to confirm an earlier {} whose outcome is unknown",
                                 ActionName(memory.pending->kind));
    } else {
      memory.pending.reset();
    }
  }

  if (plan.action && !plan.suppressed_by_suspend && !options_.dry_run && !hold) {
    const PlannedAction action = *plan.action;
    const Status acted = co_await Act(name, action, memory, status);
    if (!acted.ok()) {
      memory.observed.reset();
      memory.focus = Focus::kNone;
      RecordPlan(*spec, plan, status, clock_.Now());
      RecordError(status, ActionName(action.kind), acted, {}, clock_.Now());
      if (acted.outcome_unknown()) {
        memory.pending = PendingWrite{action.kind, clock_.Now()};
        result.requeue_after = options_.ambiguous_grace;
        result.plan = std::move(plan);
        status.next_reconcile_at = clock_.Now() + *result.requeue_after;
        co_return result;
      }
      co_return acted;
    }
    result.wrote = true;
    if (!plan.drift.empty() && !memory.drift_counted && metrics_ != nullptr) {
      for (const std::string& field : plan.drift) metrics_->CountDrift(name, field);
      memory.drift_counted = true;
    }
  }
  now = clock_.Now();
  RecordPlan(*spec, plan, status, now);

  memory.focus = Focus::kNone;
  if (!result.wrote && plan.next == NextCheck::kProgress && memory.observed) {
    if (plan.reason == "BuildInProgress" || plan.reason == "BuildTimeout") {
      memory.focus = Focus::kBuild;
      memory.focus_build_id = plan.live.build_id;
    } else if (plan.reason == "DeploymentInProgress" || plan.reason == "DeploymentTimeout") {
      memory.focus = Focus::kDeployment;
      memory.focus_build_id = plan.live.build_id;
      memory.focus_deployment_id = plan.live.deployment_id;
    }
  } else if (result.wrote && plan.action && memory.observed) {
    const ActionKind kind = plan.action->kind;
    if (kind == ActionKind::kCreateBuild) {
      memory.focus = Focus::kBuild;
      memory.focus_build_id = memory.observed->builds.back().id;
    } else if (kind == ActionKind::kCreateDeployment) {
      memory.focus = Focus::kDeployment;
      memory.focus_build_id = memory.observed->deployments.back().build_id;
      memory.focus_deployment_id = memory.observed->deployments.back().id;
    } else if (kind == ActionKind::kCreateModel || kind == ActionKind::kUpdateModel) {
      memory.focus = Focus::kNone;  // the next pass plans from the answer, see ChainAllowed
    }
  } else if (!result.wrote && !plan.action && !hold && memory.observed &&
             plan.sync == SyncState::kSynced && plan.health == HealthState::kHealthy &&
             !plan.live.deployment_id.empty()) {
    // In sync: the resync only rechecks what serves (Recheck), and observes fully on any doubt.
    memory.focus = Focus::kSynced;
    memory.focus_build_id = plan.live.build_id;
    memory.focus_deployment_id = plan.live.deployment_id;
    memory.build_created_by_us.clear();
  }
  // Plan from memory again only when the next step may chain; otherwise observe afresh.
  if (!(result.wrote && plan.action && plan.action->kind == ActionKind::kCreateModel) &&
      memory.focus == Focus::kNone) {
    memory.observed.reset();
  }

  if (plan.sync == SyncState::kSynced && plan.health == HealthState::kHealthy &&
      memory.generation_seen_at) {
    if (metrics_ != nullptr) {
      metrics_->ObserveConvergence(name, common::ToSeconds(now - *memory.generation_seen_at));
    }
    memory.generation_seen_at.reset();
  }
  if (plan.sync == SyncState::kSynced) memory.drift_counted = false;

  result.requeue_after = hold ? (memory.pending->at + options_.ambiguous_grace - now)
                              : NextDelay(plan, result.wrote, now);
  status.next_reconcile_at = now + *result.requeue_after;
  result.plan = std::move(plan);
  if (metrics_ != nullptr) {
    metrics_->PublishStatus(status, spec->project_id,
                            spec->registered_model.name.empty() ? spec->registered_model.id
                                                                : spec->registered_model.name);
  }
  co_return result;
}

}  // namespace cmlr::controllers
