#pragma once

#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "controllers/model_status.h"

namespace cmlr::controllers {

// The reconciler's metric families of design section 8 (contract names), created once on the
// registry passed in. Labels never carry unbounded values: model names come from the desired
// state, never ids or messages.
class ControllerMetrics {
 public:
  explicit ControllerMetrics(prometheus::Registry& registry);

  void CountReconcile(const std::string& model, std::string_view result, double seconds);
  void CountAction(const std::string& model, std::string_view action, bool ok);
  void CountDrift(const std::string& model, const std::string& field);
  void ObserveConvergence(const std::string& model, double seconds);
  // Replaces the per-model gauges (info, conditions, replicas, last sync) with `status`.
  void PublishStatus(const ModelStatus& status, const std::string& project,
                     const std::string& registered_model);
  // Removes every per-model gauge of a model that left the desired state.
  void RemoveModel(const std::string& model);

  void SetQueueDepth(std::size_t depth) { queue_depth_.Set(static_cast<double>(depth)); }
  void CountRetry() { queue_retries_.Increment(); }
  void ObserveQueueWait(double seconds) { queue_wait_.Observe(seconds); }

 private:
  struct Published {
    prometheus::Labels info;
    std::vector<prometheus::Labels> conditions;
  };

  prometheus::Family<prometheus::Counter>& reconcile_total_;
  prometheus::Family<prometheus::Histogram>& reconcile_duration_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  prometheus::Family<prometheus::Gauge>& model_condition_;
  prometheus::Family<prometheus::Gauge>& model_replicas_;
  prometheus::Family<prometheus::Counter>& actions_total_;
  prometheus::Family<prometheus::Counter>& drift_total_;
  prometheus::Family<prometheus::Histogram>& convergence_;
  prometheus::Family<prometheus::Gauge>& last_sync_;
  prometheus::Gauge& queue_depth_;
  prometheus::Counter& queue_retries_;
  prometheus::Histogram& queue_wait_;
  std::map<std::string, Published> published_;
};

}  // namespace cmlr::controllers
