#include "tests/emulator/swagger_validator.h"

#include <gtest/gtest.h>

#include "tests/emulator/emulator_test_base.h"

namespace cmlr::emulator::testing {
namespace {

using nlohmann::json;

class SwaggerValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = SwaggerValidator::Load(SwaggerExcerptPath());
    if (!loaded.ok()) GTEST_SKIP() << "swagger excerpt not found: " << loaded.status();
    validator_.emplace(std::move(*loaded));
  }
  std::optional<SwaggerValidator> validator_;
};

// Verifies that the validator accepts a conforming body and names each kind of violation, so
// the conformance checks of the emulator tests can fail.
TEST_F(SwaggerValidatorTest, FindsViolations) {
  const json good{{"id", "d"},
                  {"cpu", 1.5},
                  {"nvidia_gpu", 1},
                  {"environment", "{}"},
                  {"accelerator_label_id", "3"},
                  {"created_at", "2026-01-01T00:00:00.000Z"},
                  {"deployer", {{"username", "alice"}}}};
  EXPECT_TRUE(validator_->ValidateDefinition(good, "ModelDeployment").empty());
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
  EXPECT_TRUE(
      validator_
          ->ValidateResponse("GET", "/api/v2/projects/p/models/m/builds/b/deployments/d", 200, good)
          .empty());
  EXPECT_FALSE(validator_
                   ->ValidateResponse("POST",
                                      "/api/v2/projects/p/models/m/builds/b/deployments/d:stop",
                                      200, json{{"status", 1}})
                   .empty());
  EXPECT_TRUE(
      validator_
          ->ValidateResponse(
              "GET", "/api/v2/runtimes", 404,
              json{{"error", "x"}, {"code", 5}, {"message", "x"}, {"details", json::array()}})
          .empty());
  EXPECT_FALSE(validator_->ValidateResponse("GET", "/api/v2/nothing", 200, json::object()).empty());
}

}  // namespace
}  // namespace cmlr::emulator::testing
