#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <prometheus/collectable.h>
#include <boost/asio/awaitable.hpp>

#include "common/http_server.h"
#include "controllers/controller.h"
#include "daemon/admin_auth.h"
#include "daemon/event_stream.h"

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
//   GET  /api/v1/events                 Server-Sent Events of status changes (EventStream);
//                                       503 when too many streams are open
//   GET  /                              the status page
// POST endpoints are checked by `admin` first: 401 (with WWW-Authenticate: Bearer) or 403
// before anything else. Anything else is 404, or 405 with Allow for a known path and another
// method. No endpoint returns a secret. Registers a status observer with `controller` for the
// events. Runs on the io_context thread; everything referenced must outlive it, and the
// controller must run no pass after it is destroyed.
class HttpEndpoints {
 public:
  HttpEndpoints(controllers::Controller& controller, const Readiness& readiness,
                std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
                AdminAuth admin = {}, EventStreamOptions events = {});
  HttpEndpoints(const HttpEndpoints&) = delete;
  HttpEndpoints& operator=(const HttpEndpoints&) = delete;

  // `context.remote_address` decides the loopback rule of the POST endpoints.
  boost::asio::awaitable<std::optional<common::HttpReply>> Handle(
      common::HttpRequest request, common::HttpRequestContext context);

  // The handler to give common::HttpServer.
  common::HttpStreamHandler Handler() {
    return [this](common::HttpRequest request, common::HttpRequestContext context) {
      return Handle(std::move(request), context);
    };
  }

  EventStream& events() { return events_; }

 private:
  common::HttpResponse Respond(const common::HttpRequest& request,
                               const common::HttpRequestContext& context);
  common::HttpResponse Metrics() const;
  // The answer refusing a POST, or nullopt when `admin_` allows it.
  std::optional<common::HttpResponse> RefusePost(const common::HttpRequest& request,
                                                 const common::HttpRequestContext& context);

  controllers::Controller& controller_;
  const Readiness& readiness_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  AdminAuth admin_;
  EventStream events_;
};

// A JSON answer: {"error": message} for errors.
common::HttpResponse JsonResponse(unsigned status, const nlohmann::json& body);

}  // namespace cmlr::daemon
