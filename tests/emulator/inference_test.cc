#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "emulator/fixture.h"
#include "tests/emulator/emulator_test_base.h"

namespace cmlr::emulator::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

// The model input of the seed walkthrough (cml-apiv2.md section 9.2), as {"request": ...}.
json WalkthroughRequest() {
  return json::parse(R"({"request": {"dataframe_split": {
    "columns": ["age", "credit_card_balance", "bank_account_balance", "mortgage_balance",
                "sec_bank_account_balance", "savings_account_balance",
                "sec_savings_account_balance", "total_est_nworth", "primary_loan_balance",
                "secondary_loan_balance", "uni_loan_balance", "longitude", "latitude",
                "transaction_amount"],
    "data": [[35.5, 20000.5, 3900.5, 14000.5, 2944.5, 3400.5, 12000.5, 29000.5, 1300.5, 15000.5,
              10000.5, 2000.5, 90.5, 120.5]]}}})");
}

class InferenceTest : public EmulatorTest {
 protected:
  // Deploys a new model on a build of `version`; returns the inference target.
  std::string Serve(const std::string& version) {
    model_ = CreateModel("served-" + version);
    build_ = CreateBuild(model_, version);
    CreateDeployment(model_, build_);
    clock_.Advance(std::chrono::seconds(5));
    const auto model = Call(http::verb::get, ModelPath(model_));
    return "/model?accessKey=" + model.body["access_key"].get<std::string>();
  }
  json InferenceCalls() { return Call(http::verb::get, "/_emulator/calls").body["inference"]; }

  std::string model_;
  std::string build_;
};

// Verifies that a deployed model scores the walkthrough request, and that the call is counted
// apart from the API calls.
TEST_F(InferenceTest, ScoresTheWalkthroughRequest) {
  const std::string target = Serve(kVersion3);
  const auto reply = Call(http::verb::post, target, WalkthroughRequest());
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["success"], true);
  EXPECT_EQ(reply.body["StatusCode"], 200);
  const auto& predictions = reply.body["response"]["predictions"];
  ASSERT_EQ(predictions.size(), 1u);
  EXPECT_GT(predictions[0].get<double>(), 0.0);
  EXPECT_LT(predictions[0].get<double>(), 1.0);
  EXPECT_NEAR(predictions[0].get<double>(), 0.028352, 1e-9);  // deterministic
  const json calls = Call(http::verb::get, "/_emulator/calls").body;
  EXPECT_EQ(calls["inference"],
            json({{"calls", 1}, {"by_status", {{"200", 1}}}, {"by_model", {{model_, 1}}}}));
  EXPECT_EQ(calls["writes"], 3);
  ASSERT_EQ(Call(http::verb::delete_, "/_emulator/calls").status, 200);
  EXPECT_EQ(InferenceCalls()["calls"], 0);
}

// Verifies that a version marked `inference: broken` answers 500 with an error body.
TEST_F(InferenceTest, BrokenVersionAnswers500) {
  const auto reply = Call(http::verb::post, Serve(kBrokenInferenceVersion), WalkthroughRequest());
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.body["success"], false);
  EXPECT_NE(reply.body["error"].get<std::string>().find("model.error"), std::string::npos);
}

// Verifies that a version marked `inference: wrong` answers 200 without predictions.
TEST_F(InferenceTest, WrongVersionAnswersWithoutPredictions) {
  const auto reply = Call(http::verb::post, Serve(kWrongInferenceVersion), WalkthroughRequest());
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["success"], true);
  ASSERT_TRUE(reply.body["response"].is_object());
  EXPECT_FALSE(reply.body["response"].contains("predictions"));
  EXPECT_TRUE(reply.body["response"].contains("error"));
}

// Verifies that what answers is the version of the build of the deployment that serves: a
// redeploy onto a broken version's build turns good answers into 500s once it is deployed.
TEST_F(InferenceTest, TheServingDeploymentDecides) {
  const std::string target = Serve(kVersion3);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest()).status, 200);
  const std::string broken = CreateBuild(model_, kBrokenInferenceVersion);
  clock_.Advance(std::chrono::seconds(3));
  CreateDeployment(model_, broken);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest()).status, 200);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest()).status, 500);
  EXPECT_EQ(InferenceCalls()["by_status"], json({{"200", 2}, {"500", 1}}));
}

// Verifies that {"model_busy": N} makes the next N inference calls that reach a model answer
// 429 model.busy, counting down, and that unknown keys do not use them up.
TEST_F(InferenceTest, ModelBusyOnDemand) {
  const std::string target = Serve(kVersion3);
  const auto set = Call(http::verb::put, "/_emulator/faults", json{{"model_busy", 2}});
  ASSERT_EQ(set.status, 200) << set.body.dump();
  EXPECT_EQ(set.body["model_busy"], 2);
  EXPECT_EQ(Call(http::verb::post, "/model?accessKey=nope", WalkthroughRequest()).status, 404);
  for (int i = 0; i < 2; ++i) {
    const auto busy = Call(http::verb::post, target, WalkthroughRequest());
    EXPECT_EQ(busy.status, 429);
    EXPECT_TRUE(busy.body["error"].get<std::string>().starts_with("model.busy"));
  }
  EXPECT_EQ(Call(http::verb::get, "/_emulator/faults").body["model_busy"], 0);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest()).status, 200);
  const json calls = InferenceCalls();
  EXPECT_EQ(calls["calls"], 4);
  EXPECT_EQ(calls["by_status"], json({{"200", 1}, {"404", 1}, {"429", 2}}));
  EXPECT_EQ(calls["by_model"], json({{model_, 3}}));
  EXPECT_EQ(Call(http::verb::put, "/_emulator/faults", json{{"model_busy", -1}}).status, 400);
}

// Verifies that the model's authentication needs the bearer key, before anything else answers.
TEST_F(InferenceTest, AuthenticationComesFirst) {
  const std::string target = Serve(kBrokenInferenceVersion);
  ASSERT_EQ(Call(http::verb::put, "/_emulator/faults", json{{"model_busy", 1}}).status, 200);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest(), "").status, 401);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest(), "wrong-key").status, 401);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest()).status, 429);
  EXPECT_EQ(Call(http::verb::post, target, WalkthroughRequest()).status, 500);
}

// Verifies that the default fixture keeps versions 1 to 3 as they were and adds 4 (broken) and 5
// (wrong), and that a fixture names a bad `inference` value by its path.
TEST(InferenceFixtureTest, ReadsInferenceBehaviours) {
  const auto fixture = ParseFixture(DefaultFixtureYaml(), "default");
  ASSERT_TRUE(fixture.ok()) << fixture.status();
  const auto& versions = fixture->registered_models.at(0).versions;
  ASSERT_EQ(versions.size(), 5u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(versions[i].run.inference, "") << i;
  EXPECT_EQ(versions[2].model_version_id, kVersion3);
  EXPECT_EQ(versions[3].model_version_id, kBrokenInferenceVersion);
  EXPECT_EQ(versions[3].run.inference, "broken");
  EXPECT_EQ(versions[4].model_version_id, kWrongInferenceVersion);
  EXPECT_EQ(versions[4].run.inference, "wrong");
  const auto bad = ParseFixture(
      "users: [{username: a}]\nprojects: [{public_identifier: p, name: n, owner: a}]\n"
      "mlflow_runs: [{experiment_id: e, run_id: r, project: p, inference: sometimes}]\n",
      "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("mlflow_runs[0].inference"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace cmlr::emulator::testing
