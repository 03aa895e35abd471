#pragma once

#include <memory>

#include <prometheus/registry.h>
#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>

#include "api/http_cml_client.h"
#include "api/model_service_client.h"
#include "common/clock.h"
#include "common/status.h"
#include "daemon/daemon_options.h"
#include "daemon/doctor.h"

namespace cmlr::daemon {

// The CML client the flags describe: the key from --api-key-file (re-read when the file changes,
// see api::ApiKeySource; the client's api_key_source()) or $CDSW_APIV2_KEY, the URL
// from --cml-url or https://$CDSW_DOMAIN, TLS verified against the system store plus --ca-file,
// plain http:// only to loopback unless --insecure-http. INVALID_ARGUMENT (fail fast at
// start-up) when any of that is missing or unreadable; the message never holds the key.
[[nodiscard]] common::StatusOr<std::unique_ptr<api::HttpCmlClient>> CreateCmlClient(
    boost::asio::any_io_executor executor, common::Clock& clock, const DaemonOptions& options,
    prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger);

// The model service the flags describe (design 4b): --model-service-url or the default derived
// from the CML URL; the key from --model-api-key-file, else the API key (a file is re-read when
// it changes; `logger`, may be null, gets the reload lines). INVALID_ARGUMENT (fail fast) when a
// URL is malformed or a key unreadable.
[[nodiscard]] common::StatusOr<std::unique_ptr<api::HttpModelServiceClient>>
CreateModelServiceClient(boost::asio::any_io_executor executor, common::Clock& clock,
                         const DaemonOptions& options,
                         std::shared_ptr<spdlog::logger> logger = nullptr);

// One authenticated GET of the runtime catalogue over the bare transport, for what the typed
// client does not show: whether TLS was used (and verified, or the exchange fails) and how far
// CML's `Date` is from `clock`. Failures are in EndpointProbe::error, never thrown.
boost::asio::awaitable<EndpointProbe> ProbeEndpoint(boost::asio::any_io_executor executor,
                                                    common::Clock& clock, DaemonOptions options);

}  // namespace cmlr::daemon
