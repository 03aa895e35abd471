#include "api/read_only_cml_client.h"

#include <string>

namespace cmlr::api {

namespace {

common::Status Refused(std::string_view operation) {
  return common::FailedPreconditionError(std::string(operation) +
                                         " refused: this client is read-only");
}

// The answer of every write. The write methods themselves are plain functions returning this
// coroutine, so their (unused, unnamed) parameters are never coroutine parameters.
template <typename T>
CmlClient::Result<T> RefusedResult(std::string_view operation) {
  co_return Refused(operation);
}

boost::asio::awaitable<common::Status> RefusedStatus(std::string_view operation) {
  co_return Refused(operation);
}

}  // namespace

CmlClient::Result<ValidateApiKeyResponse> ReadOnlyCmlClient::ValidateApiKey(
    ValidateApiKeyRequest request) {
  co_return co_await inner_.ValidateApiKey(std::move(request));
}

CmlClient::Result<std::vector<Runtime>> ReadOnlyCmlClient::ListRuntimes(ListOptions options) {
  co_return co_await inner_.ListRuntimes(std::move(options));
}

CmlClient::Result<std::vector<RegisteredModel>> ReadOnlyCmlClient::ListRegisteredModels(
    ListOptions options) {
  co_return co_await inner_.ListRegisteredModels(std::move(options));
}

CmlClient::Result<RegisteredModel> ReadOnlyCmlClient::GetRegisteredModel(
    std::string model_id, ListOptions version_options) {
  co_return co_await inner_.GetRegisteredModel(std::move(model_id), std::move(version_options));
}

CmlClient::Result<RegisteredModelVersion> ReadOnlyCmlClient::GetRegisteredModelVersion(
    std::string model_id, std::string version_id) {
  co_return co_await inner_.GetRegisteredModelVersion(std::move(model_id), std::move(version_id));
}

CmlClient::Result<std::vector<Model>> ReadOnlyCmlClient::ListModels(std::string project_id,
                                                                    ListOptions options) {
  co_return co_await inner_.ListModels(std::move(project_id), std::move(options));
}

CmlClient::Result<Model> ReadOnlyCmlClient::GetModel(std::string project_id, std::string model_id) {
  co_return co_await inner_.GetModel(std::move(project_id), std::move(model_id));
}

CmlClient::Result<std::vector<ModelBuild>> ReadOnlyCmlClient::ListModelBuilds(
    std::string project_id, std::string model_id, ListOptions options) {
  co_return co_await inner_.ListModelBuilds(std::move(project_id), std::move(model_id),
                                            std::move(options));
}

CmlClient::Result<ModelBuild> ReadOnlyCmlClient::GetModelBuild(std::string project_id,
                                                               std::string model_id,
                                                               std::string build_id) {
  co_return co_await inner_.GetModelBuild(std::move(project_id), std::move(model_id),
                                          std::move(build_id));
}

CmlClient::Result<std::vector<ModelDeployment>> ReadOnlyCmlClient::ListModelDeployments(
    std::string project_id, std::string model_id, std::string build_id, ListOptions options) {
  co_return co_await inner_.ListModelDeployments(std::move(project_id), std::move(model_id),
                                                 std::move(build_id), std::move(options));
}

CmlClient::Result<ModelDeployment> ReadOnlyCmlClient::GetModelDeployment(
    std::string project_id, std::string model_id, std::string build_id, std::string deployment_id) {
  co_return co_await inner_.GetModelDeployment(std::move(project_id), std::move(model_id),
                                               std::move(build_id), std::move(deployment_id));
}

CmlClient::Result<RegisteredModel> ReadOnlyCmlClient::CreateRegisteredModel(
    CreateRegisteredModelRequest) {
  return RefusedResult<RegisteredModel>("create_registered_model");
}

CmlClient::Result<Model> ReadOnlyCmlClient::CreateModel(std::string, CreateModelRequest) {
  return RefusedResult<Model>("create_model");
}

CmlClient::Result<Model> ReadOnlyCmlClient::UpdateModel(std::string, std::string,
                                                        UpdateModelRequest) {
  return RefusedResult<Model>("update_model");
}

boost::asio::awaitable<common::Status> ReadOnlyCmlClient::DeleteModel(std::string, std::string) {
  return RefusedStatus("delete_model");
}

CmlClient::Result<ModelBuild> ReadOnlyCmlClient::CreateModelBuild(std::string, std::string,
                                                                  CreateModelBuildRequest) {
  return RefusedResult<ModelBuild>("create_model_build");
}

CmlClient::Result<ModelDeployment> ReadOnlyCmlClient::CreateModelDeployment(
    std::string, std::string, std::string, CreateModelDeploymentRequest) {
  return RefusedResult<ModelDeployment>("create_model_deployment");
}

CmlClient::Result<ModelDeployment> ReadOnlyCmlClient::StopModelDeployment(std::string, std::string,
                                                                          std::string,
                                                                          std::string) {
  return RefusedResult<ModelDeployment>("stop_model_deployment");
}

CmlClient::Result<ModelDeployment> ReadOnlyCmlClient::RestartModelDeployment(std::string,
                                                                             std::string,
                                                                             std::string,
                                                                             std::string) {
  return RefusedResult<ModelDeployment>("restart_model_deployment");
}

}  // namespace cmlr::api
