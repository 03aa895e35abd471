#include "api/model_service_client.h"

#include <charconv>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace cmlr::api {

namespace http = boost::beast::http;

common::StatusOr<std::string> ModelServiceUrl(const std::string& explicit_url,
                                              const std::string& cml_url) {
  if (!explicit_url.empty()) {
    CMLR_RETURN_IF_ERROR(ParseBaseUrl(explicit_url).status());
    return explicit_url;
  }
  CMLR_ASSIGN_OR_RETURN(BaseUrl url, ParseBaseUrl(cml_url));
  if (IsLoopbackHost(url.host)) return cml_url;
  const bool default_port = url.port == (url.tls ? "443" : "80");
  const std::string host =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  return std::string(url.tls ? "https://" : "http://") + "modelservice." + host +
         (default_port ? "" : ":" + url.port);
}

common::StatusOr<std::unique_ptr<HttpModelServiceClient>> HttpModelServiceClient::Create(
    boost::asio::any_io_executor executor, common::Clock& clock, ModelServiceOptions options) {
  CMLR_ASSIGN_OR_RETURN(BaseUrl url, ParseBaseUrl(options.base_url));
  if (!url.tls && !options.allow_insecure_http && !IsLoopbackHost(url.host)) {
    return common::InvalidArgumentError("refusing plain http:// to the model service at " +
                                        url.host + ", which is not a loopback host");
  }
  CMLR_ASSIGN_OR_RETURN(
      std::unique_ptr<HttpTransport> transport,
      HttpTransport::Create(std::move(executor), clock, url,
                            {.max_response_bytes = 5 * 1024 * 1024, .ca_file = options.ca_file}));
  std::shared_ptr<ApiKeySource> key = std::move(options.api_key_source);
  if (key == nullptr) key = std::make_shared<ApiKeySource>(std::move(options.api_key));
  return std::unique_ptr<HttpModelServiceClient>(
      new HttpModelServiceClient(std::move(url), std::move(key), std::move(transport)));
}

boost::asio::awaitable<common::StatusOr<ModelAnswer>> HttpModelServiceClient::Call(
    std::string access_key, std::string request_json, bool authenticate, common::Duration timeout) {
  HttpRequest request{http::verb::post,
                      url_.path_prefix + "/model?accessKey=" + PercentEncode(access_key), 11};
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json");
  if (authenticate) request.set(http::field::authorization, "Bearer " + key_->Current().Reveal());
  request.body() = "{\"request\":" + request_json + "}";
  TransportResult result = co_await transport_->Send(std::move(request), timeout);
  if (!result.response.ok()) co_return result.response.status().Annotate("model service");
  const HttpResponse& response = *result.response;
  ModelAnswer answer{.http_status = static_cast<int>(response.result_int()),
                     .body = nlohmann::json::parse(response.body(), nullptr, false)};
  if (answer.body.is_discarded()) answer.body = nullptr;
  if (const auto it = response.find(http::field::retry_after); it != response.end()) {
    int seconds = 0;
    const auto value = it->value();
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && end == value.data() + value.size() && seconds >= 0) {
      answer.retry_after = std::chrono::seconds(seconds);
    }
  }
  co_return answer;
}

}  // namespace cmlr::api
