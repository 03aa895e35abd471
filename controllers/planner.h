#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/wire_types.h"
#include "common/clock.h"
#include "config/model_deployment.h"
#include "controllers/model_status.h"
#include "controllers/reason.h"

namespace cmlr::controllers {

// How CML's free-form status strings are read (design section 4), case-insensitively. Builds:
// only `built` succeeded (`succeeded` may precede `pushing`); `build failed` and `timedout`
// failed; anything else is in progress.
enum class BuildPhase { kSucceeded, kFailed, kInProgress };
enum class DeploymentPhase { kDeployed, kFailed, kStopped, kInProgress };
BuildPhase ClassifyBuild(std::string_view status);
DeploymentPhase ClassifyDeployment(std::string_view status);
// A deployment that serves or is about to: deployed or in progress, `stopping` excepted.
bool IsRunning(std::string_view deployment_status);

// The newest ENABLED runtime matching every non-empty field of the selector (exact match:
// CML's search_filter is a substring match), newest by full_version compared component-wise
// ("2024.02.1-b4" > "2023.08.2-b8"). nullopt when none matches.
std::optional<api::Runtime> ResolveRuntime(const config::RuntimeSelector& selector,
                                           const std::vector<api::Runtime>& runtimes);

// The `comment` of every build the reconciler creates: ownership and attempt marker.
std::string BuildMarker(const config::ModelDeploymentSpec& spec);

enum class ActionKind {
  kCreateRegisteredModel,
  kCreateModel,
  kUpdateModel,
  kCreateBuild,
  kCreateDeployment,
  kStopDeployment,
};

// How long a created object may stay invisible to lists and gets before the reconciler stops
// waiting for it (design 4a).
inline constexpr common::Duration kWriteVisibleWithin = std::chrono::minutes(2);

// An object this reconciler created that no list answer has shown yet (design 4a, read your
// writes). It is looked up by id until a list shows it; the planner never creates its like
// again meanwhile.
struct UnseenWrite {
  ActionKind kind = ActionKind::kCreateModel;
  std::string id;
  common::TimePoint created_at{};  // when CML answered the create
  bool found_by_id = false;        // a get by id showed it in this observation
};

// Everything one pass observed in CML for one desired model. Only complete observations reach
// the planner: a failed read ends the pass before planning.
struct ObservedState {
  // The registry model named (or with the id) in the spec; nullopt when it does not exist.
  std::optional<api::RegisteredModel> registered_model;
  // The desired version (by number, or by MLflow run id for fromExperimentRun), if present.
  std::optional<api::RegisteredModelVersion> version;
  // The runtime image identifier to build on; nullopt when a selector matched nothing.
  std::optional<std::string> runtime_identifier;
  // The CML model whose name equals modelName exactly in projectId; nullopt when absent.
  std::optional<api::Model> model;
  std::vector<api::ModelBuild> builds;            // every build of the model
  std::vector<api::ModelDeployment> deployments;  // deployments of those builds
  // Objects created by this reconciler that the lists do not show yet.
  std::vector<UnseenWrite> unseen_writes;
  // Set when a field identity or matching needs was missing from a list answer and from the
  // get by id that followed: "list_model_builds: build b-1 has no runtime_identifier".
  std::optional<std::string> incomplete;
};

struct WriteLedger;

struct PlanContext {
  common::TimePoint now{};
  // Failed builds and deployments created before this instant are not counted as attempts
  // (set by a retry request); the epoch counts everything.
  common::TimePoint attempts_since{};
  // The writes already sent for this model (write_budget.h); null: no budget applies.
  const WriteLedger* ledger = nullptr;
  // Verifications this daemon ran, by deployment id (CML records none); null: none.
  const std::map<std::string, Verification>* verifications = nullptr;
  // Set when this daemon rolled the current generation back: why the rollout failed.
  std::optional<std::string> rolled_back;
};

// The metric label and history name of an action (design section 8).
std::string_view ActionName(ActionKind kind);

// One CML write, fully specified: the reconciler only sends it.
struct PlannedAction {
  ActionKind kind{};
  std::string project_id;
  std::string model_id;       // kUpdateModel, kCreateBuild, kCreateDeployment, kStopDeployment
  std::string build_id;       // kCreateDeployment, kStopDeployment
  std::string deployment_id;  // kStopDeployment
  api::CreateRegisteredModelRequest register_request;
  api::CreateModelRequest model_request;
  api::UpdateModelRequest update_request;
  api::CreateModelBuildRequest build_request;
  api::CreateModelDeploymentRequest deployment_request;
  std::string summary;  // one line for plan output, status and logs
};

// What to do after this pass, besides the action (the reconciler turns it into a delay).
enum class NextCheck {
  kResync,    // in sync, or nothing will change without a new spec: the resync period
  kProgress,  // CML is working (build, deployment) or a write was just made: poll adaptively
  kStalled,   // needs a spec change or a retry; checked again at the resync period
};

// The one thing CML is working on that the plan waits for, so that the next pass can look at
// just that object (by id) instead of observing everything again.
struct Awaiting {
  // kVerification: the deployment is deployed and waits for this daemon's own verification
  // (design 4b), which the reconciler runs before planning again.
  enum class Kind { kBuild, kDeployment, kVerification };
  Kind kind = Kind::kBuild;
  std::string build_id;
  std::string deployment_id;  // kDeployment
  common::TimePoint since{};  // when the awaited operation began (polling, deadlines)
};

struct Plan {
  std::optional<PlannedAction> action;  // at most one write
  bool suppressed_by_suspend = false;   // `action` is what would be done if not suspended
  SyncState sync = SyncState::kUnknown;
  HealthState health = HealthState::kUnknown;
  // The reason and message for the conditions.
  Reason reason = Reason::kSynced;
  std::string message;
  bool stalled = false;
  bool reconciling = false;
  NextCheck next = NextCheck::kResync;
  std::optional<Awaiting> awaiting;
  std::vector<FieldDiff> diffs;
  std::vector<std::string> drift;  // fields changed outside git (cml_reconciler_drift_total)
  LiveState live;
  // Of the deployment that serves (or would, once verified), when the spec has `verify`.
  std::optional<Verification> verification;
  // Where a failed rollout returns to (design 4b), when there is such a deployment.
  std::optional<LastGood> last_good;
  // Set when this plan rolls the generation back (or finds it rolled back): how it failed.
  std::optional<std::string> rollback_of;
};

// The pure heart of the reconciler (design section 4): from the desired spec, what CML shows
// and the time, the next write (if any) and the status to report. No I/O, deterministic.
Plan ComputePlan(const config::ModelDeploymentSpec& desired, const ObservedState& observed,
                 const PlanContext& context);

// Drops from a full observation what no plan of `desired` can depend on, so that what the
// reconciler remembers between passes does not grow with CML's history: deployments that
// neither run, nor belong to a matching build with the desired resources (of the stopped ones
// only the newest one stopped from outside is kept, as `ledger` tells), nor are the last good
// one (given this daemon's `verifications`); builds of other versions or runtimes that no kept
// deployment uses; registry versions no kept build uses. ComputePlan gives the same plan before
// and after (with the same verifications and ledger). `ledger` may be null (no memory).
void TrimObservation(const config::ModelDeploymentSpec& desired,
                     const std::map<std::string, Verification>& verifications,
                     const WriteLedger* ledger, ObservedState& observed);

// The plan for a model removed from the desired state under --prune: stop its running
// deployments, one per pass (never delete anything).
Plan ComputePrunePlan(const std::string& project_id, const ObservedState& observed);

}  // namespace cmlr::controllers
