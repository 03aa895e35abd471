#include "emulator/quirks.h"

#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "emulator/wire.h"
#include "tests/emulator/emulator_test_base.h"

namespace cmlr::emulator::testing {
namespace {

namespace http = boost::beast::http;
using common::StatusCode;
using nlohmann::json;

constexpr char kAllQuirks[] =
    "list-lag=5s,forbidden-for-missing,sparse-lists,patch-replaces,nan-metrics,zero-times,"
    "lenient,gateway-v1-codes,registration=1m,succeeded-phase";
constexpr char kFreeRun[] = "8f2c1e0b7d9a4c6e9f3b2a1d0c8e7f6a";

std::string ModelsPath() { return fmt::format("/api/v2/projects/{}/models", kProject); }
std::string RegistryPath(const std::string& id) { return "/api/v2/registry/models/" + id; }

// The one schema departure on purpose: nan-metrics writes metric values as strings.
bool IsNanMetricViolation(const std::string& violation) {
  return violation.find(".metrics[") != std::string::npos &&
         violation.find("value: expected a number") != std::string::npos;
}

// Verifies that every quirk parses, prints back canonically, and round-trips.
TEST(QuirksParseTest, ParsesAndFormatsEveryQuirk) {
  const auto all = ParseQuirks(std::string(" ") + kAllQuirks + " ");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->list_lag, std::chrono::seconds(5));
  EXPECT_EQ(all->registration, std::chrono::minutes(1));
  EXPECT_TRUE(all->forbidden_for_missing && all->sparse_lists && all->patch_replaces &&
              all->nan_metrics && all->zero_times && all->lenient && all->gateway_v1_codes &&
              all->succeeded_phase);
  EXPECT_EQ(FormatQuirks(*all), kAllQuirks);
  EXPECT_EQ(*ParseQuirks(FormatQuirks(*all)), *all);
  EXPECT_EQ(*ParseQuirks(""), Quirks{});
  EXPECT_EQ(FormatQuirks(Quirks{}), "");
  EXPECT_EQ(QuirksToJson(*ParseQuirks("sparse-lists,list-lag=1500ms")),
            json({{"quirks", "list-lag=1.5s,sparse-lists"},
                  {"active", {{"list-lag", "1.5s"}, {"sparse-lists", true}}}}));
}

// Verifies that a bad item is refused with a message naming that quirk.
TEST(QuirksParseTest, NamesTheBadQuirk) {
  for (const auto& [list, name] :
       std::vector<std::pair<std::string, std::string>>{{"sparse-lists,bogus", "bogus"},
                                                        {"sparse-lists=1", "sparse-lists"},
                                                        {"list-lag", "list-lag"},
                                                        {"lenient,list-lag=soon", "list-lag"},
                                                        {"registration=-5s", "registration"}}) {
    const auto parsed = ParseQuirks(list);
    ASSERT_FALSE(parsed.ok()) << list;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("\"" + name + "\""), std::string::npos)
        << parsed.status();
  }
}

// Verifies that PUT bodies may give the set as a string, a list or an object, and that other
// shapes are refused.
TEST(QuirksParseTest, ParsesTheAdminBodyForms) {
  const Quirks expected = *ParseQuirks("sparse-lists,list-lag=5s");
  EXPECT_EQ(*ParseQuirksJson(json{{"quirks", "sparse-lists,list-lag=5s"}}), expected);
  EXPECT_EQ(*ParseQuirksJson(json{{"quirks", {"list-lag=5s", "sparse-lists"}}}), expected);
  EXPECT_EQ(*ParseQuirksJson(
                json{{"quirks", {{"sparse-lists", true}, {"list-lag", "5s"}, {"lenient", false}}}}),
            expected);
  for (const json& bad :
       {json{{"quirk", "lenient"}}, json{{"quirks", 5}}, json{{"quirks", {{"sparse-lists", 3}}}},
        json{{"quirks", {{"bogus", true}}}}, json{{"quirks", {1}}}}) {
    EXPECT_FALSE(ParseQuirksJson(bad).ok()) << bad.dump();
  }
}

// Verifies grpc-gateway v1's status mapping beside the default (v2) one.
TEST(QuirksParseTest, MapsCodesLikeGatewayV1) {
  EXPECT_EQ(HttpStatusForCode(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kResourceExhausted, true), 403);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kFailedPrecondition, true), 412);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kDeadlineExceeded, true), 408);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kCancelled), 499);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kCancelled, true), 408);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kNotFound, true), 404);
  EXPECT_EQ(HttpStatusForCode(StatusCode::kUnavailable, true), 503);
}

class QuirksTest : public EmulatorTest {
 protected:
  void SetQuirks(const std::string& list) {
    const auto reply = Call(http::verb::put, "/_emulator/quirks", json{{"quirks", list}});
    ASSERT_EQ(reply.status, 200) << reply.body.dump();
  }
  Reply RegisterFreeRun(const std::string& model_name) {
    return Call(http::verb::post, "/api/v2/registry/models",
                json{{"project_id", kProject},
                     {"experiment_id", "3bmr-ju29-om6c-5aeo"},
                     {"run_id", kFreeRun},
                     {"model_path", "artifacts"},
                     {"model_name", model_name}});
  }
  std::set<std::string> ListedIds(const std::string& target, const std::string& field,
                                  const std::string& id_key = "id") {
    const auto reply = Call(http::verb::get, target);
    EXPECT_EQ(reply.status, 200) << reply.body.dump();
    std::set<std::string> ids;
    for (const auto& item : reply.body.value(field, json::array())) ids.insert(item[id_key]);
    return ids;
  }
};

// Verifies that the admin API shows, replaces and refuses quirk sets, that the state dump names
// them, and that a reset restores the start-up set.
TEST_F(QuirksTest, AdminApiManagesQuirks) {
  EXPECT_EQ(Call(http::verb::get, "/_emulator/quirks").body,
            json({{"quirks", ""}, {"active", json::object()}}));
  SetQuirks("zero-times,list-lag=2s");
  EXPECT_EQ(Call(http::verb::get, "/_emulator/quirks").body["quirks"], "list-lag=2s,zero-times");
  const auto bad = Call(http::verb::put, "/_emulator/quirks", json{{"quirks", "zero-times,nope"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["message"].get<std::string>().find("\"nope\""), std::string::npos);
  const json state = Call(http::verb::get, "/_emulator/state").body;
  EXPECT_EQ(state["quirks"]["quirks"], "list-lag=2s,zero-times");
  EXPECT_EQ(state["history_limit"], 0);
  ASSERT_EQ(Call(http::verb::post, "/_emulator/reset").status, 200);
  EXPECT_EQ(Call(http::verb::get, "/_emulator/quirks").body["quirks"], "");
}

// Verifies list-lag: new models, builds, deployments, registered models and versions are missing
// from lists until the lag has passed, while gets by id and fixture objects show at once.
TEST_F(QuirksTest, ListLagHidesNewObjectsFromLists) {
  SetQuirks("list-lag=5s");
  const std::string model = CreateModel("lagged");
  const std::string build = CreateBuild(model);
  clock_.Advance(std::chrono::seconds(3));
  const std::string deployment = CreateDeployment(model, build);
  const auto registered = RegisterFreeRun("FraudCLF-lagged");
  ASSERT_EQ(registered.status, 200);
  const std::string registry_id = registered.body["model_id"];
  const std::string version = registered.body["model_versions"][0]["model_version_id"];
  const std::string deployments = BuildPath(model, build) + "/deployments";

  EXPECT_EQ(ListedIds(ModelsPath(), "models"), std::set<std::string>{});
  EXPECT_EQ(ListedIds("/api/v2/models", "models"), std::set<std::string>{});
  EXPECT_EQ(ListedIds(ModelPath(model) + "/builds", "model_builds"), std::set<std::string>{});
  EXPECT_EQ(ListedIds(deployments, "model_deployments"), std::set<std::string>{});
  const auto registry = ListedIds("/api/v2/registry/models", "models", "model_id");
  EXPECT_TRUE(registry.contains(kRegisteredModel));
  EXPECT_FALSE(registry.contains(registry_id));
  EXPECT_FALSE(Call(http::verb::get, RegistryPath(registry_id)).body.contains("model_versions"));
  EXPECT_EQ(Call(http::verb::get, ModelPath(model)).status, 200);
  EXPECT_EQ(GetBuild(model, build)["id"], build);
  EXPECT_EQ(GetDeployment(model, build, deployment)["id"], deployment);
  EXPECT_EQ(Call(http::verb::get, RegistryPath(registry_id) + "/versions/" + version).status, 200);

  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(ListedIds(ModelsPath(), "models"), std::set<std::string>{model});
  EXPECT_EQ(ListedIds("/api/v2/models", "models"), std::set<std::string>{model});
  EXPECT_EQ(ListedIds(ModelPath(model) + "/builds", "model_builds"), std::set<std::string>{build});
  EXPECT_EQ(ListedIds(deployments, "model_deployments"), std::set<std::string>{deployment});
  EXPECT_TRUE(ListedIds("/api/v2/registry/models", "models", "model_id").contains(registry_id));
  EXPECT_EQ(ListedIds(RegistryPath(registry_id), "model_versions", "model_version_id"),
            std::set<std::string>{version});
}

// Verifies forbidden-for-missing: gets, :stop and :restart of missing ids or ids under the wrong
// parent answer 403 PERMISSION_DENIED; lists of a missing parent stay 404.
TEST_F(QuirksTest, ForbiddenForMissingAnswers403) {
  SetQuirks("forbidden-for-missing");
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  const std::string deployments = BuildPath(model, build) + "/deployments/";
  for (const std::string& target :
       {ModelPath("nope"), BuildPath(model, "nope"), BuildPath(CreateModel("other"), build),
        deployments + "nope", RegistryPath("nope"),
        RegistryPath(kRegisteredModel) + "/versions/nope",
        fmt::format("/api/v2/projects/nope/models/{}", model)}) {
    const auto reply = Call(http::verb::get, target);
    EXPECT_EQ(reply.status, 403) << target;
    EXPECT_EQ(reply.body["code"], 7) << target;
  }
  EXPECT_EQ(Call(http::verb::post, deployments + "nope:stop").status, 403);
  EXPECT_EQ(Call(http::verb::post, deployments + "nope:restart").status, 403);
  EXPECT_EQ(Call(http::verb::get, ModelPath("nope") + "/builds").status, 404);
  EXPECT_EQ(Call(http::verb::get, BuildPath(model, build)).status, 200);
}

// Verifies sparse-lists: list items lack the build's version and runtime and the versions'
// MLflow metadata, while gets by id stay complete.
TEST_F(QuirksTest, SparseListsDropFieldsFromListItems) {
  SetQuirks("sparse-lists");
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  const auto list = Call(http::verb::get, ModelPath(model) + "/builds");
  ASSERT_EQ(list.body["model_builds"].size(), 1u);
  const json& item = list.body["model_builds"][0];
  EXPECT_EQ(item["id"], build);
  EXPECT_FALSE(item.contains("registered_model_version_id"));
  EXPECT_FALSE(item.contains("runtime_identifier"));
  const json got = GetBuild(model, build);
  EXPECT_EQ(got["registered_model_version_id"], kVersion3);
  EXPECT_EQ(got["runtime_identifier"], kRuntime);
  const auto registry = Call(http::verb::get, RegistryPath(kRegisteredModel));
  ASSERT_FALSE(registry.body["model_versions"].empty());
  for (const auto& v : registry.body["model_versions"]) {
    EXPECT_TRUE(v.contains("model_version_id"));
    EXPECT_EQ(v["model_version_metadata"]["mlops_type"], "MLFLOW");
    EXPECT_FALSE(v["model_version_metadata"].contains("mlflow_metadata"));
  }
  const auto version =
      Call(http::verb::get, RegistryPath(kRegisteredModel) + "/versions/" + kVersion3);
  EXPECT_EQ(version.body["model_version_metadata"]["mlflow_metadata"]["run_id"],
            "3c4d5e6f7a8b49c0d1e2f3a4b5c6d7e8");
}

// Verifies patch-replaces: the fields a PATCH does not send are cleared.
TEST_F(QuirksTest, PatchReplacesClearsUnsentFields) {
  SetQuirks("patch-replaces");
  const std::string model = CreateModel("m");
  const auto patched = Call(http::verb::patch, ModelPath(model), json{{"description", "new"}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["description"], "new");
  EXPECT_FALSE(patched.body.contains("name"));
  EXPECT_FALSE(patched.body.contains("visibility"));
  const auto again =
      Call(http::verb::patch, ModelPath(model),
           json{{"name", "back"}, {"default_resources", {{"cpu_millicores", "500"}}}});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["name"], "back");
  EXPECT_FALSE(again.body.contains("description"));
  EXPECT_EQ(again.body["default_resources"]["cpu_millicores"], "500");
  EXPECT_EQ(Call(http::verb::get, ModelPath(model)).body["name"], "back");
}

// Verifies nan-metrics: versions carry metrics whose values are "NaN", "Infinity", "-Infinity".
TEST_F(QuirksTest, NanMetricsAreStrings) {
  tolerated_violation_ = IsNanMetricViolation;
  SetQuirks("nan-metrics");
  const auto version =
      Call(http::verb::get, RegistryPath(kRegisteredModel) + "/versions/" + kVersion3);
  std::map<std::string, json> values;
  for (const auto& m : version.body["model_version_metadata"]["mlflow_metadata"]["metrics"]) {
    values[m["key"]] = m["value"];
  }
  EXPECT_EQ(values["accuracy"], 0.962);
  EXPECT_EQ(values["val_loss"], "NaN");
  EXPECT_EQ(values["lift_max"], "Infinity");
  EXPECT_EQ(values["lift_min"], "-Infinity");
}

// Verifies zero-times: unset timestamps read 0001-01-01T00:00:00Z until they are set.
TEST_F(QuirksTest, ZeroTimesForUnsetTimestamps) {
  SetQuirks("zero-times");
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  EXPECT_EQ(GetBuild(model, build)["built_at"], kZeroTime);
  const std::string deployment = CreateDeployment(model, build);
  EXPECT_EQ(GetDeployment(model, build, deployment)["stopped_at"], kZeroTime);
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(GetBuild(model, build)["built_at"], "2026-01-01T00:00:03.000Z");
  const auto list = Call(http::verb::get, ModelPath(model) + "/builds");
  EXPECT_EQ(list.body["model_builds"][0]["built_at"], "2026-01-01T00:00:03.000Z");
}

// Verifies lenient: unknown request fields are ignored although --strict is on; wrong types are
// still refused.
TEST_F(QuirksTest, LenientIgnoresUnknownFields) {
  const std::string model = CreateModel("m");
  const json body{{"registered_model_version_id", kVersion3},
                  {"runtime_identifier", kRuntime},
                  {"cpu", 2},
                  {"mem", 4}};
  EXPECT_EQ(Call(http::verb::post, ModelPath(model) + "/builds", body).status, 400);
  SetQuirks("lenient");
  EXPECT_EQ(Call(http::verb::post, ModelPath(model) + "/builds", body).status, 200);
  EXPECT_EQ(Call(http::verb::post, ModelsPath(), json{{"name", 5}}).status, 400);
}

// Verifies gateway-v1-codes: the throttle fault answers 403 with Retry-After and gRPC code 8.
TEST_F(QuirksTest, GatewayV1CodesForThrottling) {
  SetQuirks("gateway-v1-codes");
  ASSERT_EQ(Call(http::verb::put, "/_emulator/faults",
                 json{{"throttle_rate", 1.0}, {"retry_after_seconds", 3}})
                .status,
            200);
  const auto reply = Call(http::verb::get, "/api/v2/runtimes");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.body["code"], 8);
  EXPECT_EQ(reply.raw[http::field::retry_after], "3");
  ASSERT_EQ(Call(http::verb::put, "/_emulator/faults", json{{"throttle_rate", 0}}).status, 200);
  EXPECT_EQ(Call(http::verb::get, ModelPath("nope")).status, 404);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/runtimes", std::nullopt, "").status, 401);
}

// Verifies registration: a version registered through the API is PENDING_REGISTRATION, a build
// of it then fails, and after the delay it is READY and builds; fixture versions build at once.
TEST_F(QuirksTest, RegistrationTakesTime) {
  SetQuirks("registration=10s");
  const auto registered = RegisterFreeRun("FraudCLF-alice");
  ASSERT_EQ(registered.status, 200) << registered.body.dump();
  const json& version = registered.body["model_versions"][0];
  EXPECT_EQ(version["status"], "PENDING_REGISTRATION");
  const std::string version_id = version["model_version_id"];
  const std::string version_path = RegistryPath(kRegisteredModel) + "/versions/" + version_id;
  const std::string model = CreateModel("m");
  const std::string early = CreateBuild(model, version_id);
  const std::string fixture = CreateBuild(model, kVersion3);
  clock_.Advance(std::chrono::seconds(3));
  EXPECT_EQ(GetBuild(model, early)["status"], "build failed");
  EXPECT_EQ(GetBuild(model, fixture)["status"], "built");
  EXPECT_EQ(Call(http::verb::get, version_path).body["status"], "PENDING_REGISTRATION");
  clock_.Advance(std::chrono::seconds(7));
  EXPECT_EQ(Call(http::verb::get, version_path).body["status"], "READY");
  const std::string late = CreateBuild(model, version_id);
  clock_.Advance(std::chrono::seconds(3));
  EXPECT_EQ(GetBuild(model, late)["status"], "built");
}

// Verifies succeeded-phase: builds pass through "succeeded" in quarters of the build time, a
// deployment created before its build is built fails, later ones and auto-deploys deploy.
TEST_F(QuirksTest, SucceededPhaseAndEarlyDeploymentsFail) {
  SetQuirks("succeeded-phase");
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  const std::string early = CreateDeployment(model, build);
  std::vector<std::string> statuses = {GetBuild(model, build)["status"]};
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(std::chrono::milliseconds(750));
    statuses.push_back(GetBuild(model, build)["status"]);
  }
  EXPECT_EQ(statuses,
            (std::vector<std::string>{"queued", "pending", "succeeded", "pushing", "built"}));
  EXPECT_EQ(GetDeployment(model, build, early)["status"], "failed");
  const std::string late = CreateDeployment(model, build);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(GetDeployment(model, build, late)["status"], "deployed");

  const auto auto_deployed = Call(http::verb::post, ModelPath(model) + "/builds",
                                  json{{"registered_model_version_id", kVersion3},
                                       {"runtime_identifier", kRuntime},
                                       {"auto_deploy_model", true}});
  ASSERT_EQ(auto_deployed.status, 200);
  const std::string second = auto_deployed.body["id"];
  clock_.Advance(std::chrono::seconds(5));
  const auto list = Call(http::verb::get, BuildPath(model, second) + "/deployments");
  ASSERT_EQ(list.body["model_deployments"].size(), 1u);
  EXPECT_EQ(list.body["model_deployments"][0]["status"], "deployed");
}

// Verifies that all quirks together still let the walkthrough reach a deployed model.
TEST_F(QuirksTest, AllQuirksTogether) {
  tolerated_violation_ = IsNanMetricViolation;
  Stop();
  EmulatorOptions options = DefaultOptions();
  options.quirks = *ParseQuirks(kAllQuirks);
  Start(options);
  EXPECT_EQ(Call(http::verb::get, "/_emulator/quirks").body["quirks"], kAllQuirks);
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  clock_.Advance(std::chrono::seconds(3));
  EXPECT_EQ(GetBuild(model, build)["status"], "built");
  const std::string deployment = CreateDeployment(model, build);
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(GetDeployment(model, build, deployment)["status"], "deployed");
  EXPECT_EQ(ListedIds(ModelsPath(), "models"), std::set<std::string>{model});
  EXPECT_EQ(Call(http::verb::get, ModelPath("nope")).status, 403);
}

// Runs a whole walkthrough under one quirk set and checks every answer against the swagger
// excerpt; the only tolerated departure is nan-metrics' string metric values.
class QuirkConformanceTest : public QuirksTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(QuirkConformanceTest, ResponsesConform) {
  if (validator() == nullptr) GTEST_SKIP() << "swagger excerpt not found";
  const std::string quirks = GetParam();
  if (quirks.find("nan-metrics") != std::string::npos) tolerated_violation_ = IsNanMetricViolation;
  SetQuirks(quirks);
  Call(http::verb::post, "/api/v2/auth/validate_key", json{{"audience", "API"}});
  Call(http::verb::get, "/api/v2/runtimes?page_size=2");
  RegisterFreeRun("FraudCLF-alice");
  const std::string model = CreateModel("FraudCLF-endpoint");
  Call(http::verb::patch, ModelPath(model),
       json{{"description", "d"},
            {"default_resources", {{"cpu_millicores", "1000"}, {"memory_mb", "2048"}}},
            {"default_replication_policy", {{"num_replicas", "2"}, {"type", "fixed"}}}});
  const std::string build = CreateBuild(model);
  clock_.Advance(std::chrono::minutes(2));  // past every lag and registration delay
  const std::string deployment =
      CreateDeployment(model, build, json{{"environment", {{"A", "b"}}}});
  clock_.Advance(std::chrono::seconds(2));
  for (const std::string& target :
       {std::string("/api/v2/registry/models"), RegistryPath(kRegisteredModel),
        RegistryPath(kRegisteredModel) + "/versions/" + kVersion3, ModelPath(model), ModelsPath(),
        std::string("/api/v2/models"), ModelPath(model) + "/builds", BuildPath(model, build),
        BuildPath(model, build) + "/deployments"}) {
    EXPECT_EQ(Call(http::verb::get, target).status, 200) << target;
  }
  const std::string path = BuildPath(model, build) + "/deployments/" + deployment;
  Call(http::verb::post, path + ":stop");
  Call(http::verb::post, path + ":restart");
  Call(http::verb::get, ModelPath("missing"));
  Call(http::verb::post, ModelsPath(), json{{"cpu", "x"}});
  Call(http::verb::delete_, BuildPath(model, build));
  Call(http::verb::delete_, ModelPath(model));
  EXPECT_GE(conformance_checks_, 20);
}

INSTANTIATE_TEST_SUITE_P(EachQuirkAndAll, QuirkConformanceTest,
                         ::testing::Values("list-lag=5s", "forbidden-for-missing", "sparse-lists",
                                           "patch-replaces", "nan-metrics", "zero-times", "lenient",
                                           "gateway-v1-codes", "registration=1m", "succeeded-phase",
                                           kAllQuirks));

}  // namespace
}  // namespace cmlr::emulator::testing
