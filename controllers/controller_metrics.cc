#include "controllers/controller_metrics.h"

namespace cmlr::controllers {

namespace {

prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

prometheus::Histogram::BucketBoundaries ConvergenceBuckets() {
  return {1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}

}  // namespace

ControllerMetrics::ControllerMetrics(prometheus::Registry& registry)
    : reconcile_total_(prometheus::BuildCounter()
                           .Name("cml_reconciler_reconcile_total")
                           .Help("Reconcile passes by model and result (success, error, requeue)")
                           .Register(registry)),
      reconcile_duration_(prometheus::BuildHistogram()
                              .Name("cml_reconciler_reconcile_duration_seconds")
                              .Help("Duration of one reconcile pass")
                              .Register(registry)),
      model_info_(prometheus::BuildGauge()
                      .Name("cml_reconciler_model_info")
                      .Help("Always 1; labels describe the model's live state")
                      .Register(registry)),
      model_condition_(prometheus::BuildGauge()
                           .Name("cml_reconciler_model_condition")
                           .Help("1 for the model condition's current status, else 0")
                           .Register(registry)),
      model_replicas_(prometheus::BuildGauge()
                          .Name("cml_reconciler_model_replicas")
                          .Help("Replicas of the model, desired and live")
                          .Register(registry)),
      actions_total_(prometheus::BuildCounter()
                         .Name("cml_reconciler_actions_total")
                         .Help("CML writes by model, action and result")
                         .Register(registry)),
      drift_total_(prometheus::BuildCounter()
                       .Name("cml_reconciler_drift_total")
                       .Help("Changes made outside git that were detected, by field")
                       .Register(registry)),
      convergence_(prometheus::BuildHistogram()
                       .Name("cml_reconciler_convergence_seconds")
                       .Help("From a new desired generation seen to Synced and Healthy")
                       .Register(registry)),
      last_sync_(prometheus::BuildGauge()
                     .Name("cml_reconciler_last_sync_timestamp_seconds")
                     .Help("When the model was last seen Synced (Unix seconds)")
                     .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("cml_reconciler_workqueue_depth")
                       .Help("Models due for a reconcile pass and waiting for a worker")
                       .Register(registry)
                       .Add({})),
      queue_retries_(prometheus::BuildCounter()
                         .Name("cml_reconciler_workqueue_retries_total")
                         .Help("Passes requeued with backoff after an error")
                         .Register(registry)
                         .Add({})),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("cml_reconciler_workqueue_queue_duration_seconds")
                      .Help("Time a due model waited for a worker")
                      .Register(registry)
                      .Add({}, DurationBuckets())) {}

void ControllerMetrics::CountReconcile(const std::string& model, std::string_view result,
                                       double seconds) {
  reconcile_total_.Add({{"model", model}, {"result", std::string(result)}}).Increment();
  reconcile_duration_.Add({{"model", model}}, DurationBuckets()).Observe(seconds);
}

void ControllerMetrics::CountAction(const std::string& model, std::string_view action, bool ok) {
  actions_total_
      .Add({{"model", model}, {"action", std::string(action)}, {"result", ok ? "ok" : "error"}})
      .Increment();
}

void ControllerMetrics::CountDrift(const std::string& model, const std::string& field) {
  drift_total_.Add({{"model", model}, {"field", field}}).Increment();
}

void ControllerMetrics::ObserveConvergence(const std::string& model, double seconds) {
  convergence_.Add({{"model", model}}, ConvergenceBuckets()).Observe(seconds);
}

void ControllerMetrics::PublishStatus(const ModelStatus& status, const std::string& project,
                                      const std::string& registered_model) {
  Published& published = published_[status.name];
  prometheus::Labels info = {{"model", status.name},
                             {"project", project},
                             {"cml_model_id", status.live.model_id},
                             {"registered_model", registered_model},
                             {"version", std::to_string(status.live.version)},
                             {"runtime", status.resolved_runtime},
                             {"sync", std::string(ToString(status.sync))},
                             {"health", std::string(ToString(status.health))}};
  if (info != published.info) {
    if (!published.info.empty()) model_info_.Remove(&model_info_.Add(published.info));
    model_info_.Add(info).Set(1);
    published.info = std::move(info);
  }
  for (std::string_view type : {kConditionReady, kConditionReconciling, kConditionStalled}) {
    const Condition* condition = status.FindCondition(type);
    const std::string current = condition ? condition->status : "Unknown";
    for (const char* value : {"True", "False", "Unknown"}) {
      prometheus::Labels labels = {
          {"model", status.name}, {"type", std::string(type)}, {"status", value}};
      model_condition_.Add(labels).Set(current == value ? 1 : 0);
      if (std::find(published.conditions.begin(), published.conditions.end(), labels) ==
          published.conditions.end()) {
        published.conditions.push_back(std::move(labels));
      }
    }
  }
  model_replicas_.Add({{"model", status.name}, {"source", "desired"}}).Set(status.desired_replicas);
  model_replicas_.Add({{"model", status.name}, {"source", "live"}}).Set(status.live.replicas);
  if (status.last_synced_at) {
    last_sync_.Add({{"model", status.name}}).Set(common::ToUnixSeconds(*status.last_synced_at));
  }
}

void ControllerMetrics::RemoveModel(const std::string& model) {
  auto it = published_.find(model);
  if (it == published_.end()) return;
  if (!it->second.info.empty()) model_info_.Remove(&model_info_.Add(it->second.info));
  for (const prometheus::Labels& labels : it->second.conditions) {
    model_condition_.Remove(&model_condition_.Add(labels));
  }
  for (const char* source : {"desired", "live"}) {
    model_replicas_.Remove(&model_replicas_.Add({{"model", model}, {"source", source}}));
  }
  last_sync_.Remove(&last_sync_.Add({{"model", model}}));
  published_.erase(it);
}

}  // namespace cmlr::controllers
