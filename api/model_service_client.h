#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "api/api_key.h"
#include "api/http_transport.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

// One answer of a deployed model (cml-apiv2.md section 11).
struct ModelAnswer {
  int http_status = 0;
  nlohmann::json body;  // null when the body was not JSON
  std::optional<common::Duration> retry_after;
};

// The model-serving endpoint of a workspace: `POST {base}/model?accessKey=KEY` with body
// {"request": <input>}, and `Authorization: Bearer <key>` when the model has authentication on.
// Used by post-deploy verification (design 4b); it never touches CML's API v2.
//
// Call(): an answer of any HTTP status is an answer (the caller judges it); UNAVAILABLE when no
// answer came within `timeout` (connection, deadline), INTERNAL for a malformed response.
// Runs on the executor's thread; not thread-safe.
class ModelServiceClient {
 public:
  virtual ~ModelServiceClient() = default;
  // `request_json` is the model input as JSON text (verify.request, canonical).
  virtual boost::asio::awaitable<common::StatusOr<ModelAnswer>> Call(std::string access_key,
                                                                     std::string request_json,
                                                                     bool authenticate,
                                                                     common::Duration timeout) = 0;
};

struct ModelServiceOptions {
  std::string base_url;  // "https://modelservice.<domain>" (see ModelServiceUrl)
  Secret api_key;        // bearer key for models with authentication on
  // Where the key comes from at each call (a rotated key file); when set, api_key is unused.
  std::shared_ptr<ApiKeySource> api_key_source;
  std::string ca_file;
  bool allow_insecure_http = false;  // plain http:// to a host that is not loopback
};

// The model service of the workspace at `cml_url` (design 4b): `explicit_url` when given, else
// `cml_url` itself when its host is loopback (the bundled emulator serves both), else
// https://modelservice.<host of cml_url>. INVALID_ARGUMENT for a malformed URL.
[[nodiscard]] common::StatusOr<std::string> ModelServiceUrl(const std::string& explicit_url,
                                                            const std::string& cml_url);

class HttpModelServiceClient final : public ModelServiceClient {
 public:
  // INVALID_ARGUMENT for a malformed URL, plain http:// to a non-loopback host without
  // allow_insecure_http, or an unreadable CA file.
  [[nodiscard]] static common::StatusOr<std::unique_ptr<HttpModelServiceClient>> Create(
      boost::asio::any_io_executor executor, common::Clock& clock, ModelServiceOptions options);

  boost::asio::awaitable<common::StatusOr<ModelAnswer>> Call(std::string access_key,
                                                             std::string request_json,
                                                             bool authenticate,
                                                             common::Duration timeout) override;

 private:
  HttpModelServiceClient(BaseUrl url, std::shared_ptr<ApiKeySource> key,
                         std::unique_ptr<HttpTransport> transport)
      : url_(std::move(url)), key_(std::move(key)), transport_(std::move(transport)) {}

  BaseUrl url_;
  std::shared_ptr<ApiKeySource> key_;
  std::unique_ptr<HttpTransport> transport_;
};

}  // namespace cmlr::api
