#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/registry.h>
#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "config/snapshot.h"
#include "controllers/controller_metrics.h"
#include "controllers/model_reconciler.h"
#include "controllers/status_store.h"
#include "controllers/work_queue.h"

namespace cmlr::controllers {

struct ControllerOptions {
  int concurrency = 8;
  ReconcilerOptions reconciler;
  // Per-model backoff after an error: full jitter on initial * 2^(failures - 1), capped.
  common::Duration backoff_initial = std::chrono::seconds(1);
  common::Duration backoff_max = std::chrono::minutes(5);
};

// The reconcile loop: a work queue of model names fed by desired-state changes, resyncs and
// requests, worked by ModelReconciler with per-model backoff. Everything runs on the
// io_context thread of `executor`. `client`, `clock` and `registry` must outlive it.
class Controller {
 public:
  // Told after every pass (the `apply` command watches convergence with it).
  using PassObserver =
      std::function<void(const std::string& name, const common::StatusOr<PassResult>& result)>;
  // Told after every pass with the model's status as it now stands (notifications, the events
  // stream). Not told for a model whose status was erased.
  using StatusObserver = std::function<void(const ModelStatus& status)>;

  Controller(boost::asio::any_io_executor executor, common::Clock& clock, api::CmlClient& client,
             prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger,
             ControllerOptions options);

  // Replaces the desired state and queues at once every name whose digest changed (added,
  // changed or removed). The first call queues every name.
  void SetDesiredState(std::shared_ptr<const config::Snapshot> snapshot);
  std::shared_ptr<const config::Snapshot> desired_state() const { return snapshot_; }
  // Reports a rejected load in the status envelope; the last good desired state stays in force.
  void RejectDesiredState(std::size_t errors, std::string message);

  // Queues one model now (false: not in the desired state), or every model.
  bool ReconcileNow(const std::string& name);
  void ReconcileAll();
  // Starts a fresh set of attempts for a model and reconciles it now.
  bool Retry(const std::string& name);

  // Works the queue until ShutDown(), then waits for the passes in progress.
  boost::asio::awaitable<void> Run();
  void ShutDown();

  const StatusStore& statuses() const { return statuses_; }
  const WorkQueue& queue() const { return queue_; }
  const ModelReconciler& reconciler() const { return reconciler_; }
  // The reconciler's metrics; /metrics appends AppendModelSeriesText() to the registry's text.
  const ControllerMetrics& metrics() const { return metrics_; }
  // Where the per-model series live (tests and diagnostics).
  const prometheus::Registry& model_registry() const { return model_registry_; }
  void SetPassObserver(PassObserver observer) { observer_ = std::move(observer); }
  // Observers are told in the order added; they run on the io_context thread and must not block.
  void AddStatusObserver(StatusObserver observer) {
    status_observers_.push_back(std::move(observer));
  }

 private:
  boost::asio::awaitable<void> Work(std::string name);

  common::Clock& clock_;
  std::shared_ptr<spdlog::logger> logger_;
  ControllerOptions options_;
  // The per-model series, rendered by ControllerMetrics itself (design 10, P7), apart from the
  // daemon's registry that prometheus-cpp serialises.
  prometheus::Registry model_registry_;
  ControllerMetrics metrics_;
  StatusStore statuses_;
  ModelReconciler reconciler_;
  WorkQueue queue_;
  common::Jitter jitter_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  std::map<std::string, int> failures_;
  PassObserver observer_;
  std::vector<StatusObserver> status_observers_;
};

}  // namespace cmlr::controllers
