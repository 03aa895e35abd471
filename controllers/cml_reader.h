#pragma once

#include <map>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "common/clock.h"
#include "common/status.h"
#include "config/model_deployment.h"
#include "controllers/planner.h"

namespace cmlr::controllers {

// What the reconciler remembers between observations of one model that helps it read CML right
// when CML answers less than the API promises (design 4a).
struct ReadMemory {
  // An object this reconciler created that no list answer has shown yet.
  struct Created {
    ActionKind kind = ActionKind::kCreateModel;
    std::string id;
    std::string parent_id;  // the registry model of a version, the build of a deployment
    common::TimePoint at{};
  };
  std::vector<Created> unseen;
  // Identity fields a list answer lacked and a get by id gave (they never change), so that a
  // sparse listing costs one get per build once, not at every observation.
  struct BuildIdentity {
    std::string registered_model_version_id;
    std::string runtime_identifier;
  };
  std::map<std::string, BuildIdentity> build_identities;  // by build id
  std::map<std::string, std::string> version_run_ids;     // by registered model version id
};

// The reads of one observation of a desired model (design 4, 4a), stateless but for the
// ReadMemory passed in:
// - registry model by name (exact match after CML's substring filter) or id, with its versions;
// - the runtime (a selector resolved against the catalogue);
// - the CML model by name, its builds and the deployments of every build that may have some.
// On top of the plain reads it applies the safety rules of design 4a:
// - read your writes: objects in `memory.unseen` that a list does not show are looked up by id
//   (and reported in ObservedState::unseen_writes); those a list shows are dropped from it;
// - incomplete answers: a build without registered_model_version_id / runtime_identifier, a
//   running deployment without replicas or with a NaN/infinite cpu or memory, or (for
//   fromExperimentRun) a version without its MLflow
//   run id is fetched by id; still missing, ObservedState::incomplete names operation and field;
// - 403 for missing: a 403 on a get by id re-lists the parent; absent there is NOT_FOUND.
// Errors: the first failing call's status, annotated with its operation name.
class CmlReader {
 public:
  explicit CmlReader(api::CmlClient& client) : client_(client) {}

  // Everything a plan of `spec` needs. `memory` may be null (nothing remembered, e.g. `plan`).
  boost::asio::awaitable<common::StatusOr<ObservedState>> ReadAll(config::ModelDeploymentSpec spec,
                                                                  ReadMemory* memory);
  // Only the CML model, its builds and their deployments (the --prune path).
  boost::asio::awaitable<common::StatusOr<ObservedState>> ReadModel(
      config::ModelDeploymentSpec spec, ReadMemory* memory);

  // get_model_build / get_model_deployment, with a 403 that the parent's listing does not
  // explain turned into NOT_FOUND.
  boost::asio::awaitable<common::StatusOr<api::ModelBuild>> GetBuild(std::string project_id,
                                                                     std::string model_id,
                                                                     std::string build_id);
  boost::asio::awaitable<common::StatusOr<api::ModelDeployment>> GetDeployment(
      std::string project_id, std::string model_id, std::string build_id,
      std::string deployment_id);
  // What a 403 from `operation` on a deployment by id means: NOT_FOUND when the build's
  // listing does not show the deployment, else `forbidden` itself (a real permission error).
  boost::asio::awaitable<common::Status> ExplainForbidden(common::Status forbidden,
                                                          std::string project_id,
                                                          std::string model_id,
                                                          std::string build_id,
                                                          std::string deployment_id);

 private:
  boost::asio::awaitable<common::Status> ReadRegistry(const config::ModelDeploymentSpec& spec,
                                                      ReadMemory* memory, ObservedState& observed);
  boost::asio::awaitable<common::Status> CompleteRunIds(ReadMemory* memory,
                                                        ObservedState& observed);
  boost::asio::awaitable<common::Status> ReadRuntime(const config::ModelDeploymentSpec& spec,
                                                     ObservedState& observed);
  boost::asio::awaitable<common::Status> FindModel(const config::ModelDeploymentSpec& spec,
                                                   ReadMemory* memory, ObservedState& observed);
  boost::asio::awaitable<common::Status> ReadBuilds(const config::ModelDeploymentSpec& spec,
                                                    ReadMemory* memory, ObservedState& observed);
  boost::asio::awaitable<common::Status> CompleteBuilds(const config::ModelDeploymentSpec& spec,
                                                        ReadMemory* memory,
                                                        ObservedState& observed);
  boost::asio::awaitable<common::Status> ReadDeployments(const config::ModelDeploymentSpec& spec,
                                                         ReadMemory* memory,
                                                         ObservedState& observed);

  api::CmlClient& client_;
};

}  // namespace cmlr::controllers
