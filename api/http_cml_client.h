#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <prometheus/registry.h>
#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>

#include "api/api_key.h"
#include "api/cml_client.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

struct HttpCmlClientOptions {
  std::string base_url;  // "https://<workspace domain>" (see ResolveBaseUrl)
  Secret api_key;        // sent as "Authorization: Bearer ..."; never logged
  // Where the key comes from at each request (a rotated key file); when set, api_key is unused.
  std::shared_ptr<ApiKeySource> api_key_source;
  std::string ca_file;               // extra PEM trust anchors besides the system store
  bool allow_insecure_http = false;  // plain http:// to a host that is not loopback
  common::Duration connect_timeout = std::chrono::seconds(10);  // resolve + TCP connect
  common::Duration tls_handshake_timeout = std::chrono::seconds(10);
  common::Duration request_timeout = std::chrono::seconds(30);  // write + read, per attempt
  std::size_t max_response_bytes = 16 * 1024 * 1024;
  double qps = 10;  // client-side token bucket shared by all calls; <= 0 is unlimited
  int burst = 20;
  // Extra attempts of an idempotent read after a transient failure, and of any call after a
  // 429 (which the server did not process).
  int max_read_retries = 3;
  // Longest Retry-After honoured; a longer one is cut to this.
  common::Duration max_retry_after = std::chrono::seconds(60);
  // Backoff between read retries without a Retry-After: full jitter on initial * 2^attempt.
  common::Duration retry_backoff_initial = std::chrono::milliseconds(200);
  common::Duration retry_backoff_max = std::chrono::seconds(5);
  int max_pages = kDefaultMaxPages;
  std::string user_agent = "cml-reconciler";
  std::uint64_t jitter_seed = 0x636d6c72;
};

// CmlClient over HTTP/1.1 (TCP or TLS) on Boost.Beast; see CmlClient for the contract.
// Metrics, created once on `registry`:
//   cml_reconciler_api_requests_total{operation,code}  one per HTTP attempt; code is the HTTP
//                                                      status or "error"
//   cml_reconciler_api_request_duration_seconds{operation}  one per HTTP attempt
//   cml_reconciler_api_throttled_seconds_total         waits on the token bucket or Retry-After
//   cml_reconciler_api_retries_total{operation}        attempts after the first
// Everything runs on `executor`'s thread. `clock`, `registry` and `logger` must outlive the
// client; destroy the client only when no call is in flight.
class HttpCmlClient final : public CmlClient {
 public:
  // INVALID_ARGUMENT for a malformed URL, plain http:// to a non-loopback host without
  // allow_insecure_http, an empty key (and no source) or an unreadable CA file.
  [[nodiscard]] static common::StatusOr<std::unique_ptr<HttpCmlClient>> Create(
      boost::asio::any_io_executor executor, common::Clock& clock, HttpCmlClientOptions options,
      prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger);

  ~HttpCmlClient() override;

  Result<ValidateApiKeyResponse> ValidateApiKey(ValidateApiKeyRequest request) override;
  Result<std::vector<Runtime>> ListRuntimes(ListOptions options) override;
  Result<std::vector<RegisteredModel>> ListRegisteredModels(ListOptions options) override;
  Result<RegisteredModel> GetRegisteredModel(std::string model_id,
                                             ListOptions version_options) override;
  Result<RegisteredModel> CreateRegisteredModel(CreateRegisteredModelRequest request) override;
  Result<RegisteredModelVersion> GetRegisteredModelVersion(std::string model_id,
                                                           std::string version_id) override;
  Result<std::vector<Model>> ListModels(std::string project_id, ListOptions options) override;
  Result<Model> GetModel(std::string project_id, std::string model_id) override;
  Result<Model> CreateModel(std::string project_id, CreateModelRequest request) override;
  Result<Model> UpdateModel(std::string project_id, std::string model_id,
                            UpdateModelRequest request) override;
  boost::asio::awaitable<common::Status> DeleteModel(std::string project_id,
                                                     std::string model_id) override;
  Result<std::vector<ModelBuild>> ListModelBuilds(std::string project_id, std::string model_id,
                                                  ListOptions options) override;
  Result<ModelBuild> GetModelBuild(std::string project_id, std::string model_id,
                                   std::string build_id) override;
  Result<ModelBuild> CreateModelBuild(std::string project_id, std::string model_id,
                                      CreateModelBuildRequest request) override;
  Result<std::vector<ModelDeployment>> ListModelDeployments(std::string project_id,
                                                            std::string model_id,
                                                            std::string build_id,
                                                            ListOptions options) override;
  Result<ModelDeployment> GetModelDeployment(std::string project_id, std::string model_id,
                                             std::string build_id,
                                             std::string deployment_id) override;
  Result<ModelDeployment> CreateModelDeployment(std::string project_id, std::string model_id,
                                                std::string build_id,
                                                CreateModelDeploymentRequest request) override;
  Result<ModelDeployment> StopModelDeployment(std::string project_id, std::string model_id,
                                              std::string build_id,
                                              std::string deployment_id) override;
  Result<ModelDeployment> RestartModelDeployment(std::string project_id, std::string model_id,
                                                 std::string build_id,
                                                 std::string deployment_id) override;
  void SetCallObserver(CallObserver observer) override;

  // Closes idle pooled connections (graceful shutdown); later calls open new ones.
  void CloseIdleConnections();
  // Connections opened so far (tests of keep-alive reuse).
  std::size_t connections_opened() const;
  // Connections kept open for reuse now.
  std::size_t idle_connections() const;
  // The key's source (a fixed one when the options gave only api_key).
  const std::shared_ptr<ApiKeySource>& api_key_source() const;

 private:
  class Impl;
  explicit HttpCmlClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmlr::api
