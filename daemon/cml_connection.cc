#include "daemon/cml_connection.h"

#include "api/api_key.h"

namespace cmlr::daemon {

common::StatusOr<std::unique_ptr<api::HttpCmlClient>> CreateCmlClient(
    boost::asio::any_io_executor executor, common::Clock& clock, const DaemonOptions& options,
    prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger) {
  CMLR_ASSIGN_OR_RETURN(api::Secret key, api::LoadApiKey(options.api_key_file));
  CMLR_ASSIGN_OR_RETURN(std::string base_url, api::ResolveBaseUrl(options.cml_url));
  api::HttpCmlClientOptions client_options{.base_url = base_url,
                                           .api_key = std::move(key),
                                           .ca_file = options.ca_file,
                                           .allow_insecure_http = options.insecure_http,
                                           .qps = options.api_qps,
                                           .burst = options.api_burst};
  return api::HttpCmlClient::Create(executor, clock, std::move(client_options), registry,
                                    std::move(logger));
}

}  // namespace cmlr::daemon
