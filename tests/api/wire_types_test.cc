#include "api/wire_types.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "common/time_format.h"

namespace cmlr::api {
namespace {

using nlohmann::json;

json Parse(std::string_view text) { return *ParseJson(text); }

// Verifies that a deployment decodes the gateway's quirks: int64 and numbers as strings,
// nvidia_gpu, environment as a JSON-encoded string, unknown fields and absent fields.
TEST(WireTypesTest, DecodesDeploymentWithGatewayQuirks) {
  auto deployment = DecodeModelDeployment(Parse(R"({
    "id": "d1", "build_id": "b1", "cpu": "2", "memory": 4.5, "nvidia_gpu": 1,
    "replicas": "3", "accelerator_label_id": "9007199254740993",
    "environment": "{\"LOG_LEVEL\":\"info\",\"N\":\"1\"}",
    "status": "deployed", "created_at": "2025-07-24T22:37:55.876Z",
    "some_future_field": {"x": [1, 2]}, "deployer": null})"));
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_EQ(deployment->id, "d1");
  EXPECT_DOUBLE_EQ(deployment->cpu, 2.0);
  EXPECT_DOUBLE_EQ(deployment->memory, 4.5);
  EXPECT_EQ(deployment->nvidia_gpu, 1);
  EXPECT_EQ(deployment->replicas, 3);
  EXPECT_EQ(deployment->accelerator_label_id, 9007199254740993LL);
  EXPECT_EQ(deployment->environment, (StringMap{{"LOG_LEVEL", "info"}, {"N", "1"}}));
  EXPECT_EQ(deployment->status, "deployed");
  ASSERT_TRUE(deployment->created_at.has_value());
  EXPECT_EQ(common::FormatRfc3339(*deployment->created_at, true), "2025-07-24T22:37:55.876Z");
  EXPECT_EQ(deployment->project_id, "");
  EXPECT_FALSE(deployment->stopped_at.has_value());
}

// Verifies that an environment sent as an object, or as an empty string, is accepted too.
TEST(WireTypesTest, DecodesEnvironmentAsObjectOrEmptyString) {
  auto object = DecodeModelDeployment(Parse(R"({"environment": {"A": "b"}})"));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->environment, (StringMap{{"A", "b"}}));
  auto empty = DecodeModelDeployment(Parse(R"({"environment": ""})"));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->environment.empty());
}

// Verifies that an absent zero-valued field decodes to zero, and an empty object to defaults.
TEST(WireTypesTest, AbsentFieldsAreZero) {
  auto model = DecodeModel(Parse(R"({"id": "m1"})"));
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE(model->auth_enabled);
  EXPECT_EQ(model->default_resources.cpu_millicores, 0);
  EXPECT_EQ(model->run_as, 0);
  auto build = DecodeModelBuild(Parse("{}"));
  ASSERT_TRUE(build.ok());
  EXPECT_EQ(build->status, "");
}

// Verifies that a model decodes nested objects and int64 strings in default_resources.
TEST(WireTypesTest, DecodesModel) {
  auto model = DecodeModel(Parse(R"({
    "id": "m1", "name": "fraud", "auth_enabled": true, "crn": "crn:x",
    "project": {"public_identifier": "abcd-1234-efgh-5678", "name": "p"},
    "creator": {"username": "alice", "email": "a@example.com"},
    "default_resources": {"cpu_millicores": "2000", "memory_mb": "4096", "nvidia_gpus": "0"},
    "default_replication_policy": {"num_replicas": "2", "type": "fixed"},
    "registered_model_id": "f1tr-4tim-5zvf-kw5d", "run_as": 7})"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->auth_enabled);
  EXPECT_EQ(model->project.public_identifier, "abcd-1234-efgh-5678");
  EXPECT_EQ(model->creator.username, "alice");
  EXPECT_EQ(model->default_resources.cpu_millicores, 2000);
  EXPECT_EQ(model->default_resources.memory_mb, 4096);
  EXPECT_EQ(model->default_replication_policy.num_replicas, 2);
  EXPECT_EQ(model->default_replication_policy.type, "fixed");
  EXPECT_EQ(model->run_as, 7);
}

// Verifies that a registered model decodes its versions with MLflow metadata.
TEST(WireTypesTest, DecodesRegisteredModelWithVersions) {
  auto model = DecodeRegisteredModel(Parse(R"({
    "model_id": "f1tr", "name": "FraudCLF-alice", "count": 2, "visibility": "PRIVATE",
    "model_versions": [
      {"model_version_id": "85u3", "number": 1, "status": "REGISTERED",
       "model_version_metadata": {"mlops_type": "MLFLOW",
         "mlflow_metadata": {"experiment_id": "3bmr", "run_id": "8f2c",
           "metrics": [{"key": "auc", "value": 0.93, "step": "4",
                        "timestamp": "2025-01-02T03:04:05Z"}],
           "params": [{"key": "depth", "value": "5"}]}}},
      {"model_version_id": "85u4", "number": "2"}],
    "next_page_token": ""})"));
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(model->model_versions.size(), 2u);
  const auto& v1 = model->model_versions[0];
  EXPECT_EQ(v1.number, 1);
  EXPECT_EQ(v1.model_version_metadata.mlops_type, "MLFLOW");
  EXPECT_EQ(v1.model_version_metadata.mlflow_metadata.run_id, "8f2c");
  ASSERT_EQ(v1.model_version_metadata.mlflow_metadata.metrics.size(), 1u);
  EXPECT_EQ(v1.model_version_metadata.mlflow_metadata.metrics[0].step, 4);
  EXPECT_EQ(v1.model_version_metadata.mlflow_metadata.params[0].value, "5");
  EXPECT_EQ(model->model_versions[1].number, 2);
}

// Verifies that list pages decode their list key and next_page_token, and that a missing list
// is an empty page.
TEST(WireTypesTest, DecodesPages) {
  auto page = DecodeModelBuildPage(
      Parse(R"({"model_builds": [{"id": "b1", "status": "built"}], "next_page_token": "t2"})"));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].status, "built");
  EXPECT_EQ(page->next_page_token, "t2");
  auto empty = DecodeRuntimePage(Parse("{}"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->items.empty());
  EXPECT_EQ(empty->next_page_token, "");
}

// Verifies that wrongly typed values are INVALID_ARGUMENT with a path-qualified message.
TEST(WireTypesTest, WrongTypesGivePathQualifiedErrors) {
  auto bad_cpu =
      DecodeModelDeploymentPage(Parse(R"({"model_deployments": [{}, {"cpu": {"x": 1}}]})"));
  ASSERT_FALSE(bad_cpu.ok());
  EXPECT_EQ(bad_cpu.status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_cpu.status().message(), "model_deployments[1].cpu: expected a number, got object");

  auto bad_list = DecodeModelPage(Parse(R"({"models": {"id": "x"}})"));
  ASSERT_FALSE(bad_list.ok());
  EXPECT_EQ(bad_list.status().message(), "models: expected an array, got object");

  auto bad_int = DecodeModelDeployment(Parse(R"({"replicas": "three"})"));
  ASSERT_FALSE(bad_int.ok());
  EXPECT_EQ(bad_int.status().message(), "replicas: expected an integer in the string");

  auto overflow = DecodeModelDeployment(Parse(R"({"replicas": 4294967296})"));
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().message(), "replicas: integer out of range");

  auto bad_env = DecodeModelDeployment(Parse(R"({"environment": "{not json"})"));
  ASSERT_FALSE(bad_env.ok());
  EXPECT_EQ(bad_env.status().message(), "environment: expected a JSON object in the string");

  auto bad_time = DecodeModelBuild(Parse(R"({"built_at": "yesterday"})"));
  ASSERT_FALSE(bad_time.ok());
  EXPECT_EQ(bad_time.status().message(), "built_at: expected an RFC 3339 time");

  auto bad_nested = DecodeModel(Parse(R"({"project": {"name": 5}})"));
  ASSERT_FALSE(bad_nested.ok());
  EXPECT_EQ(bad_nested.status().message(), "project.name: expected a string, got number");

  auto not_object = DecodeModel(Parse("[1, 2]"));
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().message(), "response: expected an object, got array");
}

// Verifies that non-finite doubles decode as NaN and infinities, in proto3 JSON's string form
// ("NaN", "Infinity", "-Infinity"), beside ordinary numeric strings (design 4a).
TEST(WireTypesTest, DecodesNonFiniteDoubles) {
  auto deployment = DecodeModelDeployment(
      Parse(R"({"cpu": "NaN", "memory": "Infinity", "replicas": 1, "id": "d"})"));
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_TRUE(std::isnan(deployment->cpu));
  EXPECT_EQ(deployment->memory, std::numeric_limits<double>::infinity());
  EXPECT_EQ(deployment->id, "d");

  auto negative = DecodeModelDeployment(Parse(R"({"cpu": "-Infinity", "memory": "2.5"})"));
  ASSERT_TRUE(negative.ok()) << negative.status();
  EXPECT_EQ(negative->cpu, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(negative->memory, 2.5);

  auto version = DecodeRegisteredModelVersion(Parse(R"({"number": 2,
      "model_version_metadata": {"mlflow_metadata": {"run_id": "r1", "metrics": [
        {"key": "auc", "value": "NaN", "step": "3"}, {"key": "loss", "value": "-Infinity"}]}}})"));
  ASSERT_TRUE(version.ok()) << version.status();
  const auto& metrics = version->model_version_metadata.mlflow_metadata.metrics;
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_TRUE(std::isnan(metrics[0].value));
  EXPECT_EQ(metrics[0].step, 3);
  EXPECT_EQ(metrics[1].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(version->model_version_metadata.mlflow_metadata.run_id, "r1");
}

// Verifies that ParseJson reads the bare tokens NaN, Infinity and -Infinity that some servers
// write, outside strings only, and that they then decode like their proto3 strings.
TEST(WireTypesTest, ParsesBareNonFiniteTokens) {
  auto parsed =
      ParseJson(R"({"model_deployments": [{"id": "a\"NaN", "cpu": NaN, "memory": -Infinity,)"
                R"( "status": "Infinity is text here", "replicas": 2}, {"cpu":Infinity}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto page = DecodeModelDeploymentPage(*parsed);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, "a\"NaN");
  EXPECT_TRUE(std::isnan(page->items[0].cpu));
  EXPECT_EQ(page->items[0].memory, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(page->items[0].status, "Infinity is text here");
  EXPECT_EQ(page->items[0].replicas, 2);
  EXPECT_EQ(page->items[1].cpu, std::numeric_limits<double>::infinity());

  EXPECT_EQ(Parse("[NaN, Infinity, -Infinity]"), json({"NaN", "Infinity", "-Infinity"}));
  for (std::string_view text : {"[NaNx]", "[xNaN]", "[Infinity_]", "[-NaN]", "[nan]", "[NaN"}) {
    EXPECT_FALSE(ParseJson(text).ok()) << text;
  }
  // In an integer field a non-finite value is an error, not a crash or a made-up number.
  auto replicas = DecodeModelDeployment(Parse(R"({"replicas": NaN})"));
  ASSERT_FALSE(replicas.ok());
  EXPECT_EQ(replicas.status().message(), "replicas: expected an integer in the string");
}

// Verifies that well-formed times TimePoint cannot hold (proto3's zero time, years past 2261)
// decode as absent, while text that is no time at all stays an error.
TEST(WireTypesTest, OutOfRangeTimesAreAbsent) {
  auto build = DecodeModelBuild(Parse(R"({"id": "b", "status": "built",
      "created_at": "0001-01-01T00:00:00Z", "built_at": "9999-12-31T23:59:59.999999999Z",
      "updated_at": "1600-02-29T12:00:00+01:00"})"));
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_EQ(build->id, "b");
  EXPECT_FALSE(build->created_at.has_value());
  EXPECT_FALSE(build->built_at.has_value());
  EXPECT_FALSE(build->updated_at.has_value());

  auto in_range = DecodeModelBuild(Parse(R"({"created_at": "1970-01-01T00:00:00Z"})"));
  ASSERT_TRUE(in_range.ok());
  EXPECT_EQ(in_range->created_at, common::TimePoint{});

  for (std::string_view bad :
       {"yesterday", "abcd-01-01T00:00:00Z", "0001-13-01T00:00:00Z", "0001-01-01"}) {
    auto decoded = DecodeModelBuild(json{{"built_at", bad}});
    EXPECT_FALSE(decoded.ok()) << bad;
  }
}

// Verifies that enum-like strings CML may extend (statuses, mlops_type, visibility,
// permission) are kept as the text sent, and unknown fields at any depth are ignored.
TEST(WireTypesTest, KeepsUnknownEnumValuesAsText) {
  auto version = DecodeRegisteredModelVersion(Parse(R"({"status": "REGISTERING_ASYNC",
      "model_version_metadata": {"mlops_type": "ONNX", "new_block": {"a": [1]}},
      "visibility_v2": "TEAM"})"));
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->status, "REGISTERING_ASYNC");
  EXPECT_EQ(version->model_version_metadata.mlops_type, "ONNX");

  auto model = DecodeRegisteredModel(
      Parse(R"({"visibility": "ORGANIZATION", "permission": "OWNER_PLUS", "count": 0})"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->visibility, "ORGANIZATION");
  EXPECT_EQ(model->permission, "OWNER_PLUS");

  auto deployment = DecodeModelDeployment(Parse(R"({"status": "Scaling"})"));
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(deployment->status, "Scaling");
  auto runtime = DecodeRuntime(Parse(R"({"status": "EXPERIMENTAL"})"));
  ASSERT_TRUE(runtime.ok());
  EXPECT_EQ(runtime->status, "EXPERIMENTAL");
}

// Verifies that truncated or non-JSON text is INVALID_ARGUMENT, never an exception.
TEST(WireTypesTest, MalformedJsonIsAnError) {
  for (std::string_view text : {R"({"models": [)", "", "<html>", "{\"a\":1}}"}) {
    auto parsed = ParseJson(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), common::StatusCode::kInvalidArgument);
    EXPECT_TRUE(parsed.status().message().starts_with("malformed JSON")) << parsed.status();
  }
}

// Verifies that every truncation of a valid body, and a deeply nested one, is handled without
// a crash: either an error or a value.
TEST(WireTypesTest, TruncatedAndNestedBodiesNeverCrash) {
  const std::string body = R"({"model_deployments": [{"id": "d1", "cpu": "2", "replicas": 3,
      "environment": "{\"A\":\"b\"}", "status": "deployed"}], "next_page_token": "x"})";
  int errors = 0;
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto parsed = ParseJson(std::string_view(body).substr(0, n));
    if (!parsed.ok()) {
      ++errors;
      continue;
    }
    (void)DecodeModelDeploymentPage(*parsed);
  }
  EXPECT_EQ(errors, static_cast<int>(body.size()));
  const std::size_t depth = 1'000'000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  auto parsed = ParseJson(nested);
  ASSERT_TRUE(parsed.ok());
  auto model = DecodeModel(*parsed);
  EXPECT_EQ(model.status().message(), "response: expected an object, got array");
}

// Verifies that the runtimeError body decodes, with code as a number or a string.
TEST(WireTypesTest, DecodesRuntimeError) {
  auto error = DecodeRuntimeError(Parse(
      R"({"error": "not found", "code": "5", "message": "model x not found",
          "details": [{"type_url": "t", "value": "AA=="}]})"));
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->code, 5);
  EXPECT_EQ(error->message, "model x not found");
  EXPECT_EQ(error->details, 1u);
}

// Verifies that error details nested 100,000 deep are counted without recursing into them
// (a stack overflow, reproduced with tests/fuzz/wire_json_fuzzer).
TEST(WireTypesTest, CountsDeeplyNestedErrorDetails) {
  const std::size_t depth = 100'000;
  auto parsed = ParseJson(R"({"code": 5, "details": [)" + std::string(depth, '[') +
                          std::string(depth, ']') + "]}");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto error = DecodeRuntimeError(*parsed);
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->details, 1u);
}

// Verifies that integers sent as floats are range-checked at the exact bounds: 2^63 does not
// fit an int64 although it equals max() converted to double (an overflowing cast, reproduced
// with tests/fuzz/wire_json_fuzzer), and 2^31 does not fit an int32.
TEST(WireTypesTest, RangeChecksIntegersSentAsFloats) {
  auto too_big = DecodeModel(Parse(R"({"accelerator_label_id": 9223372036854775808.0})"));
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().message(), "accelerator_label_id: expected an integer");
  auto lowest = DecodeModel(Parse(R"({"accelerator_label_id": -9223372036854775808.0})"));
  ASSERT_TRUE(lowest.ok()) << lowest.status();
  EXPECT_EQ(lowest->accelerator_label_id, std::numeric_limits<std::int64_t>::min());
  EXPECT_FALSE(DecodeModel(Parse(R"({"run_as": 2147483648.0})")).ok());
  auto int32_max = DecodeModel(Parse(R"({"run_as": 2147483647.0})"));
  ASSERT_TRUE(int32_max.ok()) << int32_max.status();
  EXPECT_EQ(int32_max->run_as, 2147483647);
}

// Verifies that a deployment request encodes nvidia_gpus (plural), environment as an object,
// numbers as numbers, int64 as a string, and omits unset optional fields.
TEST(WireTypesTest, EncodesDeploymentRequest) {
  json body = Encode(CreateModelDeploymentRequest{.project_id = "p",
                                                  .model_id = "m",
                                                  .build_id = "b",
                                                  .cpu = 2,
                                                  .memory = 4,
                                                  .nvidia_gpus = 1,
                                                  .environment = {{"A", "b"}},
                                                  .replicas = 2,
                                                  .accelerator_label_id = 12});
  EXPECT_EQ(body, json::parse(R"({"project_id": "p", "model_id": "m", "build_id": "b",
      "cpu": 2.0, "memory": 4.0, "nvidia_gpus": 1, "environment": {"A": "b"}, "replicas": 2,
      "accelerator_label_id": "12"})"));
  EXPECT_FALSE(body.contains("nvidia_gpu"));
  EXPECT_FALSE(body.contains("deployment_secrets"));
}

// Verifies that a model update sends only the fields that were set.
TEST(WireTypesTest, EncodesPartialModelUpdate) {
  json body = Encode(UpdateModelRequest{.id = "m1", .description = "new"});
  EXPECT_EQ(body, json::parse(R"({"id": "m1", "description": "new"})"));
  json resources = Encode(UpdateModelRequest{
      .id = "m1", .default_resources = DefaultResources{.cpu_millicores = 500, .memory_mb = 1024}});
  EXPECT_EQ(resources["default_resources"],
            json::parse(R"({"cpu_millicores": "500", "memory_mb": "1024", "nvidia_gpus": "0"})"));
}

// Verifies the model, build and registered-model request encodings.
TEST(WireTypesTest, EncodesCreateRequests) {
  EXPECT_EQ(Encode(CreateModelRequest{.project_id = "p",
                                      .name = "fraud",
                                      .description = "d",
                                      .disable_authentication = true,
                                      .registered_model_id = "r"}),
            json::parse(R"({"project_id": "p", "name": "fraud", "description": "d",
                "disable_authentication": true, "registered_model_id": "r"})"));
  EXPECT_EQ(Encode(CreateModelBuildRequest{.project_id = "p",
                                           .model_id = "m",
                                           .comment = "cml-reconciler fraud abc",
                                           .runtime_identifier = "img:1",
                                           .registered_model_version_id = "v"}),
            json::parse(R"({"project_id": "p", "model_id": "m",
                "comment": "cml-reconciler fraud abc", "runtime_identifier": "img:1",
                "registered_model_version_id": "v"})"));
  EXPECT_EQ(Encode(CreateRegisteredModelRequest{.project_id = "p",
                                                .experiment_id = "e",
                                                .run_id = "r",
                                                .model_path = "artifacts",
                                                .model_name = "FraudCLF",
                                                .tags = {{"team", "risk"}}}),
            json::parse(R"({"project_id": "p", "experiment_id": "e", "run_id": "r",
                "model_path": "artifacts", "model_name": "FraudCLF",
                "tags": [{"key": "team", "value": "risk"}]})"));
}

}  // namespace
}  // namespace cmlr::api
