#include "tests/support/swagger_validator.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cmlr::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The excerpt itself: the conformance checks of api_test and emulator_test run against it.
class SwaggerExcerptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = SwaggerValidator::Load(SwaggerExcerptPath());
    if (!loaded.ok()) GTEST_SKIP() << "swagger excerpt not available: " << loaded.status();
    validator_.emplace(std::move(*loaded));
  }
  std::optional<SwaggerValidator> validator_;
};

// A small Swagger 2.0 document with the shapes the CML excerpt uses, written to a file.
class SwaggerValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("swagger-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
    std::ofstream(path_) << kDocument;
    auto loaded = SwaggerValidator::Load(path_.string());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    validator_.emplace(std::move(*loaded));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  static constexpr const char* kDocument = R"({
    "swagger": "2.0",
    "paths": {
      "/api/v2/things": {
        "get": {"parameters": [{"name": "page_size", "in": "query", "type": "integer"}],
                "responses": {"200": {"schema": {"$ref": "#/definitions/ListThings"}},
                              "default": {"schema": {"$ref": "#/definitions/runtimeError"}}}},
        "post": {"parameters": [{"name": "body", "in": "body",
                                 "schema": {"$ref": "#/definitions/Thing"}}],
                 "responses": {"200": {"schema": {"$ref": "#/definitions/Thing"}}}}
      },
      "/api/v2/things/{id}": {
        "delete": {"responses": {"200": {"schema": {"$ref": "#/definitions/Empty"}}}}
      },
      "/api/v2/things/{id}:stop": {
        "post": {"responses": {"200": {"schema": {"$ref": "#/definitions/Thing"}}}}
      }
    },
    "definitions": {
      "Thing": {"type": "object", "title": "A thing", "properties": {
        "id": {"type": "string", "description": "its id"},
        "big": {"type": "string", "format": "int64"},
        "small": {"type": "integer", "format": "int32"},
        "cpu": {"type": "number", "format": "double"},
        "on": {"type": "boolean", "format": "boolean"},
        "at": {"type": "string", "format": "date-time"},
        "kind": {"$ref": "#/definitions/Kind"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "owner": {"$ref": "#/definitions/Owner"},
        "tags": {"type": "array", "items": {"$ref": "#/definitions/Owner"}}}},
      "Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
      "Kind": {"type": "string", "enum": ["A", "B"], "default": "A"},
      "Empty": {"type": "object"},
      "ListThings": {"type": "object", "properties": {
        "things": {"type": "array", "items": {"$ref": "#/definitions/Thing"}},
        "next_page_token": {"type": "string"}}},
      "runtimeError": {"type": "object", "properties": {
        "error": {"type": "string"}, "code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"}}}
    }
  })";

  std::filesystem::path path_;
  std::optional<SwaggerValidator> validator_;
};

// Verifies that a conforming value passes, with Swagger 2.0's habits: int64 as a decimal
// string, maps as additionalProperties, nested $refs, enums, and Go's zero time.
TEST_F(SwaggerValidatorTest, AcceptsConformingValues) {
  const json thing = {{"id", "t1"},
                      {"big", "-9007199254740993"},
                      {"small", 2147483647},
                      {"cpu", 2},
                      {"on", true},
                      {"at", "0001-01-01T00:00:00Z"},
                      {"kind", "B"},
                      {"labels", {{"a", "1"}, {"b", ""}}},
                      {"owner", {{"name", "alice"}}},
                      {"tags", json::array({json{{"name", "x"}}})}};
  EXPECT_THAT(validator_->ValidateDefinition(thing, "Thing"), IsEmpty());
  EXPECT_THAT(validator_->ValidateDefinition(json::object(), "Thing"), IsEmpty());
  EXPECT_THAT(
      validator_->ValidateDefinition(json{{"at", "2026-11-27T05:04:24.123+01:00"}}, "Thing"),
      IsEmpty());
  EXPECT_THAT(validator_->ValidateDefinition(json::object(), "Empty"), IsEmpty());
}

// Verifies that each kind of violation is found and named by a readable path.
TEST_F(SwaggerValidatorTest, NamesEachViolationByPath) {
  const auto errors = [&](json value) { return validator_->ValidateDefinition(value, "Thing"); };
  EXPECT_THAT(errors({{"big", 3}}), ElementsAre("$.big: expected a string, got number 3"));
  EXPECT_THAT(errors({{"big", "3x"}}),
              ElementsAre("$.big: expected an int64 as a decimal string, got \"3x\""));
  EXPECT_THAT(errors({{"small", "2"}}),
              ElementsAre("$.small: expected an integer, got string \"2\""));
  EXPECT_EQ(errors({{"small", 2147483648LL}}).size(), 1u);
  EXPECT_THAT(errors({{"cpu", "NaN"}}),
              ElementsAre("$.cpu: expected a number, got string \"NaN\""));
  EXPECT_THAT(errors({{"at", "yesterday"}}),
              ElementsAre("$.at: expected an RFC 3339 date-time, got \"yesterday\""));
  EXPECT_THAT(errors({{"kind", "C"}}),
              ElementsAre("$.kind: not one of the enum values [\"A\",\"B\"], got \"C\""));
  EXPECT_THAT(errors({{"labels", {{"a", 1}}}}),
              ElementsAre("$.labels.a: expected a string, got number 1"));
  EXPECT_THAT(errors({{"nvidia_gpus", 1}}),
              ElementsAre("$.nvidia_gpus: not a field of the definition"));
  EXPECT_THAT(errors({{"tags", json::array({json{{"name", "x"}}, json{{"login", "y"}}})}}),
              ElementsAre("$.tags[1].login: not a field of the definition"));
  EXPECT_THAT(errors(json::array()), ElementsAre("$: expected an object, got array []"));
  EXPECT_THAT(validator_->ValidateDefinition(json{{"x", 1}}, "Empty"),
              ElementsAre("$.x: not a field of the definition"));
  EXPECT_THAT(validator_->ValidateDefinition(json::object(), "Nothing"),
              ElementsAre("$: unresolvable $ref \"#/definitions/Nothing\""));
}

// Verifies request checks: operation and custom-verb matching, declared query parameters, body
// presence and the body against its definition.
TEST_F(SwaggerValidatorTest, ChecksRequests) {
  EXPECT_THAT(validator_->ValidateRequest("GET", "/api/v2/things?page_size=2", ""), IsEmpty());
  EXPECT_THAT(validator_->ValidateRequest("POST", "/api/v2/things", R"({"id": "t"})"), IsEmpty());
  EXPECT_THAT(validator_->ValidateRequest("POST", "/api/v2/things/t1:stop", ""), IsEmpty());
  EXPECT_THAT(validator_->ValidateRequest("DELETE", "/api/v2/things/t1", ""), IsEmpty());
  EXPECT_THAT(validator_->ValidateRequest("GET", "/api/v2/things?sort=x", ""),
              ElementsAre("GET /api/v2/things: query parameter sort is not declared"));
  EXPECT_THAT(validator_->ValidateRequest("POST", "/api/v2/things", R"({"cpu": "2"})"),
              ElementsAre("POST /api/v2/things body.cpu: expected a number, got string \"2\""));
  EXPECT_THAT(validator_->ValidateRequest("POST", "/api/v2/things", "{"),
              ElementsAre("POST /api/v2/things: body is not JSON"));
  EXPECT_THAT(validator_->ValidateRequest("POST", "/api/v2/things/t1:stop", "{}"),
              ElementsAre("POST /api/v2/things/t1:stop: the operation declares no body"));
  EXPECT_THAT(validator_->ValidateRequest("DELETE", "/api/v2/things/t1:stop", ""),
              ElementsAre("DELETE /api/v2/things/t1:stop: no such operation in the swagger "
                          "document"));
}

// Verifies response checks: the 200 schema, the default (runtimeError) schema for other
// statuses, and unknown paths.
TEST_F(SwaggerValidatorTest, ChecksResponses) {
  EXPECT_THAT(validator_->ValidateResponse("GET", "/api/v2/things", 200,
                                           json{{"things", json::array({json{{"id", "t"}}})}}),
              IsEmpty());
  EXPECT_THAT(validator_->ValidateResponse("GET", "/api/v2/things", 200,
                                           json{{"things", json::array({json{{"cpu", true}}})}}),
              ElementsAre("$.things[0].cpu: expected a number, got boolean true"));
  EXPECT_THAT(validator_->ValidateResponse("GET", "/api/v2/things", 404,
                                           json{{"code", 5}, {"message", "no"}}),
              IsEmpty());
  EXPECT_THAT(validator_->ValidateResponse("GET", "/api/v2/nothing", 404, json{{"code", 5}}),
              IsEmpty());
  EXPECT_THAT(validator_->ValidateResponse("GET", "/api/v2/nothing", 200, json::object()),
              ElementsAre("GET /api/v2/nothing: not an operation of the document"));
  EXPECT_THAT(validator_->ValidateResponse("POST", "/api/v2/things", 500, json::object()),
              ElementsAre("POST /api/v2/things: no schema for status 500"));
}

// Verifies that Load says why it cannot load: a missing file, or one that is no swagger.
TEST(SwaggerValidatorLoadTest, ExplainsWhatIsWrong) {
  EXPECT_EQ(SwaggerValidator::Load("/nonexistent/swagger.json").status().code(),
            common::StatusCode::kNotFound);
  const auto path = std::filesystem::temp_directory_path() /
                    ("not-swagger-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"openapi": "3.0.0"})";
  EXPECT_EQ(SwaggerValidator::Load(path.string()).status().code(),
            common::StatusCode::kInvalidArgument);
  std::filesystem::remove(path);
}

// Verifies that the excerpt loads and that the validator finds what the conformance tests rely
// on: a conforming deployment passes, each typical slip fails.
TEST_F(SwaggerExcerptTest, FindsViolationsInCmlShapes) {
  const json good{{"id", "d"},
                  {"cpu", 1.5},
                  {"nvidia_gpu", 1},
                  {"environment", "{}"},
                  {"accelerator_label_id", "3"},
                  {"created_at", "2026-01-01T00:00:00.000Z"},
                  {"deployer", {{"username", "alice"}}}};
  EXPECT_THAT(validator_->ValidateDefinition(good, "ModelDeployment"), IsEmpty());
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{
           {"nvidia_gpus", 1},                   // request name in a response
           {"environment", json{{"A", "b"}}},    // a map where a JSON string belongs
           {"accelerator_label_id", 3},          // int64 as a number
           {"replicas", "2"},                    // int32 as a string
           {"created_at", "yesterday"},          // not RFC 3339
           {"deployer", json{{"login", "x"}}}})  // unknown nested field
  {
    json bad = good;
    bad[key] = value;
    EXPECT_FALSE(validator_->ValidateDefinition(bad, "ModelDeployment").empty()) << key;
  }
  EXPECT_THAT(validator_->ValidateResponse(
                  "GET", "/api/v2/projects/p/models/m/builds/b/deployments/d", 200, good),
              IsEmpty());
  EXPECT_FALSE(validator_
                   ->ValidateResponse("POST",
                                      "/api/v2/projects/p/models/m/builds/b/deployments/d:stop",
                                      200, json{{"status", 1}})
                   .empty());
  EXPECT_THAT(validator_->ValidateResponse(
                  "GET", "/api/v2/runtimes", 404,
                  json{{"error", "x"}, {"code", 5}, {"message", "x"}, {"details", json::array()}}),
              IsEmpty());
  EXPECT_THAT(
      validator_->ValidateRequest("POST", "/api/v2/projects/p/models/m/builds/b/deployments",
                                  R"({"cpu": 2, "memory": 4, "nvidia_gpus": 0, "replicas": 1,
                      "environment": {"A": "b"}})"),
      IsEmpty());
  EXPECT_THAT(
      validator_->ValidateDefinition(
          json{{"model_version_metadata",
                {{"mlflow_metadata", {{"metrics", json::array({json{{"value", "NaN"}}})}}}}}},
          "RegisteredModelVersion"),
      ElementsAre("$.model_version_metadata.mlflow_metadata.metrics[0].value: expected a number, "
                  "got string \"NaN\""));
}

}  // namespace
}  // namespace cmlr::testing
