#include "daemon/daemon_client.h"

#include <exception>
#include <optional>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/beast/http/verb.hpp>

namespace cmlr::daemon {

namespace net = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

// The daemon's {"error": "..."} text, or the start of the body.
std::string ErrorText(const api::HttpResponse& response) {
  const json body = json::parse(response.body(), nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    return body["error"].get<std::string>();
  }
  std::string text = response.body().substr(0, 200);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? std::string(response.reason()) : text;
}

common::Status HttpError(const api::HttpResponse& response, const std::string& what) {
  const unsigned code = response.result_int();
  const std::string message = fmt::format("{}: HTTP {}: {}", what, code, ErrorText(response));
  common::Status status = code >= 500   ? common::UnavailableError(message)
                          : code == 404 ? common::NotFoundError(message)
                          : code == 401 ? common::UnauthenticatedError(message)
                          : code == 403 ? common::PermissionDeniedError(message)
                                        : common::FailedPreconditionError(message);
  return std::move(status).WithHttpStatus(static_cast<int>(code));
}

}  // namespace

common::StatusOr<std::unique_ptr<DaemonClient>> DaemonClient::Create(std::string base_url,
                                                                     DaemonClientOptions options) {
  auto url = api::ParseBaseUrl(base_url);
  if (!url.ok()) {
    return common::InvalidArgumentError(
        fmt::format("{}: not a daemon URL ({})", base_url, url.status().message()));
  }
  while (base_url.ends_with('/')) base_url.pop_back();
  auto client = std::unique_ptr<DaemonClient>(
      new DaemonClient(std::move(base_url), std::move(url).value(), std::move(options)));
  auto transport =
      api::HttpTransport::Create(client->io_.get_executor(), client->clock_, client->url_,
                                 {.connect_timeout = client->options_.timeout,
                                  .tls_handshake_timeout = client->options_.timeout,
                                  .request_timeout = client->options_.timeout,
                                  .max_response_bytes = 64u << 20,
                                  .max_idle_connections = 1});
  if (!transport.ok()) return transport.status();
  client->transport_ = std::move(transport).value();
  return client;
}

DaemonClient::DaemonClient(std::string base_url, api::BaseUrl url, DaemonClientOptions options)
    : base_url_(std::move(base_url)), url_(std::move(url)), options_(std::move(options)) {}

common::StatusOr<json> DaemonClient::Get(std::string_view path) { return Exchange(false, path); }

common::StatusOr<json> DaemonClient::Post(std::string_view path) { return Exchange(true, path); }

common::StatusOr<json> DaemonClient::Exchange(bool post, std::string_view path) {
  api::HttpRequest request{post ? http::verb::post : http::verb::get,
                           url_.path_prefix + std::string(path), 11};
  request.set(http::field::accept, "application/json");
  if (post && !options_.admin_token.empty()) {
    request.set(http::field::authorization, "Bearer " + options_.admin_token);
  }
  std::optional<api::TransportResult> result;
  std::exception_ptr failure;
  net::co_spawn(
      io_,
      [this, request = std::move(request), &result]() -> net::awaitable<void> {
        result = co_await transport_->Send(std::move(request));
      },
      [&failure](std::exception_ptr error) { failure = error; });
  io_.restart();
  io_.run();
  const std::string what = fmt::format("the daemon at {}", base_url_);
  if (failure || !result) return common::InternalError(what + ": the request did not complete");
  if (!result->response.ok()) {
    const common::Status& error = result->response.status();
    return common::Status(error.code(), fmt::format("cannot reach {}: {}", what, error.message()));
  }
  const api::HttpResponse& response = *result->response;
  if (response.result_int() < 200 || response.result_int() > 299) {
    return HttpError(response, what);
  }
  json body = json::parse(response.body(), nullptr, false);
  if (body.is_discarded()) {
    return common::InternalError(fmt::format("{}: the answer to {} is not JSON", what, path));
  }
  return body;
}

}  // namespace cmlr::daemon
