#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <prometheus/collectable.h>
#include <boost/asio/awaitable.hpp>

#include "common/http_server.h"
#include "controllers/controller.h"

namespace cmlr::daemon {

// What /readyz reports on (design section 7).
struct Readiness {
  bool desired_state_loaded = false;
  bool authentication_failed = false;  // the last CML call was a 401 or 403
};

// The daemon's HTTP endpoints (design section 7, contract) as a common::HttpServer handler:
//   GET  /metrics                       Prometheus text format, from `collectables`
//   GET  /healthz                       the event loop answers
//   GET  /readyz                        200 when ready, else 503 with the reason
//   GET  /api/v1/status[/{name}]        the status model as JSON (404 for an unknown name)
//   POST /api/v1/reconcile[?name=NAME]  reconcile now (202; 404 for an unknown name)
//   POST /api/v1/models/{name}/retry    fresh attempts, reconcile now (202; 404 unknown)
// Anything else is 404, or 405 with Allow for a known path and another method. No endpoint
// returns a secret. Runs on the io_context thread; everything referenced must outlive it.
class HttpEndpoints {
 public:
  HttpEndpoints(controllers::Controller& controller, const Readiness& readiness,
                std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
      : controller_(controller), readiness_(readiness), collectables_(std::move(collectables)) {}

  boost::asio::awaitable<std::optional<common::HttpResponse>> Handle(common::HttpRequest request);

  // The handler to give common::HttpServer.
  common::HttpHandler Handler() {
    return [this](common::HttpRequest request) { return Handle(std::move(request)); };
  }

 private:
  common::HttpResponse Metrics() const;

  controllers::Controller& controller_;
  const Readiness& readiness_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

// A JSON answer: {"error": message} for errors.
common::HttpResponse JsonResponse(unsigned status, const nlohmann::json& body);

}  // namespace cmlr::daemon
