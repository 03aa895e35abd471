#include "controllers/controller_metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string_view>

#include "common/duration.h"

namespace cmlr::controllers {

namespace {

prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

prometheus::Histogram::BucketBoundaries ConvergenceBuckets() {
  return {1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}

// The per-model families: registered from these, and written from these by
// AppendModelSeriesText().
struct FamilyText {
  const char* name;
  const char* help;
  const char* type;
};
constexpr FamilyText kReconcileTotal = {
    "cml_reconciler_reconcile_total",
    "Reconcile passes by model and result (success, error, requeue)", "counter"};
constexpr FamilyText kModelInfo = {"cml_reconciler_model_info",
                                   "Always 1; labels describe the model's live state", "gauge"};
constexpr FamilyText kModelCondition = {
    "cml_reconciler_model_condition",
    "1 for each condition type of a model, labelled with its current status (one series per "
    "type)",
    "gauge"};
constexpr FamilyText kModelReplicas = {"cml_reconciler_model_replicas",
                                       "Replicas of the model, desired and live", "gauge"};
constexpr FamilyText kActionsTotal = {"cml_reconciler_actions_total",
                                      "CML writes by model, action and result", "counter"};
constexpr FamilyText kDriftTotal = {"cml_reconciler_drift_total",
                                    "Changes made outside git that were detected, by field",
                                    "counter"};
constexpr FamilyText kVerificationsTotal = {
    "cml_reconciler_verifications_total",
    "Verifications of new deployments by model and result (passed, failed)", "counter"};
constexpr FamilyText kRollbacksTotal = {
    "cml_reconciler_rollbacks_total", "Rollbacks to the last good deployment by model", "counter"};
constexpr FamilyText kLastSync = {"cml_reconciler_last_sync_timestamp_seconds",
                                  "When the model was last seen Synced (Unix seconds)", "gauge"};

// The text format's value, as prometheus-cpp writes it.
void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    std::array<char, 32> buffer;
    // %.16g, as prometheus-cpp 1.0 writes values (max_digits10 - 1 significant digits).
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                      std::chars_format::general, 16);
    out.append(buffer.data(), result.ptr);
  }
}

void AppendLabel(std::string& out, bool first, std::string_view key, std::string_view value) {
  out += first ? '{' : ',';
  out += key;
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
}

// name{k="v",...} value, labels in the (sorted) order of `labels`.
void AppendSeries(std::string& out, const FamilyText& family, const prometheus::Labels& labels,
                  double value) {
  out += family.name;
  bool first = true;
  for (const auto& [key, label_value] : labels) {
    AppendLabel(out, first, key, label_value);
    first = false;
  }
  out += first ? " " : "} ";
  AppendValue(out, value);
  out += '\n';
}

// The same for a model's series with one more label, whose name sorts after "model".
void AppendModelSeries(std::string& out, const FamilyText& family, const std::string& model,
                       std::string_view key, std::string_view label_value, double value) {
  out += family.name;
  AppendLabel(out, true, "model", model);
  AppendLabel(out, false, key, label_value);
  out += "} ";
  AppendValue(out, value);
  out += '\n';
}

void AppendHeader(std::string& out, const FamilyText& family) {
  out += "# HELP ";
  out += family.name;
  out += ' ';
  out += family.help;
  out += "\n# TYPE ";
  out += family.name;
  out += ' ';
  out += family.type;
  out += '\n';
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

ControllerMetrics::ControllerMetrics(prometheus::Registry& registry,
                                     prometheus::Registry* model_registry)
    : reconcile_total_(Counter(model_registry ? *model_registry : registry, kReconcileTotal.name,
                               kReconcileTotal.help)),
      reconcile_duration_(Histogram(registry, "cml_reconciler_reconcile_duration_seconds",
                                    "Duration of one reconcile pass (all models; per-model "
                                    "timing is in the status history)",
                                    DurationBuckets())),
      model_info_(
          Gauge(model_registry ? *model_registry : registry, kModelInfo.name, kModelInfo.help)),
      model_condition_(Gauge(model_registry ? *model_registry : registry, kModelCondition.name,
                             kModelCondition.help)),
      model_replicas_(Gauge(model_registry ? *model_registry : registry, kModelReplicas.name,
                            kModelReplicas.help)),
      actions_total_(Counter(model_registry ? *model_registry : registry, kActionsTotal.name,
                             kActionsTotal.help)),
      drift_total_(
          Counter(model_registry ? *model_registry : registry, kDriftTotal.name, kDriftTotal.help)),
      verifications_total_(Counter(model_registry ? *model_registry : registry,
                                   kVerificationsTotal.name, kVerificationsTotal.help)),
      rollbacks_total_(Counter(model_registry ? *model_registry : registry, kRollbacksTotal.name,
                               kRollbacksTotal.help)),
      convergence_(Histogram(registry, "cml_reconciler_convergence_seconds",
                             "From a new desired generation seen to Synced and Healthy (all "
                             "models)",
                             ConvergenceBuckets())),
      last_sync_(
          Gauge(model_registry ? *model_registry : registry, kLastSync.name, kLastSync.help)),
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
    prometheus::Counter& counter = family.Add(labels);
    counter.Increment();
    models_[model].counters.push_back({&family, std::move(labels), &counter});
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
    if (series.info_gauge != nullptr) model_info_.Remove(series.info_gauge);
    series.info_gauge = &model_info_.Add(info);
    series.info_gauge->Set(1);
    series.info = std::move(info);
  }
  for (std::string_view type : {kConditionReady, kConditionReconciling, kConditionStalled}) {
    const Condition* condition = status.FindCondition(type);
    const std::string current = condition ? condition->status : "Unknown";
    auto published = series.conditions.find(type);
    if (published != series.conditions.end() && published->second.status == current) continue;
    if (published != series.conditions.end()) model_condition_.Remove(published->second.gauge);
    prometheus::Gauge& gauge = model_condition_.Add(
        {{"model", status.name}, {"type", std::string(type)}, {"status", current}});
    gauge.Set(1);
    series.conditions[std::string(type)] = {current, &gauge};
  }
  if (series.replicas_desired == nullptr) {
    series.replicas_desired = &model_replicas_.Add({{"model", status.name}, {"source", "desired"}});
    series.replicas_live = &model_replicas_.Add({{"model", status.name}, {"source", "live"}});
  }
  series.replicas_desired->Set(status.desired_replicas);
  series.replicas_live->Set(status.live.replicas);
  if (status.last_synced_at) {
    if (series.last_sync == nullptr) series.last_sync = &last_sync_.Add({{"model", status.name}});
    series.last_sync->Set(common::ToUnixSeconds(*status.last_synced_at));
  }
}

void ControllerMetrics::RemoveModel(const std::string& model) {
  auto it = models_.find(model);
  if (it == models_.end()) return;
  ModelSeries& series = it->second;
  if (series.info_gauge != nullptr) model_info_.Remove(series.info_gauge);
  for (const auto& [type, condition] : series.conditions) model_condition_.Remove(condition.gauge);
  if (series.replicas_desired != nullptr) {
    model_replicas_.Remove(series.replicas_desired);
    model_replicas_.Remove(series.replicas_live);
  }
  if (series.last_sync != nullptr) last_sync_.Remove(series.last_sync);
  for (const CounterSeries& counter : series.counters) counter.family->Remove(counter.counter);
  models_.erase(it);
}

std::size_t ControllerMetrics::SeriesOf(const std::string& model) const {
  auto it = models_.find(model);
  if (it == models_.end()) return 0;
  const ModelSeries& series = it->second;
  return (series.info_gauge ? 1 : 0) + series.conditions.size() +
         (series.replicas_desired ? 2 : 0) + (series.last_sync ? 1 : 0) + series.counters.size();
}

void ControllerMetrics::AppendModelSeriesText(std::string& out) const {
  // One family after the other, each with its header when it has a series (prometheus-cpp
  // leaves out a family without series too), the models in name order.
  const auto family = [&](const FamilyText& text, const auto& write_model) {
    const std::size_t start = out.size();
    AppendHeader(out, text);
    const std::size_t body = out.size();
    for (const auto& [model, series] : models_) write_model(model, series);
    if (out.size() == body) out.resize(start);
  };
  const auto counters = [&](const FamilyText& text,
                            const prometheus::Family<prometheus::Counter>& of) {
    family(text, [&](const std::string&, const ModelSeries& series) {
      for (const CounterSeries& counter : series.counters) {
        if (counter.family == &of)
          AppendSeries(out, text, counter.labels, counter.counter->Value());
      }
    });
  };
  counters(kReconcileTotal, reconcile_total_);
  family(kModelInfo, [&](const std::string&, const ModelSeries& series) {
    if (series.info_gauge != nullptr) {
      AppendSeries(out, kModelInfo, series.info, series.info_gauge->Value());
    }
  });
  family(kModelCondition, [&](const std::string& model, const ModelSeries& series) {
    for (const auto& [type, condition] : series.conditions) {
      // Labels in name order: model, status, type.
      out += kModelCondition.name;
      AppendLabel(out, true, "model", model);
      AppendLabel(out, false, "status", condition.status);
      AppendLabel(out, false, "type", type);
      out += "} ";
      AppendValue(out, condition.gauge->Value());
      out += '\n';
    }
  });
  family(kModelReplicas, [&](const std::string& model, const ModelSeries& series) {
    if (series.replicas_desired == nullptr) return;
    AppendModelSeries(out, kModelReplicas, model, "source", "desired",
                      series.replicas_desired->Value());
    AppendModelSeries(out, kModelReplicas, model, "source", "live", series.replicas_live->Value());
  });
  counters(kActionsTotal, actions_total_);
  counters(kDriftTotal, drift_total_);
  counters(kVerificationsTotal, verifications_total_);
  counters(kRollbacksTotal, rollbacks_total_);
  family(kLastSync, [&](const std::string& model, const ModelSeries& series) {
    if (series.last_sync == nullptr) return;
    out += kLastSync.name;
    AppendLabel(out, true, "model", model);
    out += "} ";
    AppendValue(out, series.last_sync->Value());
    out += '\n';
  });
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
