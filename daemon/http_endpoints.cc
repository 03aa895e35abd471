#include "daemon/http_endpoints.h"

#include <sstream>
#include <string_view>
#include <utility>

#include <prometheus/text_serializer.h>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http.hpp>

#include "daemon/status_page.h"

namespace cmlr::daemon {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kStatusPrefix = "/api/v1/status/";
constexpr std::string_view kModelsPrefix = "/api/v1/models/";
constexpr std::string_view kRetrySuffix = "/retry";

common::HttpResponse Text(unsigned status, std::string body) {
  common::HttpResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
  return response;
}

common::HttpResponse MethodNotAllowed(std::string_view allow) {
  common::HttpResponse response = JsonResponse(405, {{"error", "method not allowed"}});
  response.set(http::field::allow, allow);
  return response;
}

// Splits "/path?name=x" into the path and the value of `name` (no percent-decoding is needed:
// model names are [a-z0-9-]).
std::pair<std::string_view, std::optional<std::string>> SplitTarget(std::string_view target) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {target, std::nullopt};
  std::string_view query = target.substr(question + 1);
  std::optional<std::string> name;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, 5) == "name=") name = std::string(pair.substr(5));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {target.substr(0, question), name};
}

}  // namespace

common::HttpResponse JsonResponse(unsigned status, const nlohmann::json& body) {
  common::HttpResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = body.dump();
  return response;
}

common::HttpResponse HttpEndpoints::Metrics() const {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : collectables_) {
    std::vector<prometheus::MetricFamily> collected = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(collected.begin()),
                    std::make_move_iterator(collected.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  std::string body = std::move(out).str();
  // The per-model series (the bulk at 1000 models) are written straight from the reconciler's
  // own bookkeeping: prometheus-cpp's collect and serializer cost too much for P7.
  controller_.metrics().AppendModelSeriesText(body);
  common::HttpResponse response = Text(200, std::move(body));
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  return response;
}

HttpEndpoints::HttpEndpoints(controllers::Controller& controller, const Readiness& readiness,
                             std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
                             AdminAuth admin, EventStreamOptions events)
    : controller_(controller),
      readiness_(readiness),
      collectables_(std::move(collectables)),
      admin_(std::move(admin)),
      events_(controller.statuses(), events) {
  controller_.AddStatusObserver(
      [this](const controllers::ModelStatus& status) { events_.OnStatus(status); });
}

std::optional<common::HttpResponse> HttpEndpoints::RefusePost(
    const common::HttpRequest& request, const common::HttpRequestContext& context) {
  const auto authorization = request[http::field::authorization];
  switch (admin_.Check(std::string_view(authorization.data(), authorization.size()),
                       context.remote_address)) {
    case AdminAuth::Decision::kAllowed:
      return std::nullopt;
    case AdminAuth::Decision::kUnauthenticated: {
      const bool sent = !authorization.empty();
      common::HttpResponse response = JsonResponse(
          401, {{"error", sent ? "the admin token was refused"
                               : "an admin token is required: Authorization: Bearer <token>"}});
      response.set(http::field::www_authenticate,
                   sent ? R"(Bearer realm="cml-reconciler", error="invalid_token")"
                        : R"(Bearer realm="cml-reconciler")");
      return response;
    }
    case AdminAuth::Decision::kForbidden:
      break;
  }
  return JsonResponse(403, {{"error",
                             "without --admin-token-file, POST endpoints accept only loopback "
                             "peers"}});
}

boost::asio::awaitable<std::optional<common::HttpReply>> HttpEndpoints::Handle(
    common::HttpRequest request, common::HttpRequestContext context) {
  common::HttpReply reply;
  const auto [path, name] = SplitTarget(request.target());
  if (path == "/api/v1/events" && request.method() == http::verb::get) {
    const boost::asio::any_io_executor executor = co_await boost::asio::this_coro::executor;
    reply.stream = events_.Subscribe(executor);
    if (!reply.stream) {
      reply.response = JsonResponse(503, {{"error", "too many event streams open"}});
      reply.response.set(http::field::retry_after, "30");
      co_return reply;
    }
    reply.response = common::HttpResponse{http::status::ok, 11};
    reply.response.set(http::field::content_type, "text/event-stream");
    reply.response.set(http::field::cache_control, "no-cache");
    reply.response.set("X-Accel-Buffering", "no");  // nginx: pass events through at once
    co_return reply;
  }
  reply.response = Respond(request, context);
  co_return reply;
}

common::HttpResponse HttpEndpoints::Respond(const common::HttpRequest& request,
                                            const common::HttpRequestContext& context) {
  const auto [path, name] = SplitTarget(request.target());
  const http::verb method = request.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;

  if (path == "/") return get ? StatusPageResponse() : MethodNotAllowed("GET");
  if (path == "/metrics") return get ? Metrics() : MethodNotAllowed("GET");
  if (path == "/healthz") return get ? Text(200, "ok\n") : MethodNotAllowed("GET");
  if (path == "/readyz") {
    if (!get) return MethodNotAllowed("GET");
    if (!readiness_.desired_state_loaded) return Text(503, "desired state not loaded\n");
    if (readiness_.authentication_failed) {
      return Text(503, "the last CML call failed authentication (401/403)\n");
    }
    return Text(200, "ready\n");
  }
  if (path == "/api/v1/status") {
    return get ? JsonResponse(200, controller_.statuses().ToJson()) : MethodNotAllowed("GET");
  }
  if (path.substr(0, kStatusPrefix.size()) == kStatusPrefix) {
    if (!get) return MethodNotAllowed("GET");
    const std::string_view model = path.substr(kStatusPrefix.size());
    const controllers::ModelStatus* status = controller_.statuses().Find(model);
    if (status == nullptr) {
      return JsonResponse(404, {{"error", "unknown model " + std::string(model)}});
    }
    return JsonResponse(200, controllers::ToJson(*status));
  }
  if (path == "/api/v1/events") {
    if (!get) return MethodNotAllowed("GET");
    common::HttpResponse head{http::status::ok, 11};  // HEAD: the headers of the stream
    head.set(http::field::content_type, "text/event-stream");
    return head;
  }
  if (path == "/api/v1/reconcile") {
    if (!post) return MethodNotAllowed("POST");
    if (auto refused = RefusePost(request, context)) return *refused;
    if (name) {
      if (!controller_.ReconcileNow(*name)) {
        return JsonResponse(404, {{"error", "unknown model " + *name}});
      }
      return JsonResponse(202, {{"queued", {*name}}});
    }
    controller_.ReconcileAll();
    nlohmann::json queued = nlohmann::json::array();
    for (const auto& [model, spec] : controller_.desired_state()->models()) queued.push_back(model);
    return JsonResponse(202, {{"queued", queued}});
  }
  if (path.substr(0, kModelsPrefix.size()) == kModelsPrefix && path.size() > kRetrySuffix.size() &&
      path.substr(path.size() - kRetrySuffix.size()) == kRetrySuffix) {
    if (!post) return MethodNotAllowed("POST");
    if (auto refused = RefusePost(request, context)) return *refused;
    const std::string model(path.substr(kModelsPrefix.size(),
                                        path.size() - kModelsPrefix.size() - kRetrySuffix.size()));
    if (!controller_.Retry(model)) return JsonResponse(404, {{"error", "unknown model " + model}});
    return JsonResponse(202, {{"retrying", model}});
  }
  return JsonResponse(404, {{"error", "not found"}});
}

}  // namespace cmlr::daemon
