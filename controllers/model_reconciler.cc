#include "controllers/model_reconciler.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::controllers {

namespace net = boost::asio;
using common::Status;
using common::StatusOr;

namespace {

Reason ErrorReason(const Status& status) {
  switch (status.code()) {
    case common::StatusCode::kUnauthenticated:
    case common::StatusCode::kPermissionDenied:
      return Reason::kAuthenticationFailed;
    case common::StatusCode::kUnavailable:
      return Reason::kCmlUnavailable;
    default:
      return Reason::kReconcileError;
  }
}

// CML's answer to a write, and the id it names for the log line.
template <typename T>
StatusOr<WriteAnswer> Answer(StatusOr<T> answer, std::string& detail, std::string_view key) {
  if (!answer.ok()) return answer.status();
  if constexpr (std::is_same_v<T, api::RegisteredModel>) {
    detail = fmt::format("{}={}", key, answer->model_id);
  } else {
    detail = fmt::format("{}={}", key, answer->id);
  }
  return WriteAnswer(std::move(answer).value());
}

Condition MakeCondition(std::string_view type, bool value, std::string_view reason,
                        std::string message, const std::string& generation) {
  return {.type = std::string(type),
          .status = value ? "True" : "False",
          .reason = std::string(reason),
          .message = std::move(message),
          .observed_generation = generation};
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
      reader_(client),
      observations_(client, clock,
                    {.full_observe_every = options.full_observe_every,
                     .listing_max_age = options.listing_max_age}) {
  if (options.model_service != nullptr) verifier_.emplace(*options.model_service, clock);
}

void ModelReconciler::Retry(const std::string& name) {
  progress_[name].retry_requested_at = clock_.Now();
}

void ModelReconciler::Forget(const std::string& name) {
  progress_.erase(name);
  observations_.Erase(name);
}

void ModelReconciler::BeginPass(const config::ModelDeploymentSpec& spec, Progress& progress,
                                ModelStatus& status) {
  if (progress.retry_requested_at) {
    progress.attempts_since = *progress.retry_requested_at;
    progress.retry_requested_at.reset();
    progress.writes.NewGeneration();
    progress.rolled_back.reset();
    observations_.Invalidate(spec.name, /*forget_unseen_writes=*/true);
  }
  progress.last_spec = spec;
  if (progress.generation != spec.digest) {
    progress.generation = spec.digest;
    progress.generation_seen_at = clock_.Now();
    progress.drift_counted = false;
    progress.writes.NewGeneration();
    progress.rolled_back.reset();
    observations_.Invalidate(spec.name);
  }
  status.desired_digest = spec.digest;
}

Plan ModelReconciler::PlanFor(const config::ModelDeploymentSpec& spec,
                              const ObservedState& observed, const Progress& progress) const {
  return ComputePlan(spec, observed,
                     {.now = clock_.Now(),
                      .attempts_since = progress.attempts_since,
                      .ledger = &progress.writes,
                      .verifications = &observations_.Verifications(spec.name),
                      .rolled_back = progress.rolled_back});
}

net::awaitable<void> ModelReconciler::VerifyDeployment(const config::ModelDeploymentSpec& spec,
                                                       const ObservedState& observed,
                                                       const Awaiting& awaiting,
                                                       ModelStatus& status) {
  const common::TimePoint start = clock_.Now();
  Verification verification = co_await verifier_->Verify(*spec.verify, observed.model->access_key,
                                                         observed.model->auth_enabled);
  const bool passed = verification.result == VerificationResult::kPassed;
  status.AddHistory(
      {.time = clock_.Now(),
       .operation = "verify",
       .duration = clock_.Now() - start,
       .error = !passed,
       .message = fmt::format("deployment {}: {}", awaiting.deployment_id, verification.message)});
  if (metrics_ != nullptr) metrics_->CountVerification(spec.name, passed);
  if (logger_) {
    logger_->log(passed ? spdlog::level::info : spdlog::level::warn,
                 "Verified deployment model={} deployment_id={} result={} message=\"{}\"",
                 spec.name, awaiting.deployment_id, passed ? "passed" : "failed",
                 verification.message);
  }
  observations_.RecordVerification(spec.name, awaiting.deployment_id, std::move(verification));
}

net::awaitable<StatusOr<Plan>> ModelReconciler::ObserveAndPlan(
    const config::ModelDeploymentSpec& spec, const Progress& progress, ModelStatus& status) {
  const common::TimePoint start = clock_.Now();
  auto observation = co_await observations_.Observe(spec, &progress.writes);
  bool verified = false, observed_again = false;
  for (;;) {
    if (!observation.ok()) {
      RecordError(status, "observe", observation.status(), clock_.Now() - start, clock_.Now());
      co_return observation.status();
    }
    const ObservedState& observed = *observation->state;
    status.resolved_runtime = observed.runtime_identifier.value_or("");
    Plan plan = PlanFor(spec, observed, progress);
    if (!verified && verifier_ && plan.awaiting &&
        plan.awaiting->kind == Awaiting::Kind::kVerification) {
      co_await VerifyDeployment(spec, observed, *plan.awaiting, status);
      verified = true;
      continue;  // plan again with the result
    }
    const bool wants_write = plan.action && !plan.suppressed_by_suspend;
    if (!wants_write || observed_again || observation->kind == ObservationKind::kFull ||
        observations_.MayWrite(spec.name, *plan.action)) {
      co_return plan;
    }
    // a write needs a fresh look
    observation = co_await observations_.ObserveFully(spec, &progress.writes);
    observed_again = true;
  }
}

void ModelReconciler::NoteRollback(const std::string& name, const Plan& plan, Progress& progress) {
  if (!plan.rollback_of || progress.rolled_back || options_.dry_run) return;
  progress.rolled_back = plan.rollback_of;
  if (metrics_ != nullptr) metrics_->CountRollback(name);
  if (logger_) {
    logger_->warn("Rolled back model={} last_good_deployment_id={} failure=\"{}\"", name,
                  plan.last_good ? plan.last_good->deployment_id : "", *plan.rollback_of);
  }
}

bool ModelReconciler::HoldForPendingWrite(Progress& progress, Plan& plan,
                                          common::TimePoint now) const {
  if (!progress.pending_kind) return false;
  const bool same = plan.action && plan.action->kind == *progress.pending_kind;
  if (same && now < progress.pending_at + options_.ambiguous_grace) {
    // The write may have landed and not be visible yet: never duplicate it.
    plan.message = fmt::format("waiting to confirm an earlier {} whose outcome is unknown",
                               ActionName(*progress.pending_kind));
    return true;
  }
  progress.pending_kind.reset();
  return false;
}

net::awaitable<StatusOr<WriteAnswer>> ModelReconciler::Write(const std::string& name,
                                                             const PlannedAction& action,
                                                             ModelStatus& status) {
  const common::TimePoint start = clock_.Now();
  StatusOr<WriteAnswer> answer = common::InternalError("no write");
  std::string detail;
  switch (action.kind) {
    case ActionKind::kCreateRegisteredModel:
      answer = Answer(co_await client_.CreateRegisteredModel(action.register_request), detail,
                      "registered_model_id");
      break;
    case ActionKind::kCreateModel:
      answer = Answer(co_await client_.CreateModel(action.project_id, action.model_request), detail,
                      "model_id");
      break;
    case ActionKind::kUpdateModel:
      answer = Answer(
          co_await client_.UpdateModel(action.project_id, action.model_id, action.update_request),
          detail, "model_id");
      break;
    case ActionKind::kCreateBuild:
      answer = Answer(co_await client_.CreateModelBuild(action.project_id, action.model_id,
                                                        action.build_request),
                      detail, "build_id");
      break;
    case ActionKind::kCreateDeployment:
      answer =
          Answer(co_await client_.CreateModelDeployment(action.project_id, action.model_id,
                                                        action.build_id, action.deployment_request),
                 detail, "deployment_id");
      break;
    case ActionKind::kStopDeployment: {
      auto stopped = co_await client_.StopModelDeployment(action.project_id, action.model_id,
                                                          action.build_id, action.deployment_id);
      if (!stopped.ok()) {  // a 403 may mean the deployment is gone (design 4a)
        stopped =
            co_await reader_.ExplainForbidden(stopped.status(), action.project_id, action.model_id,
                                              action.build_id, action.deployment_id);
      }
      answer = Answer(std::move(stopped), detail, "deployment_id");
      break;
    }
  }
  const common::TimePoint end = clock_.Now();
  const std::string_view operation = ActionName(action.kind);
  const Status& result = answer.status();
  if (metrics_ != nullptr) metrics_->CountAction(name, operation, result.ok());
  status.AddHistory({.time = end,
                     .operation = std::string(operation),
                     .http_status = result.ok() ? 200 : result.http_status(),
                     .duration = end - start,
                     .error = !result.ok(),
                     .message = result.ok() ? action.summary : result.ToString()});
  if (!logger_) co_return answer;
  const std::string revision = status.revision.value_or("none");
  if (result.ok()) {
    logger_->info("{} model={} {} revision={}", Verb(action.kind), name, detail, revision);
  } else {
    logger_->warn("Failed {} model={} outcome_unknown={} revision={} error=\"{}\"", operation, name,
                  result.outcome_unknown(), revision, result.ToString());
  }
  co_return answer;
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
        plan.awaiting ? std::max(common::Duration::zero(), now - plan.awaiting->since)
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
  status.diffs = plan.diffs;
  status.verification = plan.verification;
  status.last_good = plan.last_good;
  if (plan.action) {
    status.planned_action =
        fmt::format("{}{}: {}", ActionName(plan.action->kind),
                    plan.suppressed_by_suspend ? " (suspended)" : "", plan.action->summary);
  }
  const bool ready = plan.sync == SyncState::kSynced && (plan.health == HealthState::kHealthy ||
                                                         plan.health == HealthState::kSuspended);
  const std::string_view reason = ReasonName(plan.reason);
  status.SetCondition(MakeCondition(kConditionReady, ready, reason, plan.message, spec.digest),
                      now);
  status.SetCondition(MakeCondition(kConditionReconciling, plan.reconciling, reason,
                                    plan.reconciling ? plan.message : "", spec.digest),
                      now);
  status.SetCondition(
      MakeCondition(kConditionStalled, plan.stalled, plan.stalled ? reason : "NotStalled",
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
  status.SetCondition(MakeCondition(kConditionReady, false, ReasonName(ErrorReason(error)),
                                    error.ToString(), status.desired_digest),
                      now);
}

net::awaitable<StatusOr<Plan>> ModelReconciler::PlanOnly(config::ModelDeploymentSpec spec) {
  auto observed = co_await observations_.ObserveOnce(spec);
  if (!observed.ok()) co_return observed.status();
  co_return ComputePlan(spec, *observed, {.now = clock_.Now()});
}

net::awaitable<StatusOr<PassResult>> ModelReconciler::Removed(std::string name,
                                                              std::optional<std::string> revision) {
  if (ModelStatus* status = statuses_.Find(name)) status->revision = std::move(revision);
  const auto progress = progress_.find(name);
  if (options_.prune && progress != progress_.end() && progress->second.last_spec) {
    co_return co_await Prune(name, *progress->second.last_spec);
  }
  if (ModelStatus* status = statuses_.Find(name)) status->removed = true;
  co_return PassResult{};
}

net::awaitable<StatusOr<PassResult>> ModelReconciler::Prune(
    std::string name, const config::ModelDeploymentSpec& spec) {
  ModelStatus& status = statuses_.Get(name);
  status.removed = true;
  const common::TimePoint start = clock_.Now();
  auto observed = co_await observations_.ObserveModel(spec);
  if (!observed.ok()) {
    RecordError(status, "observe", observed.status(), clock_.Now() - start, clock_.Now());
    co_return observed.status();
  }
  PassResult result;
  result.plan = ComputePrunePlan(spec.project_id, *observed);
  status.sync = result.plan.sync;
  status.health = result.plan.health;
  if (result.plan.action && !options_.dry_run) {
    const auto written = co_await Write(name, *result.plan.action, status);
    if (!written.ok()) co_return written.status();
    result.wrote = true;
    result.requeue_after = options_.poll_min;
  }
  co_return result;
}

PassResult ModelReconciler::FinishPass(const config::ModelDeploymentSpec& spec, Progress& progress,
                                       Plan plan, const WriteAnswer* written, bool hold,
                                       ModelStatus& status) {
  const common::TimePoint now = clock_.Now();
  if (written != nullptr || !plan.action) NoteRollback(spec.name, plan, progress);
  RecordPlan(spec, plan, status, now);
  observations_.Remember(spec.name, plan, written);
  const bool converged = plan.sync == SyncState::kSynced && plan.health == HealthState::kHealthy;
  if (converged && progress.generation_seen_at) {
    if (metrics_ != nullptr) {
      metrics_->ObserveConvergence(spec.name,
                                   common::ToSeconds(now - *progress.generation_seen_at));
    }
    progress.generation_seen_at.reset();
  }
  if (plan.sync == SyncState::kSynced) progress.drift_counted = false;

  PassResult result;
  result.wrote = written != nullptr;
  result.requeue_after = hold ? progress.pending_at + options_.ambiguous_grace - now
                              : NextDelay(plan, result.wrote, now);
  status.next_reconcile_at = now + *result.requeue_after;
  result.plan = std::move(plan);
  if (metrics_ != nullptr) {
    const config::RegisteredModelRef& ref = spec.registered_model;
    metrics_->PublishStatus(status, spec.project_id, ref.name.empty() ? ref.id : ref.name);
  }
  return result;
}

net::awaitable<StatusOr<PassResult>> ModelReconciler::Reconcile(
    std::string name, std::shared_ptr<const config::Snapshot> snapshot) {
  const config::ModelDeploymentSpec* spec = snapshot->Find(name);
  if (spec == nullptr) co_return co_await Removed(std::move(name), snapshot->revision());
  ModelStatus& status = statuses_.Get(name);
  status.revision = snapshot->revision();
  Progress& progress = progress_[name];
  BeginPass(*spec, progress, status);

  auto planned = co_await ObserveAndPlan(*spec, progress, status);
  if (!planned.ok()) co_return planned.status();
  Plan plan = std::move(planned).value();
  const bool hold = HoldForPendingWrite(progress, plan, clock_.Now());
  if (!plan.action || plan.suppressed_by_suspend || options_.dry_run || hold) {
    co_return FinishPass(*spec, progress, std::move(plan), nullptr, hold, status);
  }

  const PlannedAction action = *plan.action;
  auto written = co_await Write(name, action, status);
  if (!written.ok()) {
    const common::TimePoint now = clock_.Now();
    observations_.Invalidate(name);
    RecordPlan(*spec, plan, status, now);
    RecordError(status, ActionName(action.kind), written.status(), {}, now);
    if (!written.status().outcome_unknown()) co_return written.status();
    progress.pending_kind = action.kind;
    progress.pending_at = now;
    status.next_reconcile_at = now + options_.ambiguous_grace;
    co_return PassResult{.requeue_after = options_.ambiguous_grace, .plan = std::move(plan)};
  }
  progress.writes.Record(action, plan.reason, clock_.Now());
  if (const auto* created = std::get_if<api::ModelDeployment>(&*written)) {
    if (action.kind == ActionKind::kCreateDeployment) progress.writes.RememberCreated(created->id);
  }
  observations_.Absorb(name, action, *written);
  if (!plan.drift.empty() && !progress.drift_counted && metrics_ != nullptr) {
    for (const std::string& field : plan.drift) metrics_->CountDrift(name, field);
    progress.drift_counted = true;
  }
  co_return FinishPass(*spec, progress, std::move(plan), &*written, false, status);
}

}  // namespace cmlr::controllers
