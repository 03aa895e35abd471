#include "daemon/http_endpoints.h"

#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

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

  common::HttpResponse Call(http::verb method, std::string target) {
    common::HttpRequest request{method, target, 11};
    std::optional<common::HttpResponse> response;
    net::co_spawn(
        io_, [&]() -> net::awaitable<void> { response = co_await endpoints_.Handle(request); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    EXPECT_TRUE(response.has_value()) << target;
    return response ? *response : common::HttpResponse{};
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

}  // namespace
}  // namespace cmlr::daemon
