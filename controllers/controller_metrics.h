#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "controllers/model_status.h"
#include "controllers/work_queue.h"

namespace cmlr::controllers {

// The reconciler's metric families of design section 8 (contract names), created once on the
// registry passed in. Labels never carry unbounded values: model names come from the desired
// state, every other label value from a fixed set (results, actions, drift fields, condition
// types and statuses), never ids of builds or deployments, never messages.
//
// Cardinality (design section 8: at most 15 series per model). A model holds:
//   always, once its first pass published a status (7):
//     cml_reconciler_model_info                   1  (the labels carry the current state)
//     cml_reconciler_model_condition              3  (one per type, labelled with the current
//                                                     status, value 1; replaced on a change)
//     cml_reconciler_model_replicas               2  (desired, live)
//     cml_reconciler_last_sync_timestamp_seconds  1  (from its first Synced)
//   counters, each created at the first event it counts:
//     cml_reconciler_reconcile_total              <= 3  (success, requeue, error)
//     cml_reconciler_actions_total                one per action and result that happened
//     cml_reconciler_drift_total                  one per drifted field (6 fields exist)
//     cml_reconciler_verifications_total          <= 2  (passed, failed)
//     cml_reconciler_rollbacks_total              <= 1
// A model that converged the ordinary way (create model, build, deployment; verified) holds
// 7 + 2 (success, requeue) + 3 actions + 1 verification = 13; an error pass makes 14. The two
// duration histograms carry no `model` label. RemoveModel() deletes every one of them.
//
// Scrape cost: prometheus-cpp's Registry::Collect and TextSerializer take about 40 ms of CPU
// for the 12 000 per-model series of 1000 models (design 10, P7: <= 25 ms). Given a
// `model_registry`, the per-model families live there instead of in `registry`, and
// AppendModelSeriesText() writes them in the text format straight from the series this class
// tracks (about 3 ms for 1000 models); /metrics then serialises `registry` as before and appends
// that text. Without one, everything is in `registry` (tests, tools, the old path).
class ControllerMetrics {
 public:
  explicit ControllerMetrics(prometheus::Registry& registry,
                             prometheus::Registry* model_registry = nullptr);

  // One pass: result is success, requeue or error. `seconds` goes to the model-less
  // cml_reconciler_reconcile_duration_seconds.
  void CountReconcile(const std::string& model, std::string_view result, double seconds);
  // A CML write (action names of design section 8).
  void CountAction(const std::string& model, std::string_view action, bool ok);
  void CountDrift(const std::string& model, const std::string& field);
  // A verification of a new deployment (design 4b): result passed or failed.
  void CountVerification(const std::string& model, bool passed);
  // A rollback to the last good deployment (design 4b).
  void CountRollback(const std::string& model);
  // From a new desired generation seen to Synced+Healthy. `model` is not a label (design 8).
  void ObserveConvergence(const std::string& model, double seconds);
  // Replaces the per-model gauges (info, conditions, replicas, last sync) with `status`.
  void PublishStatus(const ModelStatus& status, const std::string& project,
                     const std::string& registered_model);
  // Deletes every series labelled with `model` (gauges and counters alike), for a model that
  // left the desired state. Counting again later starts from zero.
  void RemoveModel(const std::string& model);
  // How many series carry model="<model>" right now (tests, benchmarks).
  std::size_t SeriesOf(const std::string& model) const;
  // Appends every per-model series in the Prometheus text format (version 0.0.4): HELP and
  // TYPE lines, then one line per series, labels sorted by name, as prometheus-cpp writes them.
  void AppendModelSeriesText(std::string& out) const;

  // Work queue (client-go / controller-runtime workqueue metrics, cml_reconciler_ prefix).
  void SetQueueDepth(std::size_t depth) { queue_depth_.Set(static_cast<double>(depth)); }
  void CountRetry() { queue_retries_.Increment(); }
  // Hooks that feed depth, adds, queue wait, work duration, unfinished work and the longest
  // running pass from the queue itself. The returned functions refer to this object.
  WorkQueue::Observer QueueObserver();

 private:
  struct CounterSeries {
    prometheus::Family<prometheus::Counter>* family;
    prometheus::Labels labels;
    prometheus::Counter* counter;
  };
  struct ConditionSeries {
    std::string status;
    prometheus::Gauge* gauge;
  };
  // What a model has published, so that RemoveModel() can delete all of it and
  // AppendModelSeriesText() can write it without collecting the registry.
  struct ModelSeries {
    prometheus::Labels info;
    prometheus::Gauge* info_gauge = nullptr;
    std::map<std::string, ConditionSeries, std::less<>> conditions;  // by type
    prometheus::Gauge* replicas_desired = nullptr;
    prometheus::Gauge* replicas_live = nullptr;
    prometheus::Gauge* last_sync = nullptr;
    std::vector<CounterSeries> counters;
  };

  // Increments the counter of `family` with `labels`, remembering it under `model` when new.
  void Count(prometheus::Family<prometheus::Counter>& family, const std::string& model,
             prometheus::Labels labels);

  prometheus::Family<prometheus::Counter>& reconcile_total_;
  prometheus::Histogram& reconcile_duration_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  prometheus::Family<prometheus::Gauge>& model_condition_;
  prometheus::Family<prometheus::Gauge>& model_replicas_;
  prometheus::Family<prometheus::Counter>& actions_total_;
  prometheus::Family<prometheus::Counter>& drift_total_;
  prometheus::Family<prometheus::Counter>& verifications_total_;
  prometheus::Family<prometheus::Counter>& rollbacks_total_;
  prometheus::Histogram& convergence_;
  prometheus::Family<prometheus::Gauge>& last_sync_;
  prometheus::Gauge& queue_depth_;
  prometheus::Counter& queue_adds_;
  prometheus::Counter& queue_retries_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& queue_work_;
  prometheus::Gauge& queue_unfinished_;
  prometheus::Gauge& queue_longest_;
  std::map<std::string, ModelSeries, std::less<>> models_;
};

}  // namespace cmlr::controllers
