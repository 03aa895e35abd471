#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "common/status.h"
#include "config/snapshot.h"
#include "controllers/planner.h"

namespace cmlr::controllers {

// A running deployment that `--prune` would stop: it belongs to a CML model this reconciler
// built (a build carries its marker, BuildMarker) for a name no longer in the desired state.
struct PruneCandidate {
  std::string name;  // the desired-state name the build marker records
  std::string project_id;
  std::string model_id;
  std::string model_name;  // the CML model's name
  std::string build_id;
  std::string deployment_id;
  std::string deployment_status;
};

// The desired-state name a build comment records ("cml-reconciler NAME DIGEST"), or nullopt for
// a build this reconciler did not create.
std::optional<std::string> ManagedNameOf(std::string_view build_comment);

// The running deployments of one observed CML model of `project_id` (ObservedState::model,
// builds, deployments) that a prune would stop: none when no build carries a marker, or when the
// marked name, or the model itself (project and model name), is in `desired`. Sorted by
// deployment id.
std::vector<PruneCandidate> PruneCandidatesOf(const std::string& project_id,
                                              const ObservedState& observed,
                                              const config::Snapshot& desired);

// Looks through every project the desired state names for CML models this reconciler built
// whose names left the desired state, and returns their running deployments (sorted by name,
// then deployment id). Reads only: list_models per project, then builds and deployments of the
// models no desired model claims. Errors: the first failing read, annotated.
boost::asio::awaitable<common::StatusOr<std::vector<PruneCandidate>>> FindPruneCandidates(
    api::CmlClient& client, std::shared_ptr<const config::Snapshot> desired);

}  // namespace cmlr::controllers
