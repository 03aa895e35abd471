#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "common/status.h"
#include "config/snapshot.h"
#include "controllers/controller_metrics.h"
#include "controllers/planner.h"
#include "controllers/shared_listings.h"
#include "controllers/status_store.h"

namespace cmlr::controllers {

struct ReconcilerOptions {
  bool dry_run = false;  // observe and plan, never write
  bool prune = false;    // stop the deployments of models removed from the desired state
  common::Duration resync = std::chrono::seconds(60);  // in sync: look again after this ±10 %
  // After a write whose outcome is unknown, the same write waits this long and for a fresh
  // observation that still shows the object absent.
  common::Duration ambiguous_grace = std::chrono::seconds(10);
  // Polling while CML works: fast at first, a tenth of the time waited so far, capped.
  common::Duration poll_min = std::chrono::milliseconds(300);
  common::Duration poll_max = std::chrono::seconds(15);
  // The resync of a Synced and Healthy model rechecks it cheaply (its serving deployment, and
  // the model in a project listing shared by all passes for `listing_max_age`); a full
  // observation happens when that recheck sees any difference, and at least this often.
  common::Duration full_observe_every = std::chrono::minutes(30);
  common::Duration listing_max_age = std::chrono::seconds(15);
  std::uint64_t jitter_seed = 0x5eed;
};

struct PassResult {
  // When to look again; nullopt: not until the desired state names the model again.
  std::optional<common::Duration> requeue_after;
  bool wrote = false;
  Plan plan;
};

// Reconciles one model at a time (design section 4): observe through CmlClient, plan with the
// pure ComputePlan, perform at most one write, record status and metrics, and say when to
// look again. CML is the only state: what is kept in memory between passes (the last
// observation, to poll only the build or deployment being waited on) is an optimisation that a
// restart may lose. A write is made only from a fresh observation: a full one in the same
// pass, or the answers CML gave to this reconciler's previous writes in a chain (the build of
// a model it just created, the deployment of a build it just saw finish).
//
// Runs on the io_context thread; several passes of different models may interleave, never
// two of one model (the work queue guarantees it). `client`, `clock`, `statuses` and
// `metrics` (nullable) must outlive it.
class ModelReconciler {
 public:
  ModelReconciler(api::CmlClient& client, common::Clock& clock, StatusStore& statuses,
                  ControllerMetrics* metrics, std::shared_ptr<spdlog::logger> logger,
                  ReconcilerOptions options);

  // One pass for `name` against `snapshot`. A failed CML call is returned as its status (after
  // being recorded in the model's status): the caller backs off and retries.
  boost::asio::awaitable<common::StatusOr<PassResult>> Reconcile(
      std::string name, std::shared_ptr<const config::Snapshot> snapshot);

  // A full observation and the plan for `spec`, without writing or recording anything (the
  // `plan` command).
  boost::asio::awaitable<common::StatusOr<Plan>> PlanOnly(config::ModelDeploymentSpec spec);

  // Starts a fresh set of attempts for `name` (POST /api/v1/models/{name}/retry).
  void Retry(const std::string& name);

 private:
  // What the next pass looks at before planning, when it is not a full observation: the build
  // or deployment being waited on, or (kSynced) the deployment that serves a synced model.
  enum class Focus { kNone, kBuild, kDeployment, kSynced };
  struct PendingWrite {
    ActionKind kind{};
    common::TimePoint at{};
  };
  struct Memory {
    std::optional<config::ModelDeploymentSpec> last_spec;
    std::optional<ObservedState> observed;
    Focus focus = Focus::kNone;
    std::string focus_build_id;
    std::string focus_deployment_id;
    bool model_created_by_us = false;
    std::string build_created_by_us;
    std::optional<PendingWrite> pending;
    common::TimePoint attempts_since{};
    std::string generation;
    std::optional<common::TimePoint> generation_seen_at;
    bool drift_counted = false;
    common::TimePoint last_full_at{};  // of the last full observation
    // Set by Retry(), applied when the next pass starts: a pass in flight holds references
    // into this memory, so nothing else may change it meanwhile.
    std::optional<common::TimePoint> retry_requested_at;
  };

  boost::asio::awaitable<common::StatusOr<ObservedState>> Observe(
      const config::ModelDeploymentSpec& spec, std::string* resolved_runtime);
  // The CML model named in `spec`, its builds and their deployments, into `observed`.
  boost::asio::awaitable<common::Status> ObserveModel(const config::ModelDeploymentSpec& spec,
                                                      ObservedState& observed);
  // Observe() into memory, recording a failure in the model's status.
  boost::asio::awaitable<common::Status> ObserveFully(const config::ModelDeploymentSpec& spec,
                                                      Memory& memory, ModelStatus& status);
  boost::asio::awaitable<common::Status> Refresh(const config::ModelDeploymentSpec& spec,
                                                 Memory& memory);
  // The cheap look at a synced model (Focus::kSynced): the model from the shared project
  // listing, the runtime from the shared catalogue, and the serving deployment by id. False
  // when what it found cannot be planned from (the model or deployment is gone): observe fully.
  boost::asio::awaitable<common::StatusOr<bool>> Recheck(const config::ModelDeploymentSpec& spec,
                                                         Memory& memory, ModelStatus& status);
  boost::asio::awaitable<common::Status> Act(const std::string& name, const PlannedAction& action,
                                             Memory& memory, ModelStatus& status);
  boost::asio::awaitable<common::StatusOr<PassResult>> Prune(std::string name, Memory& memory);

  bool ChainAllowed(const PlannedAction& action, const Memory& memory, bool refreshed) const;
  common::Duration NextDelay(const Plan& plan, bool wrote, common::TimePoint now);
  void RecordPlan(const config::ModelDeploymentSpec& spec, const Plan& plan, ModelStatus& status,
                  common::TimePoint now);
  void RecordError(ModelStatus& status, std::string_view operation, const common::Status& error,
                   common::Duration duration, common::TimePoint now);

  api::CmlClient& client_;
  common::Clock& clock_;
  StatusStore& statuses_;
  ControllerMetrics* metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  ReconcilerOptions options_;
  common::Jitter jitter_;
  SharedListings listings_;
  std::map<std::string, Memory, std::less<>> memory_;
};

}  // namespace cmlr::controllers
