#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/paging.h"
#include "api/wire_types.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

// One finished call of the client, for the reconciler's status history.
struct CallRecord {
  std::string_view operation;   // e.g. "create_model_build" (a static string)
  int http_status = 0;          // of the last HTTP answer; 0 when none came
  common::Duration duration{};  // whole call, retries and waits included
  common::Status status;        // what the call returned (OK or the error)
};

// Called once per finished call, on the client's executor thread. Must not throw or block.
using CallObserver = std::function<void(const CallRecord&)>;

// The daemon's only way to see and change CML (API v2). One method per operation the reconciler
// needs; each is named after the Python client method in ../shared/cml-apiv2.md section 6,
// which is also its metric label `operation`.
//
// Threading: every method is a coroutine to be awaited on the client's io_context thread; the
// client is not thread-safe. Parameters are taken by value (they outlive the coroutine's
// suspensions).
//
// Results:
// - List methods return every item of every page: they follow next_page_token to the end
//   with the same page_size, search_filter and sort (see ListOptions, FetchAllPages).
// - Writes return the object CML answered with.
// - Errors are Status codes chosen for what the caller should do next: UNAVAILABLE (network,
//   deadline, 429, 5xx: back off and retry), NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED,
//   INVALID_ARGUMENT (including a 400 from CML), ABORTED (409), INTERNAL (a malformed or
//   oversized response to a read). Status::http_status() carries the HTTP status when there
//   was one.
// - A write whose request may have reached CML but whose answer was lost or was a 5xx, or
//   could not be decoded, is UNAVAILABLE with Status::outcome_unknown() set: observe again
//   before writing again. Writes are never repeated by the client, except after a 429 (the
//   server did not process the request) once the Retry-After time has passed.
// - Idempotent reads are retried a few times inside the client on transient failures.
// - No message ever contains the API key.
class CmlClient {
 public:
  template <typename T>
  using Result = boost::asio::awaitable<common::StatusOr<T>>;

  virtual ~CmlClient() = default;

  // validate_api_key: POST /api/v2/auth/validate_key. A cheap credential probe.
  virtual Result<ValidateApiKeyResponse> ValidateApiKey(ValidateApiKeyRequest request) = 0;

  // list_runtimes: GET /api/v2/runtimes.
  virtual Result<std::vector<Runtime>> ListRuntimes(ListOptions options) = 0;

  // list_registered_models: GET /api/v2/registry/models. Items carry no versions.
  virtual Result<std::vector<RegisteredModel>> ListRegisteredModels(ListOptions options) = 0;
  // get_registered_model: the model with ALL its versions (the versions are paged;
  // `version_options` filters and sorts them, e.g. {"version_number": "3"}).
  virtual Result<RegisteredModel> GetRegisteredModel(std::string model_id,
                                                     ListOptions version_options) = 0;
  // create_registered_model: registers a model, or adds a version when it exists.
  virtual Result<RegisteredModel> CreateRegisteredModel(CreateRegisteredModelRequest request) = 0;
  // get_registered_model_version.
  virtual Result<RegisteredModelVersion> GetRegisteredModelVersion(std::string model_id,
                                                                   std::string version_id) = 0;

  // list_models, get_model, create_model, update_model (PATCH .../models/{model.id}; only the
  // fields set in `request` change), delete_model.
  virtual Result<std::vector<Model>> ListModels(std::string project_id, ListOptions options) = 0;
  virtual Result<Model> GetModel(std::string project_id, std::string model_id) = 0;
  virtual Result<Model> CreateModel(std::string project_id, CreateModelRequest request) = 0;
  virtual Result<Model> UpdateModel(std::string project_id, std::string model_id,
                                    UpdateModelRequest request) = 0;
  virtual boost::asio::awaitable<common::Status> DeleteModel(std::string project_id,
                                                             std::string model_id) = 0;

  // list_model_builds, get_model_build, create_model_build.
  virtual Result<std::vector<ModelBuild>> ListModelBuilds(std::string project_id,
                                                          std::string model_id,
                                                          ListOptions options) = 0;
  virtual Result<ModelBuild> GetModelBuild(std::string project_id, std::string model_id,
                                           std::string build_id) = 0;
  virtual Result<ModelBuild> CreateModelBuild(std::string project_id, std::string model_id,
                                              CreateModelBuildRequest request) = 0;

  // list_model_deployments, get_model_deployment, create_model_deployment,
  // stop_model_deployment (POST ...:stop), restart_model_deployment (POST ...:restart).
  virtual Result<std::vector<ModelDeployment>> ListModelDeployments(std::string project_id,
                                                                    std::string model_id,
                                                                    std::string build_id,
                                                                    ListOptions options) = 0;
  virtual Result<ModelDeployment> GetModelDeployment(std::string project_id, std::string model_id,
                                                     std::string build_id,
                                                     std::string deployment_id) = 0;
  virtual Result<ModelDeployment> CreateModelDeployment(std::string project_id,
                                                        std::string model_id, std::string build_id,
                                                        CreateModelDeploymentRequest request) = 0;
  virtual Result<ModelDeployment> StopModelDeployment(std::string project_id, std::string model_id,
                                                      std::string build_id,
                                                      std::string deployment_id) = 0;
  virtual Result<ModelDeployment> RestartModelDeployment(std::string project_id,
                                                         std::string model_id, std::string build_id,
                                                         std::string deployment_id) = 0;

  // Replaces the observer told about every finished call (nullptr: none).
  virtual void SetCallObserver(CallObserver observer) = 0;
};

}  // namespace cmlr::api
