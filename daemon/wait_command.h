#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::daemon {

// What `cml-reconciler wait --for` waits for (design section 6).
enum class WaitFor {
  kSynced,   // sync == Synced
  kHealthy,  // sync == Synced and health == Healthy (the default)
};

struct WaitRequest {
  // The models to wait for; empty: every model the daemon reports that is still in its desired
  // state (entries with "removed": true are left out).
  std::vector<std::string> names;
  WaitFor mode = WaitFor::kHealthy;
  // When set, a model only counts (ready or stalled) once its status was computed from this
  // source revision of the desired state (the entry's "revision", design 12), so that a CI job
  // that just pushed a commit does not accept the statuses of the previous one. A model whose
  // spec that commit left alone gets the new revision at its next pass (within --resync).
  std::optional<std::string> revision;
};

enum class WaitState {
  kDone,     // every model of the request is ready
  kWaiting,  // at least one is not ready, none is stalled
  kStalled,  // at least one has the condition Stalled with status "True"
};

// A model that is not ready (kWaiting) or is stalled (kStalled), and why, in words:
// "OutOfSync/Progressing: BuildInProgress: build 3 is building", "not known to the daemon yet".
struct ModelProblem {
  std::string name;
  // A short state, for telling when progress was made: "OutOfSync/Progressing", "Unknown",
  // "Removed", "OtherRevision", "Stalled".
  std::string state;
  std::string why;

  bool operator==(const ModelProblem&) const = default;
};

struct WaitDecision {
  WaitState state = WaitState::kWaiting;
  // kWaiting: the models not ready; kStalled: the stalled ones only. Sorted by name.
  std::vector<ModelProblem> problems;
  // Something about the daemon as a whole, said while waiting: no desired state loaded yet, a
  // status answer without a models list, the revision it serves, a rejected desired state.
  // Empty otherwise.
  std::string note;
  // The number of models the decision covered (named, or all of the daemon's).
  std::size_t models = 0;
};

// The pure decision of `wait` on one `GET /api/v1/status` answer ({"revision", "desiredState",
// "models": [ENTRY, ...]}, design section 5; "revision" and "desiredState" may be missing).
//
// A model is ready when its entry matches `mode`, or when its health is Suspended (suspended
// models are observed and reported only, never changed: `apply` counts them converged too).
// It is stalled when its "Stalled" condition has status "True". A named model the daemon does
// not report (yet: a new desired state may bring it) is waiting. With no names and no models,
// the decision is kDone only once the daemon has loaded a desired state (desiredState.at set,
// or desiredState absent in older daemons). Malformed entries or fields count as not ready;
// this function never throws.
WaitDecision DecideWait(const nlohmann::json& status_response, const WaitRequest& request);

// The wait loop around DecideWait, with its collaborators injected so that tests drive it with
// a fake clock: `fetch` performs one GET /api/v1/status, `clock` tells the time, `sleep` waits
// (tests advance the fake clock there).
struct WaitLoopOptions {
  WaitRequest request;
  common::Duration timeout = std::chrono::minutes(10);
  common::Duration interval = std::chrono::seconds(1);
};

struct WaitLoopIo {
  std::function<common::StatusOr<nlohmann::json>()> fetch;
  const common::Clock* clock = nullptr;
  std::function<void(common::Duration)> sleep;
  std::ostream* out = nullptr;  // the final summary on success
  std::ostream* err = nullptr;  // progress lines, and the reason of a failure
};

// Polls until the decision is kDone (returns 0), kStalled (3, naming the stalled models with
// their reason and message), or `timeout` passes (1, naming each model that was not ready and
// why, or the last error when the daemon never answered). Errors of `fetch` (an unreachable
// daemon, a 5xx) are retried until the timeout: CI may start the daemon concurrently. A
// progress line goes to `err` whenever the set of models not ready (with their sync/health)
// or the fetch error changes.
int RunWaitLoop(const WaitLoopOptions& options, const WaitLoopIo& io);

}  // namespace cmlr::daemon
