#include "api/http_cml_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <prometheus/registry.h>
#include <spdlog/sinks/null_sink.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "common/http_server.h"
#include "common/time_format.h"
#include "tests/fakes/fake_clock.h"
#include "tests/support/swagger_validator.h"

namespace cmlr::api {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using common::StatusCode;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tcp = net::ip::tcp;

constexpr const char* kKey = "test-key-0123456789";

struct Recorded {
  std::string method;
  std::string target;
  std::string body;
  std::string authorization;
};

common::HttpResponse JsonResponse(unsigned status, const std::string& body) {
  common::HttpResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = body;
  return response;
}

double MetricValue(prometheus::Registry& registry, const std::string& name,
                   const std::map<std::string, std::string>& labels = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      bool match = true;
      for (const auto& [key, value] : labels) {
        const bool found =
            std::any_of(metric.label.begin(), metric.label.end(),
                        [&](const auto& l) { return l.name == key && l.value == value; });
        match = match && found;
      }
      if (!match) continue;
      if (family.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(metric.histogram.sample_count);
      }
      return metric.counter.value;
    }
  }
  return 0;
}

class HttpCmlClientTest : public ::testing::Test {
 protected:
  using Handler = std::function<std::optional<common::HttpResponse>(const common::HttpRequest&)>;

  void TearDown() override {
    client_.reset();
    if (server_ != nullptr) server_->Stop();
    for (int i = 0; i < 10; ++i) io_.poll();
    ValidateRecordedAgainstSwagger();
  }

  // Every request the client sent in this test conforms to the swagger excerpt.
  void ValidateRecordedAgainstSwagger() {
    const auto validator =
        cmlr::testing::SwaggerValidator::Load(cmlr::testing::SwaggerExcerptPath());
    if (!validator.ok()) return;  // ConformanceTest says so with a skip
    for (const Recorded& r : recorded_) {
      for (const std::string& error : validator->ValidateRequest(r.method, r.target, r.body)) {
        ADD_FAILURE() << error << "\n  body: " << r.body;
      }
    }
  }

  void StartServer(common::HttpServerOptions options = {}) {
    auto server = common::HttpServer::Create(
        io_.get_executor(), std::move(options),
        [this](common::HttpRequest request) -> net::awaitable<std::optional<common::HttpResponse>> {
          recorded_.push_back({std::string(request.method_string()), std::string(request.target()),
                               request.body(), std::string(request[http::field::authorization])});
          co_return handler_(request);
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
  }

  HttpCmlClientOptions Options() {
    return HttpCmlClientOptions{
        .base_url = "http://127.0.0.1:" + std::to_string(server_ ? server_->port() : 0),
        .api_key = Secret(kKey),
        .qps = 0,
        .max_read_retries = 3};
  }

  HttpCmlClient& MakeClient(HttpCmlClientOptions options) {
    auto client =
        HttpCmlClient::Create(io_.get_executor(), clock_, std::move(options), registry_, logger_);
    EXPECT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    client_->SetCallObserver([this](const CallRecord& record) { calls_.push_back(record); });
    return *client_;
  }

  // Runs a coroutine to completion. Network I/O runs in real time; the fake clock jumps to the
  // next sleeper's deadline whenever nothing else is ready (token bucket, backoff, Retry-After).
  template <typename T>
  T Run(net::awaitable<T> awaitable) {
    // Shared with the coroutine, which may outlive this call if it never finishes.
    auto result = std::make_shared<std::optional<T>>();
    auto done = std::make_shared<bool>(false);
    net::co_spawn(
        io_,
        [result, awaitable = std::move(awaitable)]() mutable -> net::awaitable<void> {
          result->emplace(co_await std::move(awaitable));
        },
        [done](std::exception_ptr e) {
          *done = true;
          if (e) std::rethrow_exception(e);
        });
    for (int idle_rounds = 0; !*done && idle_rounds < 1000;) {
      if (io_.stopped()) io_.restart();
      if (io_.poll() > 0) continue;
      if (clock_.sleepers() > 0) {
        clock_.SetTime(*clock_.NextDeadline());
        continue;
      }
      if (io_.run_one_for(milliseconds(20)) == 0) ++idle_rounds;
    }
    if (!result->has_value()) {
      ADD_FAILURE() << "the call did not finish";
      return T(common::DeadlineExceededError("test: the call did not finish"));
    }
    return std::move(**result);
  }

  // A small scripted CML: "METHOD /path" (query ignored) -> 200 body; anything else is 404.
  void ServeRoutes(std::map<std::string, std::string> routes) {
    handler_ = [routes = std::move(routes)](const common::HttpRequest& request) {
      std::string target(request.target());
      target = target.substr(0, target.find('?'));
      const auto it = routes.find(std::string(request.method_string()) + " " + target);
      if (it == routes.end()) {
        return std::optional(JsonResponse(404, R"({"code": 5, "message": "not found"})"));
      }
      return std::optional(JsonResponse(200, it->second));
    };
  }

  net::io_context io_;
  cmlr::testing::FakeClock clock_;
  prometheus::Registry registry_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("api-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  Handler handler_;
  std::vector<Recorded> recorded_;
  std::vector<CallRecord> calls_;
  std::unique_ptr<common::HttpServer> server_;
  std::unique_ptr<HttpCmlClient> client_;
};

const std::string kModel =
    R"({"id": "m1", "name": "fraud", "auth_enabled": true, "description": "d",
        "project": {"public_identifier": "p1"}})";
const std::string kBuild =
    R"({"id": "b1", "model_id": "m1", "status": "built", "runtime_identifier": "img:1",
        "registered_model_version_id": "v1", "comment": "cml-reconciler fraud x"})";
const std::string kDeployment =
    R"({"id": "d1", "build_id": "b1", "status": "deployed", "cpu": 2, "memory": "4",
        "nvidia_gpu": 0, "replicas": 2, "environment": "{\"A\":\"b\"}"})";
const std::string kVersion =
    R"({"model_id": "r1", "model_version_id": "v1", "number": 3,
        "model_version_metadata": {"mlflow_metadata": {"run_id": "run-1"}}})";

// Verifies that every operation sends the right method, path and key, and decodes the answer.
TEST_F(HttpCmlClientTest, EveryOperationRoundTrips) {
  const std::string deployments = "/api/v2/projects/p1/models/m1/builds/b1/deployments";
  ServeRoutes({
      {"POST /api/v2/auth/validate_key", R"({"valid": true, "username": "alice"})"},
      {"GET /api/v2/runtimes",
       R"({"runtimes": [{"image_identifier": "img:1", "kernel": "Python 3.9",
                         "status": "ENABLED"}]})"},
      {"GET /api/v2/registry/models", R"({"models": [{"model_id": "r1", "name": "FraudCLF"}]})"},
      {"POST /api/v2/registry/models",
       R"({"model_id": "r1", "name": "FraudCLF", "model_versions": [)" + kVersion + "]}"},
      {"GET /api/v2/registry/models/r1",
       R"({"model_id": "r1", "name": "FraudCLF", "model_versions": [)" + kVersion + "]}"},
      {"GET /api/v2/registry/models/r1/versions/v1", kVersion},
      {"GET /api/v2/projects/p1/models", R"({"models": [)" + kModel + "]}"},
      {"POST /api/v2/projects/p1/models", kModel},
      {"GET /api/v2/projects/p1/models/m1", kModel},
      {"PATCH /api/v2/projects/p1/models/m1", R"({"id": "m1", "description": "new"})"},
      {"DELETE /api/v2/projects/p1/models/m1", "{}"},
      {"GET /api/v2/projects/p1/models/m1/builds", R"({"model_builds": [)" + kBuild + "]}"},
      {"POST /api/v2/projects/p1/models/m1/builds", kBuild},
      {"GET /api/v2/projects/p1/models/m1/builds/b1", kBuild},
      {"GET " + deployments, R"({"model_deployments": [)" + kDeployment + "]}"},
      {"POST " + deployments, kDeployment},
      {"GET " + deployments + "/d1", kDeployment},
      {"POST " + deployments + "/d1:stop", R"({"id": "d1", "status": "stopping"})"},
      {"POST " + deployments + "/d1:restart", R"({"id": "d1", "status": "deploying"})"},
  });
  StartServer();
  HttpCmlClient& client = MakeClient(Options());

  auto key = Run(client.ValidateApiKey({}));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->valid);
  auto runtimes = Run(client.ListRuntimes({.search_filter = {{"kernel", "Python 3.9"}}}));
  ASSERT_TRUE(runtimes.ok()) << runtimes.status();
  EXPECT_EQ(runtimes->at(0).image_identifier, "img:1");
  auto registered = Run(client.ListRegisteredModels({.search_filter = {{"model_name", "Fraud"}}}));
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->at(0).model_id, "r1");
  auto created_registered = Run(client.CreateRegisteredModel({.project_id = "p1",
                                                              .experiment_id = "e1",
                                                              .run_id = "run-1",
                                                              .model_path = "artifacts",
                                                              .model_name = "FraudCLF"}));
  ASSERT_TRUE(created_registered.ok()) << created_registered.status();
  EXPECT_EQ(created_registered->model_versions.at(0).number, 3);
  auto got_registered = Run(client.GetRegisteredModel("r1", {}));
  ASSERT_TRUE(got_registered.ok()) << got_registered.status();
  EXPECT_EQ(got_registered->model_versions.at(0).model_version_metadata.mlflow_metadata.run_id,
            "run-1");
  auto version = Run(client.GetRegisteredModelVersion("r1", "v1"));
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->number, 3);

  auto models = Run(client.ListModels("p1", {.search_filter = {{"name", "fraud"}}}));
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_EQ(models->at(0).project.public_identifier, "p1");
  auto created_model = Run(
      client.CreateModel("p1", {.name = "fraud", .description = "d", .registered_model_id = "r1"}));
  ASSERT_TRUE(created_model.ok()) << created_model.status();
  EXPECT_TRUE(created_model->auth_enabled);
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_TRUE(model.ok()) << model.status();
  auto updated = Run(client.UpdateModel("p1", "m1", {.description = "new"}));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->description, "new");
  EXPECT_TRUE(Run(client.DeleteModel("p1", "m1")).ok());

  auto builds = Run(client.ListModelBuilds("p1", "m1", {.sort = "-created_at"}));
  ASSERT_TRUE(builds.ok()) << builds.status();
  EXPECT_EQ(builds->at(0).status, "built");
  auto build = Run(client.CreateModelBuild("p1", "m1",
                                           {.comment = "cml-reconciler fraud x",
                                            .runtime_identifier = "img:1",
                                            .registered_model_version_id = "v1"}));
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_TRUE(Run(client.GetModelBuild("p1", "m1", "b1")).ok());

  auto deployments_list = Run(client.ListModelDeployments("p1", "m1", "b1", {}));
  ASSERT_TRUE(deployments_list.ok()) << deployments_list.status();
  EXPECT_EQ(deployments_list->at(0).environment, (StringMap{{"A", "b"}}));
  auto deployment = Run(client.CreateModelDeployment(
      "p1", "m1", "b1", {.cpu = 2, .memory = 4, .environment = {{"A", "b"}}, .replicas = 2}));
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_DOUBLE_EQ(deployment->memory, 4);
  EXPECT_TRUE(Run(client.GetModelDeployment("p1", "m1", "b1", "d1")).ok());
  auto stopped = Run(client.StopModelDeployment("p1", "m1", "b1", "d1"));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status, "stopping");
  auto restarted = Run(client.RestartModelDeployment("p1", "m1", "b1", "d1"));
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(restarted->status, "deploying");

  ASSERT_EQ(recorded_.size(), 19u);
  for (const Recorded& r : recorded_) EXPECT_EQ(r.authorization, std::string("Bearer ") + kKey);
  EXPECT_EQ(recorded_[14].method, "GET");
  EXPECT_EQ(recorded_[17].target, deployments + "/d1:stop");
  // The body carries the ids from the path when the caller left them empty.
  EXPECT_EQ(json::parse(recorded_[15].body)["build_id"], "b1");
  EXPECT_EQ(json::parse(recorded_[9].body)["id"], "m1");

  ASSERT_EQ(calls_.size(), 19u);
  EXPECT_EQ(calls_[0].operation, "validate_api_key");
  EXPECT_EQ(calls_[15].operation, "create_model_deployment");
  EXPECT_EQ(calls_[15].http_status, 200);
  EXPECT_TRUE(calls_[15].status.ok());
  EXPECT_EQ(MetricValue(registry_, "cml_reconciler_api_requests_total",
                        {{"operation", "stop_model_deployment"}, {"code", "200"}}),
            1);
  EXPECT_EQ(MetricValue(registry_, "cml_reconciler_api_request_duration_seconds",
                        {{"operation", "list_models"}}),
            1);
  // Keep-alive: one connection served every call.
  EXPECT_EQ(client.connections_opened(), 1u);
}

// Verifies that a list follows next_page_token across many pages with the same page_size,
// search_filter and sort, and that the versions of a registered model are paged too.
TEST_F(HttpCmlClientTest, ListsFollowManyPages) {
  handler_ = [](const common::HttpRequest& request) -> std::optional<common::HttpResponse> {
    const std::string target(request.target());
    const auto token_at = target.find("page_token=");
    const int offset = token_at == std::string::npos ? 0 : std::stoi(target.substr(token_at + 11));
    const int page_size = 20;
    const bool versions = target.starts_with("/api/v2/registry/models/r1");
    const int total = versions ? 45 : 250;
    json items = json::array();
    for (int i = offset; i < std::min(offset + page_size, total); ++i) {
      if (versions) {
        items.push_back({{"model_version_id", "v" + std::to_string(i)}, {"number", i}});
      } else {
        items.push_back({{"id", "m" + std::to_string(i)}, {"name", "fraud-" + std::to_string(i)}});
      }
    }
    json body =
        versions ? json{{"model_id", "r1"}, {"model_versions", items}} : json{{"models", items}};
    if (offset + page_size < total) body["next_page_token"] = std::to_string(offset + page_size);
    return JsonResponse(200, body.dump());
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());

  auto models = Run(client.ListModels(
      "p1", {.search_filter = {{"name", "fraud"}}, .sort = "-created_at", .page_size = 20}));
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 250u);
  EXPECT_EQ(models->back().id, "m249");
  ASSERT_EQ(recorded_.size(), 13u);
  const std::string first = recorded_[0].target;
  EXPECT_EQ(first,
            "/api/v2/projects/p1/models?search_filter=%7B%22name%22%3A%22fraud%22%7D"
            "&sort=-created_at&page_size=20");
  for (std::size_t i = 1; i < recorded_.size(); ++i) {
    EXPECT_EQ(recorded_[i].target, first + "&page_token=" + std::to_string(i * 20));
  }
  ASSERT_EQ(calls_.size(), 1u);  // one logical call for the observer
  EXPECT_EQ(calls_[0].operation, "list_models");

  auto registered = Run(client.GetRegisteredModel("r1", {.page_size = 20}));
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->model_id, "r1");
  ASSERT_EQ(registered->model_versions.size(), 45u);
  EXPECT_EQ(registered->model_versions[44].number, 44);
}

// Verifies that a server repeating its page token makes the list fail instead of looping.
TEST_F(HttpCmlClientTest, RepeatedPageTokenFailsTheList) {
  handler_ = [](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    return JsonResponse(200,
                        R"({"runtimes": [{"image_identifier": "x"}], "next_page_token": "t"})");
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto runtimes = Run(client.ListRuntimes({}));
  ASSERT_FALSE(runtimes.ok());
  EXPECT_EQ(runtimes.status().code(), StatusCode::kInternal);
  EXPECT_EQ(runtimes.status().message(), "list_runtimes: server repeated page token after 2 pages");
  EXPECT_EQ(recorded_.size(), 2u);
}

// Verifies that a read is retried on 503 and 502 with backoff, counting each retry.
TEST_F(HttpCmlClientTest, RetriesTransientReadFailures) {
  int calls = 0;
  handler_ = [&calls](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    ++calls;
    if (calls == 1) return JsonResponse(503, "");
    if (calls == 2) return JsonResponse(502, "<html>bad gateway</html>");
    return JsonResponse(200, kModel);
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(
      MetricValue(registry_, "cml_reconciler_api_retries_total", {{"operation", "get_model"}}), 2);
  EXPECT_EQ(MetricValue(registry_, "cml_reconciler_api_requests_total",
                        {{"operation", "get_model"}, {"code", "503"}}),
            1);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].http_status, 200);
}

// Verifies that reads give up after max_read_retries and return UNAVAILABLE with the status.
TEST_F(HttpCmlClientTest, ReadRetriesAreBounded) {
  handler_ = [](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    return JsonResponse(500, R"({"code": 13, "message": "database down"})");
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto models = Run(client.ListModels("p1", {}));
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(models.status().http_status(), 500);
  EXPECT_EQ(models.status().message(), "list_models: HTTP 500: database down");
  EXPECT_FALSE(models.status().outcome_unknown());
  EXPECT_EQ(recorded_.size(), 4u);
}

// Verifies that a 429 with Retry-After is waited out (on the clock, counted as throttled time)
// and the call then succeeds, for a read and for a write (a 429 was not processed).
TEST_F(HttpCmlClientTest, HonoursRetryAfterOn429) {
  int calls = 0;
  handler_ = [&calls](const common::HttpRequest& request) -> std::optional<common::HttpResponse> {
    ++calls;
    if (calls % 2 == 1) {
      common::HttpResponse response = JsonResponse(429, R"({"code": 8, "message": "slow down"})");
      response.set(http::field::retry_after, "3");
      return response;
    }
    return JsonResponse(200, request.method() == http::verb::post ? kBuild : kModel);
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  const common::TimePoint start = clock_.Now();
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(clock_.Now() - start, seconds(3));
  auto build = Run(client.CreateModelBuild("p1", "m1", {.runtime_identifier = "img:1"}));
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_EQ(calls, 4);
  EXPECT_DOUBLE_EQ(MetricValue(registry_, "cml_reconciler_api_throttled_seconds_total"), 6.0);
  EXPECT_EQ(MetricValue(registry_, "cml_reconciler_api_requests_total",
                        {{"operation", "create_model_build"}, {"code", "429"}}),
            1);
}

// Verifies that grpc-gateway v1's throttling answer, 403 with RESOURCE_EXHAUSTED, is retried
// after its Retry-After like a 429, for a read and for a write (it was not processed), while a
// real 403 is neither retried nor waited on.
TEST_F(HttpCmlClientTest, HonoursRetryAfterOnGatewayV1Throttling) {
  int calls = 0;
  handler_ = [&calls](const common::HttpRequest& request) -> std::optional<common::HttpResponse> {
    ++calls;
    if (calls % 2 == 1) {
      common::HttpResponse response =
          JsonResponse(403, R"({"error": "quota", "code": 8, "message": "rate limit exceeded"})");
      response.set(http::field::retry_after, "2");
      return response;
    }
    return JsonResponse(200, request.method() == http::verb::post ? kBuild : kModel);
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  const common::TimePoint start = clock_.Now();
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(clock_.Now() - start, seconds(2));
  auto build = Run(client.CreateModelBuild("p1", "m1", {.runtime_identifier = "img:1"}));
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_EQ(calls, 4);
  EXPECT_DOUBLE_EQ(MetricValue(registry_, "cml_reconciler_api_throttled_seconds_total"), 4.0);

  handler_ = [&calls](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    ++calls;
    common::HttpResponse response = JsonResponse(403, R"({"code": 7, "message": "denied"})");
    response.set(http::field::retry_after, "2");
    return response;
  };
  const common::TimePoint denied_at = clock_.Now();
  auto denied = Run(client.GetModel("p1", "m1"));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(clock_.Now(), denied_at);
}

// Verifies that a 503 with Retry-After as an HTTP-date is waited out until that date.
TEST_F(HttpCmlClientTest, HonoursRetryAfterHttpDateOn503) {
  int calls = 0;
  handler_ = [&calls](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    if (++calls == 1) {
      common::HttpResponse response = JsonResponse(503, "");
      response.set(http::field::retry_after, "Thu, 01 Jan 2026 00:00:05 GMT");
      return response;
    }
    return JsonResponse(200, R"({"runtimes": []})");
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  ASSERT_EQ(common::FormatRfc3339(clock_.Now()), "2026-01-01T00:00:00Z");
  auto runtimes = Run(client.ListRuntimes({}));
  ASSERT_TRUE(runtimes.ok()) << runtimes.status();
  EXPECT_EQ(common::FormatRfc3339(clock_.Now()), "2026-01-01T00:00:05Z");
  EXPECT_EQ(calls, 2);
}

// Verifies that a write that could not even connect is UNAVAILABLE without outcome unknown:
// it certainly was not applied.
TEST_F(HttpCmlClientTest, UnsentWriteIsNotOutcomeUnknown) {
  unsigned short port = 0;
  {
    tcp::acceptor closed(io_, {net::ip::make_address("127.0.0.1"), 0});
    port = closed.local_endpoint().port();
  }
  HttpCmlClientOptions options = Options();
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  HttpCmlClient& client = MakeClient(options);
  auto model = Run(client.CreateModel("p1", {.name = "fraud"}));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(model.status().outcome_unknown());
  EXPECT_NE(model.status().message().find("cannot connect"), std::string::npos) << model.status();
}

// Verifies that a write whose connection drops after the request was sent is UNAVAILABLE with
// outcome unknown, and is not sent again.
TEST_F(HttpCmlClientTest, DroppedWriteIsOutcomeUnknown) {
  handler_ = [](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    return std::nullopt;  // applied, then the answer is lost
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto deployment = Run(client.CreateModelDeployment("p1", "m1", "b1", {.cpu = 1, .memory = 2}));
  ASSERT_FALSE(deployment.ok());
  EXPECT_EQ(deployment.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(deployment.status().outcome_unknown());
  EXPECT_EQ(recorded_.size(), 1u);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_TRUE(calls_[0].status.outcome_unknown());
  EXPECT_EQ(MetricValue(registry_, "cml_reconciler_api_requests_total",
                        {{"operation", "create_model_deployment"}, {"code", "error"}}),
            1);
}

// Verifies that a 5xx answer to a write (the 30 s gateway timeout case) is outcome unknown and
// not repeated, while a 4xx answer is a plain error.
TEST_F(HttpCmlClientTest, ServerErrorOnWriteIsOutcomeUnknown) {
  handler_ = [](const common::HttpRequest& request) -> std::optional<common::HttpResponse> {
    if (request.method() == http::verb::patch) {
      return JsonResponse(400, R"({"code": 3, "message": "bad name"})");
    }
    return JsonResponse(504, "gateway timeout");
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto model = Run(client.CreateModel("p1", {.name = "fraud"}));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(model.status().outcome_unknown());
  EXPECT_EQ(model.status().http_status(), 504);
  EXPECT_EQ(recorded_.size(), 1u);
  auto updated = Run(client.UpdateModel("p1", "m1", {.name = "x"}));
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(updated.status().outcome_unknown());
  EXPECT_EQ(updated.status().message(), "update_model: HTTP 400: bad name");
}

// Verifies that truncated, wrongly typed, non-JSON and oversized answers are errors with useful
// messages, never crashes, and are not retried.
TEST_F(HttpCmlClientTest, BadResponsesAreErrors) {
  std::string body;
  handler_ = [&body](const common::HttpRequest&) -> std::optional<common::HttpResponse> {
    return JsonResponse(200, body);
  };
  StartServer();
  HttpCmlClientOptions options = Options();
  options.max_response_bytes = 4096;
  HttpCmlClient& client = MakeClient(options);

  body = R"({"models": [{"id": "m1", "name": )";
  auto truncated = Run(client.ListModels("p1", {}));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(truncated.status().message().starts_with("list_models: malformed response: "))
      << truncated.status();

  body = R"({"models": [{"id": "m1", "auth_enabled": {"yes": 1}}]})";
  auto wrong = Run(client.ListModels("p1", {}));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "list_models: malformed response: models[0].auth_enabled: expected a boolean, got "
            "object");

  body = "<html>hello</html>";
  EXPECT_EQ(Run(client.GetModel("p1", "m1")).status().code(), StatusCode::kInternal);

  body = R"({"id": ")" + std::string(10000, 'x') + R"("})";
  auto oversized = Run(client.GetModel("p1", "m1"));
  ASSERT_FALSE(oversized.ok());
  EXPECT_EQ(oversized.status().code(), StatusCode::kInternal);
  EXPECT_NE(oversized.status().message().find("larger than 4096 bytes"), std::string::npos)
      << oversized.status();

  auto oversized_list = Run(client.ListModels("p1", {}));
  ASSERT_FALSE(oversized_list.ok());
  EXPECT_TRUE(oversized_list.status().message().starts_with("list_models: response from "))
      << oversized_list.status();

  // A write whose 200 answer cannot be read was probably applied: outcome unknown.
  body = "{";
  auto build = Run(client.CreateModelBuild("p1", "m1", {.runtime_identifier = "img:1"}));
  ASSERT_FALSE(build.ok());
  EXPECT_TRUE(build.status().outcome_unknown());
  EXPECT_EQ(build.status().code(), StatusCode::kUnavailable);

  EXPECT_EQ(recorded_.size(), 6u);
}

// Verifies that a 404 with a runtimeError body is NOT_FOUND, carries its HTTP status, and is
// not retried.
TEST_F(HttpCmlClientTest, MapsErrorBodies) {
  ServeRoutes({});
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto build = Run(client.GetModelBuild("p1", "m1", "nope"));
  ASSERT_FALSE(build.ok());
  EXPECT_EQ(build.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(build.status().http_status(), 404);
  EXPECT_EQ(build.status().message(), "get_model_build: HTTP 404: not found");
  EXPECT_EQ(recorded_.size(), 1u);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].http_status, 404);
}

// Verifies that the key never appears in an error message, even when a server echoes it.
TEST_F(HttpCmlClientTest, KeyNeverAppearsInMessages) {
  handler_ = [](const common::HttpRequest& request) -> std::optional<common::HttpResponse> {
    json body{{"code", 16},
              {"message", "bad credentials: " + std::string(request[http::field::authorization])}};
    return JsonResponse(401, body.dump());
  };
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  auto models = Run(client.ListModels("p1", {}));
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(models.status().message().find(kKey), std::string::npos);
  EXPECT_NE(models.status().message().find("[redacted]"), std::string::npos);
}

// Verifies that idle pooled connections are reused, and closed by CloseIdleConnections().
TEST_F(HttpCmlClientTest, ReusesAndClosesConnections) {
  ServeRoutes({{"GET /api/v2/projects/p1/models/m1", kModel}});
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Run(client.GetModel("p1", "m1")).ok());
  EXPECT_EQ(client.connections_opened(), 1u);
  client.CloseIdleConnections();
  ASSERT_TRUE(Run(client.GetModel("p1", "m1")).ok());
  EXPECT_EQ(client.connections_opened(), 2u);
}

// Verifies that idle connections past the idle timeout are closed once any call finishes, not
// only when the pool empties down to them: after a burst of three concurrent calls, one call at
// a time keeps one connection open, not three (an fd each, for good).
TEST_F(HttpCmlClientTest, ClosesConnectionsLeftIdleByABurst) {
  ServeRoutes({{"GET /api/v2/projects/p1/models/m1", kModel}});
  StartServer();
  HttpCmlClient& client = MakeClient(Options());
  int finished = 0;
  for (int i = 0; i < 3; ++i) {
    net::co_spawn(
        io_,
        [&]() -> net::awaitable<void> {
          EXPECT_TRUE((co_await client.GetModel("p1", "m1")).ok());
          ++finished;
        },
        net::detached);
  }
  while (finished < 3) io_.run_one();
  ASSERT_EQ(client.connections_opened(), 3u);
  EXPECT_EQ(client.idle_connections(), 3u);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(seconds(10));  // the reused one stays fresh; the other two age past 15 s
    ASSERT_TRUE(Run(client.GetModel("p1", "m1")).ok());
  }
  EXPECT_EQ(client.connections_opened(), 3u);
  EXPECT_EQ(client.idle_connections(), 1u);
}

// Verifies that the token bucket paces calls on the clock: with qps 2 and burst 1, the third
// call starts a second after the first.
TEST_F(HttpCmlClientTest, RateLimitsCalls) {
  ServeRoutes({{"GET /api/v2/projects/p1/models/m1", kModel}});
  StartServer();
  HttpCmlClientOptions options = Options();
  options.qps = 2;
  options.burst = 1;
  HttpCmlClient& client = MakeClient(options);
  const common::TimePoint start = clock_.Now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Run(client.GetModel("p1", "m1")).ok());
  EXPECT_EQ(clock_.Now() - start, seconds(1));
  EXPECT_DOUBLE_EQ(MetricValue(registry_, "cml_reconciler_api_throttled_seconds_total"), 1.0);
}

// Verifies Create()'s checks: bad URL, plain http to a non-loopback host (unless allowed),
// empty key, unreadable CA file.
TEST_F(HttpCmlClientTest, CreateRejectsBadOptions) {
  const auto create = [this](HttpCmlClientOptions options) {
    return HttpCmlClient::Create(io_.get_executor(), clock_, std::move(options), registry_, logger_)
        .status();
  };
  HttpCmlClientOptions options{.base_url = "ftp://x", .api_key = Secret(kKey)};
  EXPECT_EQ(create(options).code(), StatusCode::kInvalidArgument);
  options.base_url = "https://host:99999";
  EXPECT_EQ(create(options).code(), StatusCode::kInvalidArgument);
  options.base_url = "http://cml.example.com";
  common::Status refused = create(options);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("not a loopback host"), std::string::npos);
  options.allow_insecure_http = true;
  EXPECT_TRUE(create(options).ok());
  options.base_url = "http://[::1]:8080/prefix/";
  options.allow_insecure_http = false;
  EXPECT_TRUE(create(options).ok());
  options.api_key = Secret("");
  EXPECT_EQ(create(options).code(), StatusCode::kInvalidArgument);
  options.api_key = Secret(kKey);
  options.base_url = "https://cml.example.com";
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(create(options).code(), StatusCode::kInvalidArgument);
}

// A TCP listener that accepts connections and never answers.
class StalledServer {
 public:
  explicit StalledServer(net::io_context& io)
      : acceptor_(io, {net::ip::make_address("127.0.0.1"), 0}) {
    Accept();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      held_.push_back(std::move(socket));
      Accept();
    });
  }
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> held_;
};

// Verifies that a server that never answers hits the request deadline: UNAVAILABLE for a read,
// outcome unknown for a write, and no hang.
TEST_F(HttpCmlClientTest, StalledServerHitsDeadline) {
  StalledServer stalled(io_);
  HttpCmlClientOptions options = Options();
  options.base_url = "http://127.0.0.1:" + std::to_string(stalled.port());
  options.request_timeout = milliseconds(200);
  options.max_read_retries = 1;
  HttpCmlClient& client = MakeClient(options);
  auto models = Run(client.ListModels("p1", {}));
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(models.status().message().find("no complete response"), std::string::npos)
      << models.status();
  EXPECT_EQ(
      MetricValue(registry_, "cml_reconciler_api_retries_total", {{"operation", "list_models"}}),
      1);
  auto model = Run(client.CreateModel("p1", {.name = "fraud"}));
  ASSERT_FALSE(model.ok());
  EXPECT_TRUE(model.status().outcome_unknown());
}

// Verifies that a TLS peer that never completes the handshake hits the handshake deadline, and
// that a write that never reached the server is not marked outcome unknown.
TEST_F(HttpCmlClientTest, StalledTlsHandshakeHitsDeadline) {
  StalledServer stalled(io_);
  HttpCmlClientOptions options = Options();
  options.base_url = "https://127.0.0.1:" + std::to_string(stalled.port());
  options.tls_handshake_timeout = milliseconds(200);
  HttpCmlClient& client = MakeClient(options);
  auto model = Run(client.CreateModel("p1", {.name = "fraud"}));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(model.status().outcome_unknown());
  EXPECT_NE(model.status().message().find("TLS handshake"), std::string::npos) << model.status();
}

// TLS tests: a CA and two server certificates generated for this run with the openssl CLI.
class HttpCmlClientTlsTest : public HttpCmlClientTest {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cmlr-tls-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = new std::string(pattern);
    std::ofstream(*dir_ + "/good.ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
    std::ofstream(*dir_ + "/wrong.ext")
        << "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    std::string script = "cd '" + *dir_ + "' && openssl req -x509" + ec +
                         "-keyout ca.key -out ca.pem -days 2 -subj /CN=cmlr-test-ca "
                         "-addext basicConstraints=critical,CA:TRUE "
                         "-addext keyUsage=critical,keyCertSign";
    for (const char* name : {"good", "wrong"}) {
      const std::string n(name);
      script += " && openssl req" + ec + "-keyout " + n + ".key -out " + n + ".csr -subj /CN=" + n +
                " && openssl x509 -req -in " + n +
                ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " + n +
                ".pem -extfile " + n + ".ext";
    }
    ready_ = std::system((script + " >/dev/null 2>&1").c_str()) == 0;
  }

  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  void StartTlsServer(const std::string& name) {
    if (!ready_) GTEST_SKIP() << "the openssl CLI could not generate test certificates";
    StartServer({.tls_cert_file = *dir_ + "/" + name + ".pem",
                 .tls_key_file = *dir_ + "/" + name + ".key"});
    ServeRoutes({{"GET /api/v2/projects/p1/models/m1", kModel}});
  }

  HttpCmlClientOptions TlsOptions(const std::string& host, bool with_ca) {
    HttpCmlClientOptions options = Options();
    options.base_url = "https://" + host + ":" + std::to_string(server_->port());
    if (with_ca) options.ca_file = *dir_ + "/ca.pem";
    options.max_read_retries = 0;
    return options;
  }

  static inline std::string* dir_ = nullptr;
  static inline bool ready_ = false;
};

// Verifies that a certificate from an unknown CA fails verification without --ca-file.
TEST_F(HttpCmlClientTlsTest, FailsWithoutCaFile) {
  StartTlsServer("good");
  if (IsSkipped()) return;
  HttpCmlClient& client = MakeClient(TlsOptions("127.0.0.1", false));
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(model.status().message().find("certificate verification"), std::string::npos)
      << model.status();
  EXPECT_TRUE(recorded_.empty());
}

// Verifies that the same server passes with the CA file, by IP and by name (SNI).
TEST_F(HttpCmlClientTlsTest, PassesWithCaFile) {
  StartTlsServer("good");
  if (IsSkipped()) return;
  HttpCmlClient& client = MakeClient(TlsOptions("127.0.0.1", true));
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->id, "m1");
  HttpCmlClient& by_name = MakeClient(TlsOptions("localhost", true));
  auto again = Run(by_name.GetModel("p1", "m1"));
  ASSERT_TRUE(again.ok()) << again.status();
}

// Verifies that a certificate for another host name fails even with the right CA.
TEST_F(HttpCmlClientTlsTest, FailsForWrongHostName) {
  StartTlsServer("wrong");
  if (IsSkipped()) return;
  HttpCmlClient& client = MakeClient(TlsOptions("127.0.0.1", true));
  auto model = Run(client.GetModel("p1", "m1"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(model.status().message().find("mismatch"), std::string::npos) << model.status();
  EXPECT_TRUE(recorded_.empty());
}

// Verifies that every request body the client can send, with all optional fields set, is
// valid against the request definitions of the swagger excerpt.
TEST(ConformanceTest, RequestBodiesMatchSwagger) {
  const auto validator = cmlr::testing::SwaggerValidator::Load(cmlr::testing::SwaggerExcerptPath());
  if (!validator.ok()) {
    GTEST_SKIP() << "swagger excerpt not available: " << validator.status()
                 << "; conformance not checked";
  }
  const ShortCreateModelDeployment auto_deploy{.cpu = 1,
                                               .memory = 2,
                                               .nvidia_gpus = 1,
                                               .environment = {{"A", "b"}},
                                               .replicas = 2,
                                               .deployment_secrets = {{"S", "t"}}};
  const std::vector<std::pair<std::string, json>> bodies = {
      {"CreateRegisteredModelRequest",
       Encode(CreateRegisteredModelRequest{.project_id = "p",
                                           .experiment_id = "e",
                                           .run_id = "r",
                                           .model_path = "a",
                                           .model_name = "n",
                                           .tags = {{"k", "v"}},
                                           .description = "d",
                                           .notes = "n",
                                           .visibility = "PRIVATE"})},
      {"CreateModelRequest",
       Encode(CreateModelRequest{
           .project_id = "p",
           .name = "n",
           .description = "d",
           .disable_authentication = true,
           .registered_model_id = "r",
           .run_as = 3,
           .visibility = "private",
           .auto_build_config =
               ShortCreateModelBuild{
                   .comment = "c", .runtime_identifier = "i", .runtime_addon_identifiers = {"x"}},
           .auto_deployment_config = auto_deploy,
           .auto_build_model = true,
           .auto_deploy_model = true,
           .accelerator_label_id = 5,
           .resource_group_id = 1,
           .resource_profile_id = 2})},
      {"UpdateSingleModel",
       Encode(UpdateModelRequest{
           .id = "m",
           .name = "n",
           .description = "d",
           .visibility = "v",
           .default_resources = DefaultResources{.cpu_millicores = 1, .memory_mb = 2},
           .default_replication_policy =
               DefaultReplicationPolicy{.num_replicas = 2, .type = "fixed"},
           .run_as = 1,
           .accelerator_label_id = 3,
           .resource_group_id = 4,
           .resource_profile_id = 5})},
      {"CreateModelBuildRequest",
       Encode(CreateModelBuildRequest{.project_id = "p",
                                      .model_id = "m",
                                      .comment = "c",
                                      .file_path = "f",
                                      .function_name = "fn",
                                      .kernel = "k",
                                      .runtime_identifier = "i",
                                      .runtime_addon_identifiers = {"a"},
                                      .registered_model_version_id = "v",
                                      .auto_deployment_config = auto_deploy,
                                      .auto_deploy_model = true,
                                      .model_root_dir = "d",
                                      .build_script_path = "b",
                                      .accelerator_label_id = 1,
                                      .resource_group_id = 2,
                                      .resource_profile_id = 3})},
      {"CreateModelDeploymentRequest",
       Encode(CreateModelDeploymentRequest{.project_id = "p",
                                           .model_id = "m",
                                           .build_id = "b",
                                           .cpu = 1.5,
                                           .memory = 2,
                                           .nvidia_gpus = 1,
                                           .environment = {{"A", "b"}},
                                           .replicas = 3,
                                           .accelerator_label_id = 4,
                                           .resource_group_id = 5,
                                           .resource_profile_id = 6,
                                           .deployment_secrets = {{"S", "t"}}})},
      {"ValidateAPIKeyRequest", Encode(ValidateApiKeyRequest{})},
  };
  for (const auto& [definition, body] : bodies) {
    for (const std::string& error : validator->ValidateDefinition(body, definition)) {
      ADD_FAILURE() << error;
    }
  }
  // The validator itself catches what it should.
  EXPECT_FALSE(validator
                   ->ValidateDefinition(json{{"nvidia_gpu", 1}, {"cpu", "2"}},
                                        "CreateModelDeploymentRequest")
                   .empty());
  EXPECT_FALSE(
      validator->ValidateRequest("POST", "/api/v2/projects/p/models/m/builds?x=1", "{}").empty());
  EXPECT_TRUE(
      validator
          ->ValidateRequest("POST", "/api/v2/projects/p/models/m/builds/b/deployments/d:stop", "")
          .empty());
}

}  // namespace
}  // namespace cmlr::api
