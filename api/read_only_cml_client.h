#pragma once

#include "api/cml_client.h"

namespace cmlr::api {

// A CmlClient that can only read: every read (and the credential probe validate_key, which
// changes nothing) goes to `inner`; every write answers FAILED_PRECONDITION ("... refused: this
// client is read-only") without reaching `inner`. `cml-reconciler doctor` is built on it, so no
// check can ever change a workspace. `inner` must outlive it.
class ReadOnlyCmlClient final : public CmlClient {
 public:
  explicit ReadOnlyCmlClient(CmlClient& inner) : inner_(inner) {}

  Result<ValidateApiKeyResponse> ValidateApiKey(ValidateApiKeyRequest request) override;
  Result<std::vector<Runtime>> ListRuntimes(ListOptions options) override;
  Result<std::vector<RegisteredModel>> ListRegisteredModels(ListOptions options) override;
  Result<RegisteredModel> GetRegisteredModel(std::string model_id,
                                             ListOptions version_options) override;
  Result<RegisteredModelVersion> GetRegisteredModelVersion(std::string model_id,
                                                           std::string version_id) override;
  Result<std::vector<Model>> ListModels(std::string project_id, ListOptions options) override;
  Result<Model> GetModel(std::string project_id, std::string model_id) override;
  Result<std::vector<ModelBuild>> ListModelBuilds(std::string project_id, std::string model_id,
                                                  ListOptions options) override;
  Result<ModelBuild> GetModelBuild(std::string project_id, std::string model_id,
                                   std::string build_id) override;
  Result<std::vector<ModelDeployment>> ListModelDeployments(std::string project_id,
                                                            std::string model_id,
                                                            std::string build_id,
                                                            ListOptions options) override;
  Result<ModelDeployment> GetModelDeployment(std::string project_id, std::string model_id,
                                             std::string build_id,
                                             std::string deployment_id) override;

  // Writes: refused.
  Result<RegisteredModel> CreateRegisteredModel(CreateRegisteredModelRequest request) override;
  Result<Model> CreateModel(std::string project_id, CreateModelRequest request) override;
  Result<Model> UpdateModel(std::string project_id, std::string model_id,
                            UpdateModelRequest request) override;
  boost::asio::awaitable<common::Status> DeleteModel(std::string project_id,
                                                     std::string model_id) override;
  Result<ModelBuild> CreateModelBuild(std::string project_id, std::string model_id,
                                      CreateModelBuildRequest request) override;
  Result<ModelDeployment> CreateModelDeployment(std::string project_id, std::string model_id,
                                                std::string build_id,
                                                CreateModelDeploymentRequest request) override;
  Result<ModelDeployment> StopModelDeployment(std::string project_id, std::string model_id,
                                              std::string build_id,
                                              std::string deployment_id) override;
  Result<ModelDeployment> RestartModelDeployment(std::string project_id, std::string model_id,
                                                 std::string build_id,
                                                 std::string deployment_id) override;

  void SetCallObserver(CallObserver observer) override {
    inner_.SetCallObserver(std::move(observer));
  }

 private:
  CmlClient& inner_;
};

}  // namespace cmlr::api
