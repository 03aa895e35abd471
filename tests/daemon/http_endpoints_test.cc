#include "daemon/http_endpoints.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include "daemon/event_stream.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_cml_client.h"

namespace cmlr::daemon {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

config::ModelDeploymentSpec Spec(std::string name) {
  config::ModelDeploymentSpec spec;
  spec.name = std::move(name);
  spec.project_id = "abcd-1234-efgh-5678";
  spec.model_name = spec.name;
  spec.registered_model = {.name = "FraudCLF-alice", .version = 3};
  spec.runtime = std::string("runtime");
  spec.resources = {.cpu = 1, .memory_gib = 2, .replicas = 1};
  return spec;
}

// The endpoints over a real Controller (never run: passes are not needed to answer) and a
// registry with one gauge.
class HttpEndpointsTest : public ::testing::Test {
 protected:
  HttpEndpointsTest() {
    prometheus::BuildGauge().Name("test_gauge").Help("a gauge").Register(*registry_).Add({}).Set(7);
    auto snapshot = config::Snapshot::Create({Spec("fraud-classifier"), Spec("churn")});
    EXPECT_TRUE(snapshot.ok());
    controller_.SetDesiredState(*snapshot);
  }

  // The reply of `endpoints` to one request from `peer`, with `authorization` unless empty.
  common::HttpReply CallReply(HttpEndpoints& endpoints, http::verb method, std::string target,
                              const char* peer = "127.0.0.1", std::string authorization = "") {
    common::HttpRequest request{method, target, 11};
    if (!authorization.empty()) request.set(http::field::authorization, authorization);
    const common::HttpRequestContext context{.remote_address = net::ip::make_address(peer)};
    std::optional<common::HttpReply> reply;
    net::co_spawn(
        io_,
        [&]() -> net::awaitable<void> {
          auto handling = endpoints.Handle(request, context);  // no temporaries in co_await
          reply = co_await std::move(handling);
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.poll();
    EXPECT_TRUE(reply.has_value()) << target;
    return reply ? std::move(*reply) : common::HttpReply{};
  }
  common::HttpResponse Call(http::verb method, std::string target, const char* peer = "127.0.0.1",
                            std::string authorization = "") {
    common::HttpReply reply =
        CallReply(endpoints_, method, std::move(target), peer, std::move(authorization));
    EXPECT_EQ(reply.stream, nullptr);
    return reply.response;
  }

  net::io_context io_;
  testing::FakeClock clock_;
  testing::FakeCmlClient cml_{clock_};
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  controllers::Controller controller_{io_.get_executor(), clock_, cml_, *registry_, nullptr, {}};
  Readiness readiness_{.desired_state_loaded = true};
  HttpEndpoints endpoints_{controller_, readiness_, {registry_}};
};

// Verifies /healthz, and /readyz following the desired state and authentication failures.
TEST_F(HttpEndpointsTest, HealthAndReadiness) {
  EXPECT_EQ(Call(http::verb::get, "/healthz").result_int(), 200);
  EXPECT_EQ(Call(http::verb::get, "/readyz").result_int(), 200);
  readiness_.authentication_failed = true;
  EXPECT_EQ(Call(http::verb::get, "/readyz").result_int(), 503);
  readiness_ = {.desired_state_loaded = false};
  const common::HttpResponse not_loaded = Call(http::verb::get, "/readyz");
  EXPECT_EQ(not_loaded.result_int(), 503);
  EXPECT_NE(not_loaded.body().find("desired state"), std::string::npos);
}

// Verifies /metrics: the text format of the registry, with its content type.
TEST_F(HttpEndpointsTest, ServesMetrics) {
  const common::HttpResponse metrics = Call(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  EXPECT_NE(metrics.body().find("test_gauge 7"), std::string::npos) << metrics.body();
  EXPECT_NE(metrics.body().find("# TYPE cml_reconciler_workqueue_depth gauge"), std::string::npos);
  EXPECT_EQ(metrics[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
}

// Verifies the status endpoints: every model sorted by name, one model, 404 for another.
TEST_F(HttpEndpointsTest, ServesStatus) {
  const json all = json::parse(Call(http::verb::get, "/api/v1/status").body());
  ASSERT_EQ(all["models"].size(), 2u);
  EXPECT_EQ(all["models"][0]["name"], "churn");
  EXPECT_EQ(all["models"][1]["name"], "fraud-classifier");
  const common::HttpResponse one = Call(http::verb::get, "/api/v1/status/churn");
  EXPECT_EQ(one.result_int(), 200);
  EXPECT_EQ(json::parse(one.body())["name"], "churn");
  const common::HttpResponse missing = Call(http::verb::get, "/api/v1/status/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(json::parse(missing.body())["error"], "unknown model nope");
}

// Verifies the POST endpoints: reconcile one or all, retry, 404 for unknown models.
TEST_F(HttpEndpointsTest, QueuesReconcileAndRetry) {
  const common::HttpResponse one = Call(http::verb::post, "/api/v1/reconcile?name=churn");
  EXPECT_EQ(one.result_int(), 202);
  EXPECT_EQ(json::parse(one.body())["queued"], json::array({"churn"}));
  const common::HttpResponse all = Call(http::verb::post, "/api/v1/reconcile");
  EXPECT_EQ(json::parse(all.body())["queued"], json::array({"churn", "fraud-classifier"}));
  EXPECT_EQ(Call(http::verb::post, "/api/v1/reconcile?name=nope").result_int(), 404);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/models/churn/retry").result_int(), 202);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/models/nope/retry").result_int(), 404);
}

// Verifies 405 with Allow for a known path and the wrong method, 404 for unknown paths.
TEST_F(HttpEndpointsTest, RejectsWrongMethodsAndPaths) {
  const common::HttpResponse get_retry = Call(http::verb::get, "/api/v1/models/churn/retry");
  EXPECT_EQ(get_retry.result_int(), 405);
  EXPECT_EQ(get_retry[http::field::allow], "POST");
  const common::HttpResponse post_metrics = Call(http::verb::post, "/metrics");
  EXPECT_EQ(post_metrics.result_int(), 405);
  EXPECT_EQ(post_metrics[http::field::allow], "GET");
  EXPECT_EQ(Call(http::verb::get, "/nope").result_int(), 404);
}

// Verifies that without an admin token the POST endpoints are refused (403) to a
// non-loopback peer, before looking at the model, and accepted from IPv4 and IPv6 loopback.
TEST_F(HttpEndpointsTest, PostsOnlyFromLoopbackWithoutToken) {
  const common::HttpResponse remote =
      Call(http::verb::post, "/api/v1/reconcile?name=churn", "192.0.2.10");
  EXPECT_EQ(remote.result_int(), 403);
  EXPECT_NE(json::parse(remote.body())["error"].get<std::string>().find("loopback"),
            std::string::npos);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/models/nope/retry", "192.0.2.10").result_int(), 403);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/reconcile", "::1").result_int(), 202);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/models/churn/retry", "127.0.0.1").result_int(), 202);
  // GET endpoints stay open to everyone.
  EXPECT_EQ(Call(http::verb::get, "/api/v1/status", "192.0.2.10").result_int(), 200);
}

// Verifies that with an admin token file every POST needs the bearer token (401 with
// WWW-Authenticate otherwise, loopback included), and 202 with it from any peer.
TEST_F(HttpEndpointsTest, PostsNeedBearerTokenWithTokenFile) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("cmlr-endpoints-token-" + std::to_string(::getpid()));
  std::ofstream(file) << "tok-123\n";
  auto admin = AdminAuth::FromTokenFile(file.string());
  std::filesystem::remove(file);
  ASSERT_TRUE(admin.ok()) << admin.status();
  HttpEndpoints guarded{controller_, readiness_, {registry_}, std::move(*admin)};

  const common::HttpResponse missing =
      CallReply(guarded, http::verb::post, "/api/v1/reconcile").response;
  EXPECT_EQ(missing.result_int(), 401);
  EXPECT_EQ(missing[http::field::www_authenticate], R"(Bearer realm="cml-reconciler")");
  const common::HttpResponse wrong =
      CallReply(guarded, http::verb::post, "/api/v1/models/churn/retry", "127.0.0.1",
                "Bearer tok-124")
          .response;
  EXPECT_EQ(wrong.result_int(), 401);
  EXPECT_NE(std::string(wrong[http::field::www_authenticate]).find("invalid_token"),
            std::string::npos);
  EXPECT_EQ(CallReply(guarded, http::verb::post, "/api/v1/reconcile?name=churn", "192.0.2.10",
                      "Bearer tok-123")
                .response.result_int(),
            202);
  EXPECT_EQ(CallReply(guarded, http::verb::post, "/api/v1/models/churn/retry", "127.0.0.1",
                      "Bearer tok-123")
                .response.result_int(),
            202);
  // No secret in any answer, and GET needs no token.
  EXPECT_EQ(missing.body().find("tok-123"), std::string::npos);
  EXPECT_EQ(
      CallReply(guarded, http::verb::get, "/api/v1/status", "192.0.2.10").response.result_int(),
      200);
}

// Reads what a stream's server would write, as it comes.
net::awaitable<void> DrainStream(std::shared_ptr<common::HttpStream> stream, std::string* text) {
  for (;;) {
    std::optional<std::string> data = co_await stream->Next(1 << 20);
    if (!data) co_return;
    *text += *data;
  }
}

// Verifies GET /api/v1/events: an SSE stream whose first events are every model's ENTRY,
// then one event per status change told by the controller's observer; open to any peer.
TEST_F(HttpEndpointsTest, StreamsEventsWithSnapshotFirst) {
  common::HttpReply reply = CallReply(endpoints_, http::verb::get, "/api/v1/events", "192.0.2.10");
  ASSERT_NE(reply.stream, nullptr);
  EXPECT_EQ(reply.response.result_int(), 200);
  EXPECT_EQ(reply.response[http::field::content_type], "text/event-stream");
  EXPECT_EQ(reply.response[http::field::cache_control], "no-cache");
  std::string text;
  net::co_spawn(io_, DrainStream(reply.stream, &text), net::detached);
  io_.restart();
  io_.poll();
  const json status = controller_.statuses().ToJson();
  std::string expected;
  for (const json& entry : status["models"])
    expected += "event: model\ndata: " + entry.dump() + "\n\n";
  EXPECT_EQ(text, expected);

  text.clear();
  endpoints_.events().OnStatus(*controller_.statuses().Find("churn"));  // no change: no event
  io_.poll();
  EXPECT_EQ(text, "");
  reply.stream->Close();
  io_.run();
}

// Verifies that streams beyond the limit are answered 503, and HEAD gets the headers only.
TEST_F(HttpEndpointsTest, RefusesEventStreamsBeyondLimit) {
  HttpEndpoints limited{controller_, readiness_, {registry_}, AdminAuth{}, {.max_clients = 1}};
  common::HttpReply first = CallReply(limited, http::verb::get, "/api/v1/events");
  ASSERT_NE(first.stream, nullptr);
  common::HttpReply second = CallReply(limited, http::verb::get, "/api/v1/events");
  EXPECT_EQ(second.stream, nullptr);
  EXPECT_EQ(second.response.result_int(), 503);
  common::HttpReply head = CallReply(limited, http::verb::head, "/api/v1/events");
  EXPECT_EQ(head.stream, nullptr);
  EXPECT_EQ(head.response.result_int(), 200);
  EXPECT_EQ(CallReply(limited, http::verb::post, "/api/v1/events").response.result_int(), 405);
  limited.events().CloseAll();
}

}  // namespace
}  // namespace cmlr::daemon
