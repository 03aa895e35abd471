#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "api/model_service_client.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "common/status.h"
#include "config/snapshot.h"
#include "controllers/controller_metrics.h"
#include "controllers/observation_cache.h"
#include "controllers/planner.h"
#include "controllers/status_store.h"
#include "controllers/verifier.h"
#include "controllers/write_budget.h"

namespace cmlr::controllers {

struct ReconcilerOptions {
  // The deployed models' endpoint, for post-deploy verification (design 4b); null: a deployment
  // whose spec has `verify` stays Verifying. Must outlive the reconciler.
  api::ModelServiceClient* model_service = nullptr;
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

// Reconciles one model at a time (design section 4): observe through the ObservationCache,
// plan with the pure ComputePlan, perform at most one write, record status and metrics, and say
// when to look again. CML is the only state: what is kept in memory between passes (the
// observation cache, the generation and attempt bookkeeping below) is an optimisation that a
// restart may lose.
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

  // Forgets everything remembered of `name` (it left the desired state for good).
  void Forget(const std::string& name);
  // Whether anything is remembered of `name`, and the observation kept for it (for tests of
  // memory that stays flat).
  bool Remembers(std::string_view name) const {
    return progress_.find(name) != progress_.end() || observations_.Contains(name);
  }
  const ObservationCache& observations() const { return observations_; }

 private:
  // What a pass needs to know of earlier passes of the same model, besides the observation.
  struct Progress {
    std::optional<config::ModelDeploymentSpec> last_spec;  // for --prune after removal
    std::string generation;                                // the spec digest last seen
    std::optional<common::TimePoint> generation_seen_at;   // until it converges
    common::TimePoint attempts_since{};  // failures before this are not attempts (retry)
    // Set by Retry(), applied when the next pass starts, so a pass in flight is not disturbed.
    std::optional<common::TimePoint> retry_requested_at;
    // A write whose outcome is unknown: the same write waits for `ambiguous_grace`.
    std::optional<ActionKind> pending_kind;
    common::TimePoint pending_at{};
    bool drift_counted = false;
    WriteLedger writes;  // for the write budget of design 4a
    // This generation was rolled back (design 4b): how its rollout failed.
    std::optional<std::string> rolled_back;
  };

  void BeginPass(const config::ModelDeploymentSpec& spec, Progress& progress, ModelStatus& status);
  // Observes, plans, and observes fully and plans again when the plan wants a write that the
  // observation does not allow.
  boost::asio::awaitable<common::StatusOr<Plan>> ObserveAndPlan(
      const config::ModelDeploymentSpec& spec, const Progress& progress, ModelStatus& status);
  Plan PlanFor(const config::ModelDeploymentSpec& spec, const ObservedState& observed,
               const Progress& progress) const;
  // Runs the verification `awaiting` names and remembers its result.
  boost::asio::awaitable<void> VerifyDeployment(const config::ModelDeploymentSpec& spec,
                                                const ObservedState& observed,
                                                const Awaiting& awaiting, ModelStatus& status);
  // Remembers (and counts) a rollback the first time a plan of this generation makes or finds it.
  void NoteRollback(const std::string& name, const Plan& plan, Progress& progress);
  // True while an earlier write of the same kind with an unknown outcome may still show up.
  bool HoldForPendingWrite(Progress& progress, Plan& plan, common::TimePoint now) const;
  // Sends `action`, records it in history, logs and metrics; returns CML's answer.
  boost::asio::awaitable<common::StatusOr<WriteAnswer>> Write(const std::string& name,
                                                              const PlannedAction& action,
                                                              ModelStatus& status);
  boost::asio::awaitable<common::StatusOr<PassResult>> Removed(std::string name,
                                                               std::optional<std::string> revision);
  boost::asio::awaitable<common::StatusOr<PassResult>> Prune(
      std::string name, const config::ModelDeploymentSpec& spec);
  // Status, convergence metric, the observation to keep and when to look again.
  PassResult FinishPass(const config::ModelDeploymentSpec& spec, Progress& progress, Plan plan,
                        const WriteAnswer* written, bool hold, ModelStatus& status);

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
  CmlReader reader_;
  ObservationCache observations_;
  std::optional<Verifier> verifier_;
  std::map<std::string, Progress, std::less<>> progress_;
};

}  // namespace cmlr::controllers
