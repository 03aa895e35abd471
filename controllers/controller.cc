#include "controllers/controller.h"

#include <exception>

#include "common/duration.h"

namespace cmlr::controllers {

namespace net = boost::asio;

Controller::Controller(net::any_io_executor executor, common::Clock& clock, api::CmlClient& client,
                       prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger,
                       ControllerOptions options)
    : clock_(clock),
      logger_(logger),
      options_(options),
      metrics_(registry, &model_registry_),
      reconciler_(client, clock, statuses_, &metrics_, logger, options.reconciler),
      queue_(executor, clock, options.concurrency),
      jitter_(options.reconciler.jitter_seed + 1),
      snapshot_(config::Snapshot::Empty()) {
  queue_.SetObserver(metrics_.QueueObserver());
}

void Controller::SetDesiredState(std::shared_ptr<const config::Snapshot> snapshot) {
  const std::vector<std::string> changed =
      config::Snapshot::ChangedNames(snapshot_.get(), *snapshot);
  snapshot_ = std::move(snapshot);
  statuses_.set_desired_state({.at = clock_.Now(), .revision = snapshot_->revision()});
  // A model whose spec the new revision leaves as it was is as synced with it as with the last:
  // it carries the new revision at once (`wait --revision` need not wait for a resync).
  for (const auto& [name, spec] : snapshot_->models()) {
    ModelStatus* status = statuses_.Find(name);
    if (status != nullptr && status->desired_digest == spec.digest) {
      status->revision = snapshot_->revision();
    }
  }
  for (const std::string& name : changed) {
    // A model waiting for its first pass is listed (Unknown/Unknown), not missing.
    if (const config::ModelDeploymentSpec* spec = snapshot_->Find(name);
        spec != nullptr && statuses_.Find(name) == nullptr) {
      ModelStatus& status = statuses_.Get(name);
      status.labels = spec->labels;
      status.desired_digest = spec->digest;
      status.desired_replicas = spec->resources.replicas;
    }
    queue_.Add(name);
  }
  metrics_.SetQueueDepth(queue_.depth());
}

void Controller::RejectDesiredState(std::size_t errors, std::string message) {
  statuses_.set_desired_state({.accepted = false,
                               .at = clock_.Now(),
                               .errors = errors,
                               .message = std::move(message),
                               .revision = snapshot_->revision()});
}

bool Controller::ReconcileNow(const std::string& name) {
  if (snapshot_->Find(name) == nullptr) return false;
  queue_.Add(name);
  metrics_.SetQueueDepth(queue_.depth());
  return true;
}

void Controller::ReconcileAll() {
  for (const auto& [name, spec] : snapshot_->models()) queue_.Add(name);
  metrics_.SetQueueDepth(queue_.depth());
}

bool Controller::Retry(const std::string& name) {
  if (snapshot_->Find(name) == nullptr) return false;
  failures_.erase(name);
  reconciler_.Retry(name);
  queue_.Add(name);
  return true;
}

net::awaitable<void> Controller::Run() {
  co_await queue_.Run([this](std::string name) { return Work(std::move(name)); });
}

void Controller::ShutDown() { queue_.ShutDown(); }

net::awaitable<void> Controller::Work(std::string name) {
  const common::TimePoint start = clock_.Now();
  metrics_.SetQueueDepth(queue_.depth());
  common::StatusOr<PassResult> result = common::InternalError("pass did not run");
  try {
    result = co_await reconciler_.Reconcile(name, snapshot_);
  } catch (const std::exception& e) {
    // Last resort: a bug must cost one model a backoff, never the daemon.
    result = common::InternalError(std::string("unexpected exception: ") + e.what());
  }
  const double seconds = common::ToSeconds(clock_.Now() - start);
  if (result.ok()) {
    failures_.erase(name);
    const bool synced = result->plan.sync == SyncState::kSynced;
    metrics_.CountReconcile(name, synced && !result->wrote ? "success" : "requeue", seconds);
    if (result->requeue_after) {
      queue_.AddAfter(name, *result->requeue_after);
    } else {
      queue_.Forget(name);
      if (snapshot_->Find(name) == nullptr) {
        // Gone for good: its series go (design 8); under --prune its status stays to report
        // the prune.
        reconciler_.Forget(name);
        metrics_.RemoveModel(name);
        if (!options_.reconciler.prune) statuses_.Erase(name);
      }
    }
  } else {
    const int failures = ++failures_[name];
    const common::Duration delay = jitter_.Full(
        common::ExponentialBackoff(failures - 1, options_.backoff_initial, options_.backoff_max));
    metrics_.CountReconcile(name, "error", seconds);
    metrics_.CountRetry();
    if (logger_) {
      logger_->warn("Reconcile failed model={} attempt={} retry_in={} error=\"{}\"", name, failures,
                    common::FormatDuration(delay), result.status().ToString());
    }
    queue_.AddAfter(name, delay);
    if (ModelStatus* status = statuses_.Find(name))
      status->next_reconcile_at = clock_.Now() + delay;
  }
  metrics_.SetQueueDepth(queue_.depth());
  if (observer_) observer_(name, result);
  if (const ModelStatus* status = statuses_.Find(name)) {
    for (const StatusObserver& status_observer : status_observers_) status_observer(*status);
  }
}

}  // namespace cmlr::controllers
