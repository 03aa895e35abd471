#include "controllers/controller_metrics.h"

#include <algorithm>

#include "common/duration.h"

namespace cmlr::controllers {

namespace {

prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

prometheus::Histogram::BucketBoundaries ConvergenceBuckets() {
  return {1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}

prometheus::Family<prometheus::Counter>& Counter(prometheus::Registry& registry,
                                                 const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& registry,
                                             const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Histogram& Histogram(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help,
                                 prometheus::Histogram::BucketBoundaries buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add(
      {}, std::move(buckets));
}

}  // namespace

ControllerMetrics::ControllerMetrics(prometheus::Registry& registry)
    : reconcile_total_(Counter(registry, "cml_reconciler_reconcile_total",
                               "Reconcile passes by model and result (success, error, requeue)")),
      reconcile_duration_(Histogram(registry, "cml_reconciler_reconcile_duration_seconds",
                                    "Duration of one reconcile pass (all models; per-model "
                                    "timing is in the status history)",
                                    DurationBuckets())),
      model_info_(Gauge(registry, "cml_reconciler_model_info",
                        "Always 1; labels describe the model's live state")),
      model_condition_(Gauge(registry, "cml_reconciler_model_condition",
                             "1 for each condition type of a model, labelled with its current "
                             "status (one series per type)")),
      model_replicas_(Gauge(registry, "cml_reconciler_model_replicas",
                            "Replicas of the model, desired and live")),
      actions_total_(Counter(registry, "cml_reconciler_actions_total",
                             "CML writes by model, action and result")),
      drift_total_(Counter(registry, "cml_reconciler_drift_total",
                           "Changes made outside git that were detected, by field")),
      verifications_total_(Counter(registry, "cml_reconciler_verifications_total",
                                   "Verifications of new deployments by model and result "
                                   "(passed, failed)")),
      rollbacks_total_(Counter(registry, "cml_reconciler_rollbacks_total",
                               "Rollbacks to the last good deployment by model")),
      convergence_(Histogram(registry, "cml_reconciler_convergence_seconds",
                             "From a new desired generation seen to Synced and Healthy (all "
                             "models)",
                             ConvergenceBuckets())),
      last_sync_(Gauge(registry, "cml_reconciler_last_sync_timestamp_seconds",
                       "When the model was last seen Synced (Unix seconds)")),
      queue_depth_(Gauge(registry, "cml_reconciler_workqueue_depth",
                         "Models due for a reconcile pass and waiting for a worker")
                       .Add({})),
      queue_adds_(Counter(registry, "cml_reconciler_workqueue_adds_total",
                          "Times a model became due for a pass (not counting adds of a model "
                          "already waiting)")
                      .Add({})),
      queue_retries_(Counter(registry, "cml_reconciler_workqueue_retries_total",
                             "Passes requeued with backoff after an error")
                         .Add({})),
      queue_wait_(Histogram(registry, "cml_reconciler_workqueue_queue_duration_seconds",
                            "Time a due model waited for a worker", DurationBuckets())),
      queue_work_(Histogram(registry, "cml_reconciler_workqueue_work_duration_seconds",
                            "Time a worker spent on one pass", DurationBuckets())),
      queue_unfinished_(Gauge(registry, "cml_reconciler_workqueue_unfinished_work_seconds",
                              "Sum of the ages of the passes in progress; growing steadily "
                              "means stuck workers")
                            .Add({})),
      queue_longest_(Gauge(registry, "cml_reconciler_workqueue_longest_running_processor_seconds",
                           "Age of the oldest pass in progress")
                         .Add({})) {}

void ControllerMetrics::Count(prometheus::Family<prometheus::Counter>& family,
                              const std::string& model, prometheus::Labels labels) {
  if (!family.Has(labels)) {
    family.Add(labels).Increment();
    models_[model].counters.emplace_back(&family, std::move(labels));
    return;
  }
  family.Add(labels).Increment();
}

void ControllerMetrics::CountReconcile(const std::string& model, std::string_view result,
                                       double seconds) {
  Count(reconcile_total_, model, {{"model", model}, {"result", std::string(result)}});
  reconcile_duration_.Observe(seconds);
}

void ControllerMetrics::CountAction(const std::string& model, std::string_view action, bool ok) {
  Count(actions_total_, model,
        {{"model", model}, {"action", std::string(action)}, {"result", ok ? "ok" : "error"}});
}

void ControllerMetrics::CountDrift(const std::string& model, const std::string& field) {
  Count(drift_total_, model, {{"model", model}, {"field", field}});
}

void ControllerMetrics::CountVerification(const std::string& model, bool passed) {
  Count(verifications_total_, model, {{"model", model}, {"result", passed ? "passed" : "failed"}});
}

void ControllerMetrics::CountRollback(const std::string& model) {
  Count(rollbacks_total_, model, {{"model", model}});
}

void ControllerMetrics::ObserveConvergence(const std::string& /*model*/, double seconds) {
  convergence_.Observe(seconds);
}

void ControllerMetrics::PublishStatus(const ModelStatus& status, const std::string& project,
                                      const std::string& registered_model) {
  ModelSeries& series = models_[status.name];
  prometheus::Labels info = {{"model", status.name},
                             {"project", project},
                             {"cml_model_id", status.live.model_id},
                             {"registered_model", registered_model},
                             {"version", std::to_string(status.live.version)},
                             {"runtime", status.resolved_runtime},
                             {"sync", std::string(ToString(status.sync))},
                             {"health", std::string(ToString(status.health))}};
  if (info != series.info) {
    if (!series.info.empty()) model_info_.Remove(&model_info_.Add(series.info));
    model_info_.Add(info).Set(1);
    series.info = std::move(info);
  }
  for (std::string_view type : {kConditionReady, kConditionReconciling, kConditionStalled}) {
    const Condition* condition = status.FindCondition(type);
    const std::string current = condition ? condition->status : "Unknown";
    auto published = series.conditions.find(type);
    if (published != series.conditions.end() && published->second == current) continue;
    if (published != series.conditions.end()) {
      model_condition_.Remove(&model_condition_.Add(
          {{"model", status.name}, {"type", std::string(type)}, {"status", published->second}}));
    }
    model_condition_.Add({{"model", status.name}, {"type", std::string(type)}, {"status", current}})
        .Set(1);
    series.conditions[std::string(type)] = current;
  }
  model_replicas_.Add({{"model", status.name}, {"source", "desired"}}).Set(status.desired_replicas);
  model_replicas_.Add({{"model", status.name}, {"source", "live"}}).Set(status.live.replicas);
  series.replicas = true;
  if (status.last_synced_at) {
    last_sync_.Add({{"model", status.name}}).Set(common::ToUnixSeconds(*status.last_synced_at));
    series.last_sync = true;
  }
}

void ControllerMetrics::RemoveModel(const std::string& model) {
  auto it = models_.find(model);
  if (it == models_.end()) return;
  ModelSeries& series = it->second;
  if (!series.info.empty()) model_info_.Remove(&model_info_.Add(series.info));
  for (const auto& [type, status] : series.conditions) {
    model_condition_.Remove(
        &model_condition_.Add({{"model", model}, {"type", type}, {"status", status}}));
  }
  if (series.replicas) {
    for (const char* source : {"desired", "live"}) {
      model_replicas_.Remove(&model_replicas_.Add({{"model", model}, {"source", source}}));
    }
  }
  if (series.last_sync) last_sync_.Remove(&last_sync_.Add({{"model", model}}));
  for (const auto& [family, labels] : series.counters) family->Remove(&family->Add(labels));
  models_.erase(it);
}

std::size_t ControllerMetrics::SeriesOf(const std::string& model) const {
  auto it = models_.find(model);
  if (it == models_.end()) return 0;
  const ModelSeries& series = it->second;
  return (series.info.empty() ? 0 : 1) + series.conditions.size() + (series.replicas ? 2 : 0) +
         (series.last_sync ? 1 : 0) + series.counters.size();
}

WorkQueue::Observer ControllerMetrics::QueueObserver() {
  WorkQueue::Observer observer;
  observer.added = [this] { queue_adds_.Increment(); };
  observer.started = [this](common::Duration waited) {
    queue_wait_.Observe(common::ToSeconds(waited));
  };
  observer.finished = [this](common::Duration worked) {
    queue_work_.Observe(common::ToSeconds(worked));
  };
  observer.state = [this](std::size_t depth, common::Duration unfinished,
                          common::Duration longest) {
    queue_depth_.Set(static_cast<double>(depth));
    queue_unfinished_.Set(common::ToSeconds(unfinished));
    queue_longest_.Set(common::ToSeconds(longest));
  };
  return observer;
}

}  // namespace cmlr::controllers
