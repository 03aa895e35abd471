#include "daemon/http_endpoints.h"

#include <sstream>
#include <string_view>

#include <prometheus/text_serializer.h>
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

boost::asio::awaitable<std::optional<common::HttpResponse>> HttpEndpoints::Handle(
    common::HttpRequest request) {
  const auto [path, name] = SplitTarget(request.target());
  const http::verb method = request.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;

  if (path == "/") co_return get ? StatusPageResponse() : MethodNotAllowed("GET");
  if (path == "/metrics") co_return get ? Metrics() : MethodNotAllowed("GET");
  if (path == "/healthz") co_return get ? Text(200, "ok\n") : MethodNotAllowed("GET");
  if (path == "/readyz") {
    if (!get) co_return MethodNotAllowed("GET");
    if (!readiness_.desired_state_loaded) co_return Text(503, "desired state not loaded\n");
    if (readiness_.authentication_failed) {
      co_return Text(503, "the last CML call failed authentication (401/403)\n");
    }
    co_return Text(200, "ready\n");
  }
  if (path == "/api/v1/status") {
    co_return get ? JsonResponse(200, controller_.statuses().ToJson()) : MethodNotAllowed("GET");
  }
  if (path.substr(0, kStatusPrefix.size()) == kStatusPrefix) {
    if (!get) co_return MethodNotAllowed("GET");
    const std::string_view model = path.substr(kStatusPrefix.size());
    const controllers::ModelStatus* status = controller_.statuses().Find(model);
    if (status == nullptr) {
      co_return JsonResponse(404, {{"error", "unknown model " + std::string(model)}});
    }
    co_return JsonResponse(200, controllers::ToJson(*status));
  }
  if (path == "/api/v1/reconcile") {
    if (!post) co_return MethodNotAllowed("POST");
    if (name) {
      if (!controller_.ReconcileNow(*name)) {
        co_return JsonResponse(404, {{"error", "unknown model " + *name}});
      }
      co_return JsonResponse(202, {{"queued", {*name}}});
    }
    controller_.ReconcileAll();
    nlohmann::json queued = nlohmann::json::array();
    for (const auto& [model, spec] : controller_.desired_state()->models()) queued.push_back(model);
    co_return JsonResponse(202, {{"queued", queued}});
  }
  if (path.substr(0, kModelsPrefix.size()) == kModelsPrefix && path.size() > kRetrySuffix.size() &&
      path.substr(path.size() - kRetrySuffix.size()) == kRetrySuffix) {
    if (!post) co_return MethodNotAllowed("POST");
    const std::string model(path.substr(kModelsPrefix.size(),
                                        path.size() - kModelsPrefix.size() - kRetrySuffix.size()));
    if (!controller_.Retry(model))
      co_return JsonResponse(404, {{"error", "unknown model " + model}});
    co_return JsonResponse(202, {{"retrying", model}});
  }
  co_return JsonResponse(404, {{"error", "not found"}});
}

}  // namespace cmlr::daemon
