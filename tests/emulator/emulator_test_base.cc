#include "tests/emulator/emulator_test_base.h"

#include <fmt/format.h>

namespace cmlr::emulator::testing {

namespace http = boost::beast::http;
using nlohmann::json;

std::string SwaggerExcerptPath() {
  return CMLR_SOURCE_DIR "/../shared/cml-apiv2-swagger-excerpt.json";
}

EmulatorOptions EmulatorTest::DefaultOptions() {
  EmulatorOptions options;
  options.api_keys = {kKey};
  options.strict = true;
  options.seed = 42;
  options.timings = {.build = std::chrono::seconds(3), .deploy = std::chrono::seconds(2)};
  return options;
}

void EmulatorTest::Start(EmulatorOptions options, common::HttpServerOptions server_options) {
  io_.restart();
  auto validator = SwaggerValidator::Load(SwaggerExcerptPath());
  if (validator.ok()) validator_ = std::move(*validator);
  auto emulator = Emulator::Create(std::move(options), clock_);
  ASSERT_TRUE(emulator.ok()) << emulator.status();
  emulator_ = std::move(*emulator);
  Emulator* target = emulator_.get();
  auto server = common::HttpServer::Create(
      io_.get_executor(), std::move(server_options),
      [target](common::HttpRequest request) { return target->Handle(std::move(request)); },
      &Emulator::ErrorResponse);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  server_->Start();
  client_ = std::make_unique<TestClient>(io_, server_->port());
}

void EmulatorTest::Stop() {
  client_.reset();
  if (server_) server_->Stop();
  for (int i = 0; i < 200 && server_ && server_->connections() > 0; ++i) {
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  io_.poll();
  server_.reset();
  emulator_.reset();
}

common::StatusOr<common::HttpResponse> EmulatorTest::SendRaw(common::HttpRequest request) {
  return client_->Send(std::move(request));
}

EmulatorTest::Reply EmulatorTest::CallRaw(http::verb method, const std::string& target,
                                          std::string body, const std::string& key) {
  common::HttpRequest request{method, target, 11};
  if (!key.empty()) request.set(http::field::authorization, "Bearer " + key);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
  }
  auto response = SendRaw(std::move(request));
  Reply reply;
  if (!response.ok()) {
    ADD_FAILURE() << method << " " << target << ": " << response.status();
    return reply;
  }
  reply.status = response->result_int();
  reply.raw = *response;
  reply.body = json::parse(response->body(), nullptr, false);
  EXPECT_FALSE(reply.body.is_discarded())
      << method << " " << target << " answered non-JSON: " << response->body();
  CheckConformance(method, target, reply);
  return reply;
}

EmulatorTest::Reply EmulatorTest::Call(http::verb method, const std::string& target,
                                       const std::optional<json>& body, const std::string& key) {
  return CallRaw(method, target, body ? body->dump() : std::string(), key);
}

void EmulatorTest::CheckConformance(http::verb method, const std::string& target,
                                    const Reply& reply) {
  if (!validator_ || !target.starts_with("/api/v2/")) return;
  const std::string path = target.substr(0, target.find('?'));
  auto errors = validator_->ValidateResponse(std::string(http::to_string(method)), path,
                                             reply.status, reply.body);
  if (tolerated_violation_) std::erase_if(errors, tolerated_violation_);
  ++conformance_checks_;
  EXPECT_TRUE(errors.empty()) << method << " " << target << " -> " << reply.status << " "
                              << reply.body.dump() << "\n"
                              << fmt::format("{}", fmt::join(errors, "\n"));
}

std::string EmulatorTest::ModelPath(const std::string& model_id) {
  return fmt::format("/api/v2/projects/{}/models/{}", kProject, model_id);
}

std::string EmulatorTest::BuildPath(const std::string& model_id, const std::string& build_id) {
  return fmt::format("{}/builds/{}", ModelPath(model_id), build_id);
}

std::string EmulatorTest::CreateModel(const std::string& name, bool disable_authentication) {
  json body{{"project_id", kProject},
            {"name", name},
            {"description", "Fraud Detection 2024"},
            {"registered_model_id", kRegisteredModel}};
  if (disable_authentication) body["disable_authentication"] = true;
  const Reply reply =
      Call(http::verb::post, fmt::format("/api/v2/projects/{}/models", kProject), body);
  EXPECT_EQ(reply.status, 200) << reply.body.dump();
  return reply.body.value("id", "");
}

std::string EmulatorTest::CreateBuild(const std::string& model_id, const std::string& version) {
  const Reply reply = Call(http::verb::post, ModelPath(model_id) + "/builds",
                           json{{"registered_model_version_id", version},
                                {"runtime_identifier", kRuntime},
                                {"comment", "invoking model build"},
                                {"model_id", model_id}});
  EXPECT_EQ(reply.status, 200) << reply.body.dump();
  return reply.body.value("id", "");
}

std::string EmulatorTest::CreateDeployment(const std::string& model_id, const std::string& build_id,
                                           json body) {
  if (body.empty()) body = json{{"cpu", 2}, {"memory", 4}, {"replicas", 1}};
  const Reply reply = Call(http::verb::post, BuildPath(model_id, build_id) + "/deployments", body);
  EXPECT_EQ(reply.status, 200) << reply.body.dump();
  return reply.body.value("id", "");
}

json EmulatorTest::GetBuild(const std::string& model_id, const std::string& build_id) {
  const Reply reply = Call(http::verb::get, BuildPath(model_id, build_id));
  EXPECT_EQ(reply.status, 200) << reply.body.dump();
  return reply.body;
}

json EmulatorTest::GetDeployment(const std::string& model_id, const std::string& build_id,
                                 const std::string& deployment_id) {
  const Reply reply =
      Call(http::verb::get, BuildPath(model_id, build_id) + "/deployments/" + deployment_id);
  EXPECT_EQ(reply.status, 200) << reply.body.dump();
  return reply.body;
}

}  // namespace cmlr::emulator::testing
