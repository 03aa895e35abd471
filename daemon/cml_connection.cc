#include "daemon/cml_connection.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "api/api_key.h"
#include "api/http_transport.h"
#include "common/time_format.h"

namespace cmlr::daemon {

common::StatusOr<std::unique_ptr<api::HttpCmlClient>> CreateCmlClient(
    boost::asio::any_io_executor executor, common::Clock& clock, const DaemonOptions& options,
    prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger) {
  CMLR_ASSIGN_OR_RETURN(std::shared_ptr<api::ApiKeySource> key,
                        api::ApiKeySource::Create(options.api_key_file, clock, logger));
  CMLR_ASSIGN_OR_RETURN(std::string base_url, api::ResolveBaseUrl(options.cml_url));
  api::HttpCmlClientOptions client_options{.base_url = base_url,
                                           .api_key_source = std::move(key),
                                           .ca_file = options.ca_file,
                                           .allow_insecure_http = options.insecure_http,
                                           .qps = options.api_qps,
                                           .burst = options.api_burst};
  return api::HttpCmlClient::Create(executor, clock, std::move(client_options), registry,
                                    std::move(logger));
}

common::StatusOr<std::unique_ptr<api::HttpModelServiceClient>> CreateModelServiceClient(
    boost::asio::any_io_executor executor, common::Clock& clock, const DaemonOptions& options,
    std::shared_ptr<spdlog::logger> logger) {
  CMLR_ASSIGN_OR_RETURN(std::string cml_url, api::ResolveBaseUrl(options.cml_url));
  CMLR_ASSIGN_OR_RETURN(std::string url, api::ModelServiceUrl(options.model_service_url, cml_url));
  CMLR_ASSIGN_OR_RETURN(
      std::shared_ptr<api::ApiKeySource> key,
      api::ApiKeySource::Create(
          options.model_api_key_file.empty() ? options.api_key_file : options.model_api_key_file,
          clock, std::move(logger)));
  auto client = api::HttpModelServiceClient::Create(executor, clock,
                                                    {.base_url = url,
                                                     .api_key_source = std::move(key),
                                                     .ca_file = options.ca_file,
                                                     .allow_insecure_http = options.insecure_http});
  if (!client.ok()) return client.status().Annotate("--model-service-url");
  return client;
}

boost::asio::awaitable<EndpointProbe> ProbeEndpoint(boost::asio::any_io_executor executor,
                                                    common::Clock& clock, DaemonOptions options) {
  namespace http = boost::beast::http;
  EndpointProbe probe;
  auto key = api::LoadApiKey(options.api_key_file);
  auto base_url = api::ResolveBaseUrl(options.cml_url);
  if (!key.ok() || !base_url.ok()) {
    probe.error = (!key.ok() ? key.status() : base_url.status()).message();
    co_return probe;
  }
  probe.url = *base_url;
  auto url = api::ParseBaseUrl(*base_url);
  if (!url.ok()) {
    probe.error = url.status().message();
    co_return probe;
  }
  probe.tls = url->tls;
  auto transport = api::HttpTransport::Create(executor, clock, *url, {.ca_file = options.ca_file});
  if (!transport.ok()) {
    probe.error = transport.status().message();
    co_return probe;
  }
  api::HttpRequest request{http::verb::get, url->path_prefix + "/api/v2/runtimes?page_size=1", 11};
  request.set(http::field::authorization, "Bearer " + key->Reveal());
  api::TransportResult result = co_await (*transport)->Send(std::move(request));
  (*transport)->CloseIdle();
  if (!result.response.ok()) {
    probe.error = result.response.status().message();
    co_return probe;
  }
  const auto date = result.response->find(http::field::date);
  if (date != result.response->end()) {
    if (auto parsed =
            common::ParseHttpDate(std::string_view(date->value().data(), date->value().size()));
        parsed.ok()) {
      probe.clock_skew = *parsed - clock.Now();
    }
  }
  co_return probe;
}

}  // namespace cmlr::daemon
