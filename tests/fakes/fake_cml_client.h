#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/cml_client.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::testing {

struct FakeCmlOptions {
  // A build goes queued -> pending -> pushing (a third of the time each) -> built, or
  // "build failed" when its registered model version is marked broken.
  common::Duration build_duration = std::chrono::seconds(3);
  // A deployment goes pending (first half) -> deploying -> deployed. When one becomes deployed,
  // the model's other running deployments become stopped (one active deployment per model).
  common::Duration deploy_duration = std::chrono::seconds(2);
};

// Behaviours of a real CML that the API leaves open (design 4a), off by default.
struct FakeCmlQuirks {
  // Objects created less than this ago are missing from list answers (gets find them).
  common::Duration list_lag{};
  // List answers lack builds' registered_model_version_id and runtime_identifier and
  // versions' MLflow metadata; gets by id are complete.
  bool sparse_lists = false;
  // Missing ids answer 403 PERMISSION_DENIED instead of 404.
  bool forbidden_for_missing = false;
  // update_model answers as if applied and changes nothing.
  bool ignore_updates = false;
  // create_model answers with a new model that is never stored (neither listed nor found).
  bool phantom_models = false;
};

// An in-memory CML for the tests of the layers above api/ (house style point 17). Statuses
// advance with the injected clock (a FakeClock in tests), computed whenever a call looks, so no
// timers run. Calls complete without suspending. Single-threaded.
//
// Behaviour that the real API leaves open is fixed here and documented per method:
// - unknown ids are NOT_FOUND (HTTP 404); any project id exists;
// - creating a model whose name is taken creates a second one (the reconciler must not);
// - create_model_deployment needs a build whose status is "built" (else FAILED_PRECONDITION);
// - list calls ignore page_size and sort (items come in creation order) and apply
//   search_filter as CML does: a case-sensitive substring match on the documented keys.
//
// Failure injection, per operation name (the CmlClient operation names, e.g.
// "create_model_build"): FailNext() makes the next call fail with a status without applying
// it; LoseNextAnswer() applies the next write and then answers UNAVAILABLE with
// outcome_unknown(), as a gateway timeout would.
class FakeCmlClient : public api::CmlClient {
 public:
  explicit FakeCmlClient(common::Clock& clock, FakeCmlOptions options = {});

  // ---- Seeding
  void AddRuntime(api::Runtime runtime);
  // Adds a registry model with its versions; missing ids are generated. Returns the stored copy.
  api::RegisteredModel AddRegisteredModel(api::RegisteredModel model);
  // Builds of this registered model version end in "build failed".
  void MarkVersionBroken(std::string model_version_id);
  // Deployments of builds of this registered model version end in "failed".
  void MarkVersionUndeployable(std::string model_version_id);
  void SetQuirks(FakeCmlQuirks quirks) { quirks_ = quirks; }

  // ---- Failure injection (queued; each entry is used by one call)
  void FailNext(std::string_view operation, common::Status status);
  void LoseNextAnswer(std::string_view operation);
  // Drops every failure still queued.
  void ClearFailures() { injected_.clear(); }

  // ---- Drift, as a person in the CML UI would make it
  // Forces a deployment's status (e.g. "stopped", "failed"); it no longer advances by itself.
  void SetDeploymentStatus(const std::string& deployment_id, std::string status);
  // Edits a model's description.
  void SetModelDescription(const std::string& model_id, std::string description);

  // ---- Inspection (statuses as of the clock's Now())
  int calls(std::string_view operation) const;
  int total_calls() const { return total_calls_; }
  int writes() const { return writes_; }
  std::vector<api::Model> models(const std::string& project_id);
  std::vector<api::ModelBuild> builds(const std::string& model_id);
  std::vector<api::ModelDeployment> deployments(const std::string& model_id);

  // ---- CmlClient
  Result<api::ValidateApiKeyResponse> ValidateApiKey(api::ValidateApiKeyRequest request) override;
  Result<std::vector<api::Runtime>> ListRuntimes(api::ListOptions options) override;
  Result<std::vector<api::RegisteredModel>> ListRegisteredModels(api::ListOptions options) override;
  Result<api::RegisteredModel> GetRegisteredModel(std::string model_id,
                                                  api::ListOptions version_options) override;
  Result<api::RegisteredModel> CreateRegisteredModel(
      api::CreateRegisteredModelRequest request) override;
  Result<api::RegisteredModelVersion> GetRegisteredModelVersion(std::string model_id,
                                                                std::string version_id) override;
  Result<std::vector<api::Model>> ListModels(std::string project_id,
                                             api::ListOptions options) override;
  Result<api::Model> GetModel(std::string project_id, std::string model_id) override;
  Result<api::Model> CreateModel(std::string project_id, api::CreateModelRequest request) override;
  Result<api::Model> UpdateModel(std::string project_id, std::string model_id,
                                 api::UpdateModelRequest request) override;
  boost::asio::awaitable<common::Status> DeleteModel(std::string project_id,
                                                     std::string model_id) override;
  Result<std::vector<api::ModelBuild>> ListModelBuilds(std::string project_id, std::string model_id,
                                                       api::ListOptions options) override;
  Result<api::ModelBuild> GetModelBuild(std::string project_id, std::string model_id,
                                        std::string build_id) override;
  Result<api::ModelBuild> CreateModelBuild(std::string project_id, std::string model_id,
                                           api::CreateModelBuildRequest request) override;
  Result<std::vector<api::ModelDeployment>> ListModelDeployments(std::string project_id,
                                                                 std::string model_id,
                                                                 std::string build_id,
                                                                 api::ListOptions options) override;
  Result<api::ModelDeployment> GetModelDeployment(std::string project_id, std::string model_id,
                                                  std::string build_id,
                                                  std::string deployment_id) override;
  Result<api::ModelDeployment> CreateModelDeployment(
      std::string project_id, std::string model_id, std::string build_id,
      api::CreateModelDeploymentRequest request) override;
  Result<api::ModelDeployment> StopModelDeployment(std::string project_id, std::string model_id,
                                                   std::string build_id,
                                                   std::string deployment_id) override;
  Result<api::ModelDeployment> RestartModelDeployment(std::string project_id, std::string model_id,
                                                      std::string build_id,
                                                      std::string deployment_id) override;
  void SetCallObserver(api::CallObserver observer) override { observer_ = std::move(observer); }

 private:
  struct StoredModel {
    std::string project_id;
    api::Model model;
  };
  struct StoredBuild {
    std::string project_id;
    api::ModelBuild build;
  };
  struct StoredDeployment {
    api::ModelDeployment deployment;
    common::TimePoint started_at;
    std::string forced_status;  // set by stop, drift or the one-active rule
  };
  struct Injected {
    common::Status status;
    bool apply = false;
  };

  // Starts a call: counts it, advances statuses, and returns an injected failure, if any.
  std::optional<Injected> Begin(std::string_view operation, bool write);
  // Answers a call: tells the observer; returns the status given.
  common::Status End(std::string_view operation, common::Status status);
  void EndOk(std::string_view operation);
  void Advance();
  std::string NextId(std::string_view prefix);
  common::Status NotFound(std::string_view operation, std::string_view what,
                          const std::string& id) const;

  StoredModel* FindModel(const std::string& project_id, const std::string& model_id);
  StoredBuild* FindBuild(const std::string& model_id, const std::string& build_id);
  StoredDeployment* FindDeployment(const std::string& build_id, const std::string& deployment_id);
  api::RegisteredModel* FindRegistered(const std::string& model_id);

  // Whether a list answer shows an object created at `created_at` (list lag).
  bool Listed(const std::optional<common::TimePoint>& created_at) const;

  common::Clock& clock_;
  FakeCmlOptions options_;
  FakeCmlQuirks quirks_;
  api::CallObserver observer_;
  int next_id_ = 1;
  int total_calls_ = 0;
  int writes_ = 0;
  std::map<std::string, int, std::less<>> calls_;
  std::map<std::string, std::deque<Injected>, std::less<>> injected_;
  std::set<std::string> broken_versions_;
  std::set<std::string> undeployable_versions_;
  std::vector<api::Runtime> runtimes_;
  std::vector<api::RegisteredModel> registered_;
  std::vector<StoredModel> models_;
  std::vector<StoredBuild> builds_;
  std::vector<StoredDeployment> deployments_;
};

}  // namespace cmlr::testing
