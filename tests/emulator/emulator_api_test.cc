#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/emulator/emulator_test_base.h"

namespace cmlr::emulator::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

std::string Encode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string ModelsPath() { return fmt::format("/api/v2/projects/{}/models", kProject); }

using EmulatorApiTest = EmulatorTest;

// Verifies that validate_key answers the key's user, and 403 for the Application audience.
TEST_F(EmulatorApiTest, ValidatesApiKey) {
  auto ok = Call(http::verb::post, "/api/v2/auth/validate_key", json{{"audience", "API"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body["valid"], true);
  EXPECT_EQ(ok.body["username"], "alice");
  const auto denied =
      Call(http::verb::post, "/api/v2/auth/validate_key", json{{"audience", "Application"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body["code"], 7);
}

// Verifies that a missing or wrong key is 401 UNAUTHENTICATED in the runtimeError shape.
TEST_F(EmulatorApiTest, RejectsMissingOrWrongKey) {
  for (const std::string key : {"", "wrong-key"}) {
    auto reply = Call(http::verb::get, "/api/v2/runtimes", std::nullopt, key);
    EXPECT_EQ(reply.status, 401);
    EXPECT_EQ(reply.body["code"], 16);
    EXPECT_TRUE(reply.body.contains("error"));
    EXPECT_TRUE(reply.body.contains("message"));
    EXPECT_TRUE(reply.body["details"].is_array());
  }
}

// Verifies that unknown paths are 404, wrong methods 405, unknown ids 404, malformed JSON 400.
TEST_F(EmulatorApiTest, AnswersBadRequestsWithTheErrorShape) {
  EXPECT_EQ(Call(http::verb::get, "/api/v2/nothing").body["code"], 5);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/nothing").status, 404);
  EXPECT_EQ(Call(http::verb::put, "/api/v2/runtimes").status, 405);
  EXPECT_EQ(Call(http::verb::get, ModelPath("no-such-model")).status, 404);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/projects/nope/models").status, 404);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/registry/models/nope").status, 404);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/projects/%FF%FE/models").status, 404);
  const std::string model = CreateModel("m");
  EXPECT_EQ(Call(http::verb::get, BuildPath(model, "nope")).status, 404);
  auto malformed = CallRaw(http::verb::post, ModelsPath(), "{\"name\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.body["code"], 3);
  auto not_object = CallRaw(http::verb::post, ModelsPath(), "[1,2]");
  EXPECT_EQ(not_object.status, 400);
}

// Verifies that a body over 1 MiB is refused with the error shape and the connection survives.
TEST_F(EmulatorApiTest, RefusesOversizedBody) {
  const auto reply =
      CallRaw(http::verb::post, ModelsPath(), "{\"name\":\"" + std::string(1100000, 'x') + "\"}");
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.body["code"], 3);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/runtimes").status, 200);
}

// Verifies that runtimes page with page_size and next_page_token, absent on the last page.
TEST_F(EmulatorApiTest, PagesRuntimes) {
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto reply = Call(http::verb::get, "/api/v2/runtimes?page_size=2" +
                                           (token.empty() ? "" : "&page_token=" + token));
    ASSERT_EQ(reply.status, 200) << reply.body.dump();
    for (const auto& r : reply.body["runtimes"]) seen.insert(r["image_identifier"]);
    token = reply.body.value("next_page_token", "");
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 5u);
}

// Verifies that the default page size is 10 and the second page holds the rest.
TEST_F(EmulatorApiTest, DefaultPageSizeIsTen) {
  for (int i = 0; i < 12; ++i) CreateModel(fmt::format("model-{:02}", i));
  auto first = Call(http::verb::get, ModelsPath());
  ASSERT_EQ(first.body["models"].size(), 10u);
  ASSERT_TRUE(first.body.contains("next_page_token"));
  auto second =
      Call(http::verb::get,
           ModelsPath() + "?page_token=" + first.body["next_page_token"].get<std::string>());
  EXPECT_EQ(second.body["models"].size(), 2u);
  EXPECT_FALSE(second.body.contains("next_page_token"));
  EXPECT_EQ(second.body["models"][1]["name"], "model-11");
}

// Verifies that a page token of another query, or a garbled one, is 400 INVALID_ARGUMENT.
TEST_F(EmulatorApiTest, RejectsPageTokenOfAnotherQuery) {
  for (int i = 0; i < 4; ++i) CreateModel(fmt::format("model-{}", i));
  auto first = Call(http::verb::get, ModelsPath() + "?page_size=2");
  const std::string token = first.body["next_page_token"];
  EXPECT_EQ(Call(http::verb::get, ModelsPath() + "?page_size=2&page_token=" + token).status, 200);
  auto other = Call(http::verb::get, ModelsPath() + "?page_size=3&page_token=" + token);
  EXPECT_EQ(other.status, 400);
  EXPECT_EQ(other.body["code"], 3);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/runtimes?page_size=2&page_token=" + token).status, 400);
  EXPECT_EQ(Call(http::verb::get, ModelsPath() + "?page_token=garbage").status, 400);
  EXPECT_EQ(Call(http::verb::get, ModelsPath() + "?page_size=-1").status, 400);
}

// Verifies that search_filter is a case-sensitive substring match on documented keys only.
TEST_F(EmulatorApiTest, FiltersBySubstring) {
  auto runtimes = [&](const std::string& filter) {
    return Call(http::verb::get, "/api/v2/runtimes?page_size=100&search_filter=" + Encode(filter));
  };
  EXPECT_EQ(runtimes(R"({"kernel":"Python 3.9"})").body["runtimes"].size(), 3u);
  EXPECT_EQ(runtimes(R"({"kernel":"Python 3.9","editor":"Workbench"})").body["runtimes"].size(),
            2u);
  EXPECT_FALSE(runtimes(R"({"kernel":"python"})").body.contains("runtimes"));
  EXPECT_EQ(runtimes(R"({"colour":"red"})").status, 400);
  EXPECT_EQ(runtimes(R"({"kernel":)").status, 400);
  CreateModel("FraudCLF-endpoint");
  CreateModel("FraudCLF-endpoint-2");
  CreateModel("other", true);
  auto models =
      Call(http::verb::get, ModelsPath() + "?search_filter=" + Encode(R"({"name":"FraudCLF"})"));
  EXPECT_EQ(models.body["models"].size(), 2u);
  const auto unauthenticated =
      Call(http::verb::get, ModelsPath() + "?search_filter=" + Encode(R"({"auth_enabled":"f"})"));
  ASSERT_EQ(unauthenticated.body["models"].size(), 1u);
  EXPECT_EQ(unauthenticated.body["models"][0]["name"], "other");
  auto registry = Call(http::verb::get, "/api/v2/registry/models?search_filter=" +
                                            Encode(R"({"model_name":"FraudCLF-a"})"));
  ASSERT_EQ(registry.body["models"].size(), 1u);
  EXPECT_EQ(registry.body["models"][0]["model_id"], kRegisteredModel);
}

// Verifies that sort orders by documented keys with +/- and rejects other keys.
TEST_F(EmulatorApiTest, SortsByDocumentedKeys) {
  const auto reply = Call(http::verb::get,
                          "/api/v2/runtimes?page_size=10&sort=" + Encode("-full_version,+kernel"));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["runtimes"][0]["full_version"], "2024.02.1-b4");
  EXPECT_EQ(reply.body["runtimes"][0]["kernel"], "Python 3.10");
  EXPECT_EQ(reply.body["runtimes"][4]["full_version"], "2022.04.1-b6");
  CreateModel("b");
  CreateModel("a");
  EXPECT_EQ(Call(http::verb::get, ModelsPath() + "?sort=name").body["models"][0]["name"], "a");
  EXPECT_EQ(Call(http::verb::get, ModelsPath() + "?sort=-name").body["models"][0]["name"], "b");
  EXPECT_EQ(Call(http::verb::get, ModelsPath() + "?sort=colour").status, 400);
}

// Verifies that the registry lists models, pages versions, gets a version, and answers 404s.
TEST_F(EmulatorApiTest, ReadsTheRegistry) {
  auto list = Call(http::verb::get, "/api/v2/registry/models");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["models"][0]["name"], "FraudCLF-alice");
  EXPECT_FALSE(list.body["models"][0].contains("model_versions"));
  const std::string path = fmt::format("/api/v2/registry/models/{}", kRegisteredModel);
  auto first = Call(http::verb::get, path + "?page_size=2");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.body["count"], 5);
  ASSERT_EQ(first.body["model_versions"].size(), 2u);
  EXPECT_EQ(first.body["model_versions"][0]["number"], 1);
  auto second =
      Call(http::verb::get,
           path + "?page_size=2&page_token=" + first.body["next_page_token"].get<std::string>());
  ASSERT_EQ(second.body["model_versions"].size(), 2u);
  const auto& v3 = second.body["model_versions"][0];
  EXPECT_EQ(v3["number"], 3);
  EXPECT_EQ(v3["model_version_metadata"]["mlflow_metadata"]["experiment_id"],
            "3bmr-ju29-om6c-5aeo");
  auto third =
      Call(http::verb::get,
           path + "?page_size=2&page_token=" + second.body["next_page_token"].get<std::string>());
  ASSERT_EQ(third.body["model_versions"].size(), 1u);
  EXPECT_FALSE(third.body.contains("next_page_token"));
  auto newest = Call(http::verb::get, path + "?sort=-versions&page_size=1");
  EXPECT_EQ(newest.body["model_versions"][0]["number"], 5);
  const auto by_number =
      Call(http::verb::get, path + "?search_filter=" + Encode(R"({"version_number":"2"})"));
  ASSERT_EQ(by_number.body["model_versions"].size(), 1u);
  auto version = Call(http::verb::get, path + "/versions/" + kVersion3);
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(version.body["model_version_id"], kVersion3);
  EXPECT_EQ(Call(http::verb::get, path + "/versions/nope").status, 404);
}

// Verifies that registering a run adds a version to an existing model or creates a model.
TEST_F(EmulatorApiTest, RegistersModelsFromRuns) {
  const json body{{"project_id", kProject},
                  {"experiment_id", "3bmr-ju29-om6c-5aeo"},
                  {"run_id", "8f2c1e0b7d9a4c6e9f3b2a1d0c8e7f6a"},
                  {"model_path", "artifacts"},
                  {"model_name", "FraudCLF-alice"}};
  auto added = Call(http::verb::post, "/api/v2/registry/models", body);
  ASSERT_EQ(added.status, 200) << added.body.dump();
  EXPECT_EQ(added.body["model_id"], kRegisteredModel);
  EXPECT_EQ(added.body["count"], 6);
  EXPECT_EQ(added.body["model_versions"][0]["number"], 6);
  json fresh = body;
  fresh["model_name"] = "FraudCLF-new";
  auto created = Call(http::verb::post, "/api/v2/registry/models", fresh);
  ASSERT_EQ(created.status, 200);
  EXPECT_NE(created.body["model_id"], kRegisteredModel);
  EXPECT_EQ(created.body["model_versions"][0]["number"], 1);
  json unknown = body;
  unknown["run_id"] = "00000000000000000000000000000000";
  EXPECT_EQ(Call(http::verb::post, "/api/v2/registry/models", unknown).status, 404);
  json nameless = body;
  nameless.erase("model_name");
  EXPECT_EQ(Call(http::verb::post, "/api/v2/registry/models", nameless).status, 400);
}

// Verifies that a model can be created, read, listed, updated (PATCH {model.id}) and deleted.
TEST_F(EmulatorApiTest, ManagesModels) {
  const std::string id = CreateModel("FraudCLF-endpoint");
  auto got = Call(http::verb::get, ModelPath(id));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["name"], "FraudCLF-endpoint");
  EXPECT_EQ(got.body["auth_enabled"], true);
  EXPECT_EQ(got.body["project"]["public_identifier"], kProject);
  EXPECT_EQ(got.body["creator"]["username"], "alice");
  EXPECT_EQ(got.body["access_key"].get<std::string>().size(), 32u);
  auto patched =
      Call(http::verb::patch, ModelPath(id),
           json{{"description", "new text"}, {"default_resources", {{"cpu_millicores", "500"}}}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["description"], "new text");
  EXPECT_EQ(patched.body["name"], "FraudCLF-endpoint");
  EXPECT_EQ(patched.body["default_resources"]["cpu_millicores"], "500");
  EXPECT_EQ(Call(http::verb::patch, ModelPath(id), json{{"id", "other"}}).status, 400);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/models").body["models"].size(), 1u);
  EXPECT_EQ(Call(http::verb::delete_, ModelPath(id)).status, 200);
  EXPECT_EQ(Call(http::verb::get, ModelPath(id)).status, 404);
  EXPECT_EQ(Call(http::verb::post, ModelsPath(), json{{"description", "no name"}}).status, 400);
}

// Verifies that the wire rules hold: zero values omitted, int64 as strings, environment as a JSON
// string, nvidia_gpus in the request and nvidia_gpu in the response.
TEST_F(EmulatorApiTest, FollowsTheWireRules) {
  const std::string model = CreateModel("no-auth", true);
  auto got = Call(http::verb::get, ModelPath(model));
  EXPECT_FALSE(got.body.contains("auth_enabled"));
  EXPECT_FALSE(got.body.contains("run_as"));
  EXPECT_FALSE(got.body.contains("default_resources"));
  const std::string build = CreateBuild(model);
  const auto deployment = Call(http::verb::post, BuildPath(model, build) + "/deployments",
                               json{{"cpu", "1.5"},
                                    {"memory", 4},
                                    {"nvidia_gpus", 1},
                                    {"replicas", 2},
                                    {"environment", {{"LOG_LEVEL", "info"}}}});
  ASSERT_EQ(deployment.status, 200) << deployment.body.dump();
  EXPECT_EQ(deployment.body["cpu"], 1.5);
  EXPECT_EQ(deployment.body["nvidia_gpu"], 1);
  EXPECT_FALSE(deployment.body.contains("nvidia_gpus"));
  ASSERT_TRUE(deployment.body["environment"].is_string());
  EXPECT_EQ(json::parse(deployment.body["environment"].get<std::string>()),
            json({{"LOG_LEVEL", "info"}}));
  EXPECT_FALSE(deployment.body.contains("stopped_at"));
  EXPECT_FALSE(deployment.body.contains("accelerator_label_id"));
}

// Verifies that strict mode names unknown fields and wrong types (a cpu in a build request).
TEST_F(EmulatorApiTest, StrictModeRejectsUnknownFieldsAndWrongTypes) {
  const std::string model = CreateModel("m");
  auto cpu = Call(http::verb::post, ModelPath(model) + "/builds",
                  json{{"registered_model_version_id", kVersion3},
                       {"runtime_identifier", kRuntime},
                       {"cpu", 2}});
  EXPECT_EQ(cpu.status, 400);
  EXPECT_EQ(cpu.body["code"], 3);
  EXPECT_NE(cpu.body["message"].get<std::string>().find("\"cpu\""), std::string::npos);
  const std::string build = CreateBuild(model);
  auto type =
      Call(http::verb::post, BuildPath(model, build) + "/deployments", json{{"replicas", "two"}});
  EXPECT_EQ(type.status, 400);
  EXPECT_NE(type.body["message"].get<std::string>().find("replicas"), std::string::npos);
  auto nested = Call(http::verb::post, BuildPath(model, build) + "/deployments",
                     json{{"environment", {{"A", 1}}}});
  EXPECT_EQ(nested.status, 400);
  auto mem = Call(http::verb::post, ModelPath(model) + "/builds",
                  json{{"registered_model_version_id", kVersion3},
                       {"runtime_identifier", kRuntime},
                       {"auto_deploy_model", true},
                       {"auto_deployment_config", {{"mem", 4}}}});
  EXPECT_EQ(mem.status, 400);
  EXPECT_NE(mem.body["message"].get<std::string>().find("auto_deployment_config.mem"),
            std::string::npos);
}

// Verifies that without --strict unknown fields are ignored but wrong types still fail.
TEST_F(EmulatorApiTest, LenientModeIgnoresUnknownFields) {
  Stop();
  EmulatorOptions options = DefaultOptions();
  options.strict = false;
  Start(options);
  const std::string model = CreateModel("m");
  auto build = Call(http::verb::post, ModelPath(model) + "/builds",
                    json{{"registered_model_version_id", kVersion3},
                         {"runtime_identifier", kRuntime},
                         {"cpu", 2},
                         {"mem", 4}});
  EXPECT_EQ(build.status, 200) << build.body.dump();
  EXPECT_EQ(Call(http::verb::post, ModelsPath(), json{{"name", 5}}).status, 400);
}

// Verifies that a build needs a known runtime and a known registered model version.
TEST_F(EmulatorApiTest, ValidatesBuildReferences) {
  const std::string model = CreateModel("m");
  EXPECT_EQ(Call(http::verb::post, ModelPath(model) + "/builds",
                 json{{"registered_model_version_id", kVersion3}, {"runtime_identifier", "x"}})
                .status,
            400);
  EXPECT_EQ(Call(http::verb::post, ModelPath(model) + "/builds",
                 json{{"registered_model_version_id", "nope"}, {"runtime_identifier", kRuntime}})
                .status,
            404);
  const std::string build = CreateBuild(model);
  auto list = Call(http::verb::get, ModelPath(model) + "/builds");
  ASSERT_EQ(list.body["model_builds"].size(), 1u);
  EXPECT_EQ(list.body["model_builds"][0]["id"], build);
  EXPECT_EQ(list.body["model_builds"][0]["status"], "queued");
  auto filtered =
      Call(http::verb::get,
           ModelPath(model) + "/builds?search_filter=" + Encode(R"({"status":"built"})"));
  EXPECT_FALSE(filtered.body.contains("model_builds"));
}

// Verifies that a build goes queued -> pending -> pushing -> built on the clock.
TEST_F(EmulatorApiTest, BuildAdvancesThroughItsStatuses) {
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  EXPECT_EQ(GetBuild(model, build)["status"], "queued");
  clock_.Advance(std::chrono::milliseconds(1100));
  EXPECT_EQ(GetBuild(model, build)["status"], "pending");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetBuild(model, build)["status"], "pushing");
  EXPECT_FALSE(GetBuild(model, build).contains("built_at"));
  clock_.Advance(std::chrono::seconds(1));
  const json built = GetBuild(model, build);
  EXPECT_EQ(built["status"], "built");
  EXPECT_TRUE(built.contains("built_at"));
}

// Verifies that builds of a version the fixture marks broken end in "build failed", and that a
// deployment of such a build fails.
TEST_F(EmulatorApiTest, BrokenVersionFailsToBuild) {
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model, kBrokenVersion);
  const std::string deployment = CreateDeployment(model, build);
  clock_.Advance(std::chrono::seconds(3));
  EXPECT_EQ(GetBuild(model, build)["status"], "build failed");
  EXPECT_EQ(GetDeployment(model, build, deployment)["status"], "failed");
}

// Verifies that a deployment goes pending -> deploying -> deployed (waiting for the build), and
// that a newer deployed deployment stops the model's older one.
TEST_F(EmulatorApiTest, DeploymentAdvancesAndReplacesTheOlderOne) {
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  const std::string first = CreateDeployment(model, build);
  EXPECT_EQ(GetDeployment(model, build, first)["status"], "pending");
  clock_.Advance(std::chrono::seconds(3));  // built
  EXPECT_EQ(GetDeployment(model, build, first)["status"], "pending");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetDeployment(model, build, first)["status"], "deploying");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetDeployment(model, build, first)["status"], "deployed");

  const std::string second =
      CreateDeployment(model, build, json{{"cpu", 4}, {"memory", 8}, {"replicas", 2}});
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetDeployment(model, build, second)["status"], "deploying");
  EXPECT_EQ(GetDeployment(model, build, first)["status"], "deployed");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetDeployment(model, build, second)["status"], "deployed");
  const json old = GetDeployment(model, build, first);
  EXPECT_EQ(old["status"], "stopped");
  EXPECT_TRUE(old.contains("stopped_at"));
}

// Verifies that :stop goes through stopping to stopped and :restart deploys again.
TEST_F(EmulatorApiTest, StopsAndRestartsDeployments) {
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  const std::string d = CreateDeployment(model, build);
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_EQ(GetDeployment(model, build, d)["status"], "deployed");
  const std::string path = BuildPath(model, build) + "/deployments/" + d;
  auto stop = Call(http::verb::post, path + ":stop", json::object());
  ASSERT_EQ(stop.status, 200) << stop.body.dump();
  EXPECT_EQ(stop.body["status"], "stopping");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetDeployment(model, build, d)["status"], "stopped");
  EXPECT_EQ(Call(http::verb::post, path + ":stop").body["status"], "stopped");
  auto restart = Call(http::verb::post, path + ":restart");
  EXPECT_EQ(restart.body["status"], "pending");
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(GetDeployment(model, build, d)["status"], "deployed");
  EXPECT_EQ(Call(http::verb::post, path + ":pause").status, 404);
  EXPECT_EQ(Call(http::verb::get, path + ":stop").status, 405);
  auto list = Call(http::verb::get, BuildPath(model, build) + "/deployments");
  EXPECT_EQ(list.body["model_deployments"].size(), 1u);
}

// Verifies that auto_build_model/auto_deploy_model on create_model build and deploy.
TEST_F(EmulatorApiTest, AutoBuildsAndDeploys) {
  auto reply =
      Call(http::verb::post, ModelsPath(),
           json{{"name", "auto"},
                {"auto_build_model", true},
                {"auto_build_config",
                 {{"registered_model_version_id", kVersion1}, {"runtime_identifier", kRuntime}}},
                {"auto_deploy_model", true},
                {"auto_deployment_config", {{"cpu", 1}, {"memory", 2}}}});
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  const std::string model = reply.body["id"];
  clock_.Advance(std::chrono::seconds(5));
  auto builds = Call(http::verb::get, ModelPath(model) + "/builds");
  ASSERT_EQ(builds.body["model_builds"].size(), 1u);
  const std::string build = builds.body["model_builds"][0]["id"];
  auto deployments = Call(http::verb::get, BuildPath(model, build) + "/deployments");
  ASSERT_EQ(deployments.body["model_deployments"].size(), 1u);
  EXPECT_EQ(deployments.body["model_deployments"][0]["status"], "deployed");
}

// Verifies that inference scores rows for a deployed model, 429 before, 404 for an unknown key, 401
// without an API key when the model requires authentication.
TEST_F(EmulatorApiTest, ServesInference) {
  const std::string model = CreateModel("m");
  const std::string access_key = Call(http::verb::get, ModelPath(model)).body["access_key"];
  const json input{
      {"request",
       {{"dataframe_split",
         {{"columns", {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"}},
          {"data",
           {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14},
            {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}}}}}};
  const std::string target = "/model?accessKey=" + access_key;
  EXPECT_EQ(Call(http::verb::post, target, input).status, 429);
  const std::string build = CreateBuild(model);
  CreateDeployment(model, build);
  clock_.Advance(std::chrono::seconds(5));
  auto scored = Call(http::verb::post, target, input);
  ASSERT_EQ(scored.status, 200) << scored.body.dump();
  const auto& predictions = scored.body["response"]["predictions"];
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_GT(predictions[0].get<double>(), 0.0);
  EXPECT_LT(predictions[0].get<double>(), 1.0);
  EXPECT_EQ(Call(http::verb::post, target, input).body, scored.body);
  EXPECT_EQ(Call(http::verb::post, target, input, "").status, 401);
  EXPECT_EQ(Call(http::verb::post, "/model?accessKey=unknown", input).status, 404);
  EXPECT_EQ(Call(http::verb::post, target, json{{"request", {{"x", 1}}}}).status, 400);
}

}  // namespace
}  // namespace cmlr::emulator::testing
