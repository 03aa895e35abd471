#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "emulator/fixture.h"
#include "emulator/persistence.h"
#include "emulator/quirks.h"
#include "emulator/resources.h"

namespace cmlr::emulator {

struct Timings {
  // A build goes queued -> pending -> pushing in thirds of this, then built (or build failed);
  // with the succeeded-phase quirk queued -> pending -> succeeded -> pushing in quarters.
  common::Duration build = std::chrono::seconds(3);
  // A deployment of a built build goes pending -> deploying after half of this, deployed after
  // all of it; a stop takes half of it (stopping -> stopped).
  common::Duration deploy = std::chrono::seconds(2);
};

struct NewRegistration {
  std::string project_id;
  std::string experiment_id;
  std::string run_id;
  std::string model_path;
  std::string model_name;
  std::string description;
  std::string notes;
  std::string visibility;
};

struct NewModel {
  std::string project_id;
  std::string name;
  std::string description;
  bool disable_authentication = false;
  std::string registered_model_id;
  std::string visibility;
  int run_as = 0;
  std::int64_t accelerator_label_id = 0;
  int resource_group_id = 0;
  int resource_profile_id = 0;
};

// Fields present in a PATCH body; absent ones stay as they are, or with `replace`
// (patch-replaces quirk) are cleared.
struct ModelUpdate {
  bool replace = false;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> visibility;
  std::optional<DefaultResources> default_resources;
  std::optional<std::int64_t> default_num_replicas;
  std::optional<std::string> default_replication_type;
  std::optional<int> run_as;
  std::optional<std::int64_t> accelerator_label_id;
  std::optional<int> resource_group_id;
  std::optional<int> resource_profile_id;
};

struct NewBuild {
  std::string project_id;
  std::string model_id;
  std::string comment;
  std::string file_path;
  std::string function_name;
  std::string kernel;
  std::string runtime_identifier;
  std::vector<std::string> runtime_addon_identifiers;
  std::string registered_model_version_id;
  std::string model_root_dir;
  std::string build_script_path;
};

struct NewDeployment {
  std::string project_id;
  std::string model_id;
  std::string build_id;
  double cpu = 0;     // 0: 1 vCPU
  double memory = 0;  // GB; 0: 2
  int nvidia_gpus = 0;
  int replicas = 0;  // 0: 1
  std::map<std::string, std::string> environment;
  std::int64_t accelerator_label_id = 0;
  int resource_group_id = 0;
  int resource_profile_id = 0;
  // Requested with the build (auto_deploy_model): it waits for the build under every quirk.
  bool with_build = false;
};

// The in-memory CML workspace: registry, models, builds, deployments and their status
// machines. Status progression is computed from creation times and the times passed in (never
// from a clock of its own), so Settle(now) brings every object to the status it has at `now`,
// replaying transitions in time order; tests drive it with a FakeClock. Not thread-safe.
//
// Errors: NOT_FOUND for unknown or mismatched ids (a model of another project, ...),
// INVALID_ARGUMENT for missing or invalid input.
class EmulatorState {
 public:
  EmulatorState(Fixture fixture, Timings timings, std::uint64_t seed, common::TimePoint now);

  const Timings& timings() const { return timings_; }

  // The quirks that change behaviour here (registration, succeeded-phase); they apply to objects
  // created from now on.
  void set_quirks(const Quirks& quirks) { quirks_ = quirks; }

  // At most `limit` stopped or failed deployments are kept per model: when one more ends, the
  // one that ended first is dropped (ties: the older one). 0: unlimited, as CML keeps them all.
  void set_history_limit(std::size_t limit);
  std::size_t history_limit() const { return history_limit_; }

  // Changes whenever anything observable changes (a write or a status transition), so a reader
  // may reuse an answer computed at the same revision.
  std::uint64_t revision() const { return revision_; }

  // Brings all statuses to `now`. Cheap when nothing is due.
  void Settle(common::TimePoint now);

  const User* FindUser(std::string_view username) const;
  const User* FindUserByKey(std::string_view api_key) const;
  // Adds an API key to a user (the first user when `username` is empty).
  void AddApiKey(std::string key, std::string_view username = {});
  const Project* FindProject(std::string_view public_identifier) const;
  const std::vector<Runtime>& runtimes() const { return runtimes_; }
  const Runtime* FindRuntime(std::string_view image_identifier) const;

  const std::vector<RegisteredModel>& registered_models() const { return registered_models_; }
  const RegisteredModel* FindRegisteredModel(std::string_view model_id) const;
  // Registers a version of the run; a new registry model when none has model_name. Returns the
  // model and the number of the new version.
  [[nodiscard]] common::StatusOr<std::pair<RegisteredModel, int>> Register(
      const NewRegistration& request, std::string_view username, common::TimePoint now);

  // Models of a project (empty id: of every project) in creation order.
  std::vector<const Model*> Models(std::string_view project_id) const;
  [[nodiscard]] common::StatusOr<Model> GetModel(std::string_view project_id,
                                                 std::string_view model_id) const;
  const Model* FindModelByAccessKey(std::string_view access_key) const;
  [[nodiscard]] common::StatusOr<Model> CreateModel(const NewModel& request,
                                                    std::string_view username,
                                                    common::TimePoint now);
  [[nodiscard]] common::StatusOr<Model> UpdateModel(std::string_view project_id,
                                                    std::string_view model_id,
                                                    const ModelUpdate& update,
                                                    common::TimePoint now);
  // Deletes the model with its builds and deployments.
  [[nodiscard]] common::Status DeleteModel(std::string_view project_id, std::string_view model_id);

  [[nodiscard]] common::StatusOr<std::vector<const Build*>> Builds(std::string_view project_id,
                                                                   std::string_view model_id) const;
  [[nodiscard]] common::StatusOr<Build> GetBuild(std::string_view project_id,
                                                 std::string_view model_id,
                                                 std::string_view build_id) const;
  [[nodiscard]] common::StatusOr<Build> CreateBuild(const NewBuild& request,
                                                    std::string_view username,
                                                    common::TimePoint now);
  [[nodiscard]] common::Status DeleteBuild(std::string_view project_id, std::string_view model_id,
                                           std::string_view build_id);

  [[nodiscard]] common::StatusOr<std::vector<const Deployment*>> Deployments(
      std::string_view project_id, std::string_view model_id, std::string_view build_id) const;
  // Every deployment of a model, over all its builds.
  std::vector<const Deployment*> DeploymentsOfModel(std::string_view model_id) const;
  [[nodiscard]] common::StatusOr<Deployment> GetDeployment(std::string_view project_id,
                                                           std::string_view model_id,
                                                           std::string_view build_id,
                                                           std::string_view deployment_id) const;
  [[nodiscard]] common::StatusOr<Deployment> CreateDeployment(const NewDeployment& request,
                                                              std::string_view username,
                                                              common::TimePoint now);
  // `:stop`: pending, deploying or deployed go through stopping to stopped; a deployment that
  // is already stopping, stopped or failed is returned unchanged. `immediately` skips stopping.
  [[nodiscard]] common::StatusOr<Deployment> StopDeployment(std::string_view deployment_id,
                                                            common::TimePoint now,
                                                            bool immediately = false);
  // `:restart`: the deployment starts again from pending.
  [[nodiscard]] common::StatusOr<Deployment> RestartDeployment(std::string_view deployment_id,
                                                               common::TimePoint now);
  // Looks a deployment up by id alone (admin API).
  const Deployment* FindDeployment(std::string_view deployment_id) const;
  const Build* FindBuild(std::string_view build_id) const;
  const RegisteredModelVersion* FindVersion(std::string_view model_version_id) const;

  // Everything, in the API's wire encoding, for the admin state dump.
  nlohmann::json DumpForAdmin() const;

  // Persistence (emulator/persistence.h): the complete state, API keys excluded, and the JSON
  // of the state file. Restore replaces everything but keeps the API keys currently configured
  // for users of the same name; INVALID_ARGUMENT (naming the path) for a malformed file, which
  // leaves the state unchanged.
  StateSnapshot Snapshot() const;
  nlohmann::json Save() const;
  [[nodiscard]] common::Status Restore(const nlohmann::json& saved);

 private:
  struct Transition {
    enum class Kind { kBuild, kDeployment, kVersion };
    common::TimePoint at;
    Kind kind = Kind::kBuild;
    std::size_t index = 0;    // into builds_, deployments_ or registered_models_
    std::size_t version = 0;  // into the registered model's versions
  };
  std::optional<Transition> NextTransition() const;
  std::optional<common::TimePoint> NextBuildTransition(const Build& build) const;
  std::optional<common::TimePoint> NextDeploymentTransition(const Deployment& deployment) const;
  void ApplyBuildTransition(Build& build, common::TimePoint at);
  void ApplyDeploymentTransition(std::size_t index, common::TimePoint at);
  void NextVersionTransition(std::optional<Transition>& best) const;
  void ApplyUpdate(Model& model, const ModelUpdate& update) const;
  void Changed() {
    next_transition_ = std::nullopt;
    ++revision_;
  }

  void PruneHistory();
  // The deployment as it is now, or `last_seen` when PruneHistory has dropped it meanwhile.
  Deployment CurrentOr(std::string_view id, const Deployment& last_seen);

  [[nodiscard]] common::StatusOr<MlflowRun> FindRun(const NewRegistration& request) const;

  std::string NextUuid();
  std::string NextRegistryId();
  std::string NextAccessKey();
  std::uint64_t NextRandom();
  // Whether deployments of `build` fail (its version's run is marked `deployment: broken`).
  bool DeploysFail(const Build& build) const;
  Deployment* MutableDeployment(std::string_view id);

  Timings timings_;
  Quirks quirks_;
  std::size_t history_limit_ = 0;
  std::uint64_t seed_;
  std::uint64_t id_counter_ = 0;
  std::uint64_t revision_ = 0;
  std::vector<User> users_;
  std::vector<Project> projects_;
  std::vector<Runtime> runtimes_;
  std::vector<RegisteredModel> registered_models_;
  std::vector<MlflowRun> mlflow_runs_;
  std::vector<Model> models_;
  std::vector<Build> builds_;
  std::vector<Deployment> deployments_;
  // Cached time of the next transition; nullopt after a change (recomputed by Settle).
  mutable std::optional<std::optional<common::TimePoint>> next_transition_;
};

}  // namespace cmlr::emulator
