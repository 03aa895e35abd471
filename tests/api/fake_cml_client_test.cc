#include "tests/fakes/fake_cml_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"

namespace cmlr::testing {
namespace {

namespace net = boost::asio;
using common::StatusCode;
using std::chrono::seconds;

class FakeCmlClientTest : public ::testing::Test {
 protected:
  // The fake never suspends, so one run() finishes every call.
  template <typename T>
  T Run(net::awaitable<T> awaitable) {
    std::optional<T> result;
    net::co_spawn(
        io_,
        [&result, awaitable = std::move(awaitable)]() mutable -> net::awaitable<void> {
          result.emplace(co_await std::move(awaitable));
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    return std::move(*result);
  }

  // Creates model, build (and waits for it), returns {model id, build id}.
  std::pair<std::string, std::string> BuiltModel(const std::string& name) {
    auto model = Run(cml_.CreateModel("p1", {.name = name}));
    EXPECT_TRUE(model.ok()) << model.status();
    auto build = Run(cml_.CreateModelBuild(
        "p1", model->id, {.runtime_identifier = "img:1", .registered_model_version_id = "v1"}));
    EXPECT_TRUE(build.ok()) << build.status();
    clock_.Advance(seconds(3));
    return {model->id, build->id};
  }

  net::io_context io_;
  FakeClock clock_;
  FakeCmlClient cml_{clock_, {.build_duration = seconds(3), .deploy_duration = seconds(2)}};
};

// Verifies that builds advance queued -> pending -> pushing -> built with the clock, and that
// a broken version ends in "build failed".
TEST_F(FakeCmlClientTest, BuildsAdvanceWithTheClock) {
  cml_.MarkVersionBroken("broken");
  auto model = Run(cml_.CreateModel("p1", {.name = "fraud"}));
  ASSERT_TRUE(model.ok());
  auto build = Run(cml_.CreateModelBuild("p1", model->id, {.registered_model_version_id = "v1"}));
  auto bad = Run(cml_.CreateModelBuild("p1", model->id, {.registered_model_version_id = "broken"}));
  ASSERT_TRUE(build.ok() && bad.ok());
  EXPECT_EQ(build->status, "queued");
  clock_.Advance(seconds(1));
  EXPECT_EQ(Run(cml_.GetModelBuild("p1", model->id, build->id))->status, "pending");
  clock_.Advance(seconds(1));
  EXPECT_EQ(Run(cml_.GetModelBuild("p1", model->id, build->id))->status, "pushing");
  clock_.Advance(seconds(1));
  EXPECT_EQ(Run(cml_.GetModelBuild("p1", model->id, build->id))->status, "built");
  EXPECT_EQ(Run(cml_.GetModelBuild("p1", model->id, bad->id))->status, "build failed");
}

// Verifies that a deployment becomes deployed after the deploy time and then stops the model's
// other running deployment (one active deployment per model).
TEST_F(FakeCmlClientTest, OneActiveDeploymentPerModel) {
  const auto [model_id, build_id] = BuiltModel("fraud");
  auto first = Run(cml_.CreateModelDeployment("p1", model_id, build_id, {.cpu = 1, .memory = 2}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status, "pending");
  clock_.Advance(seconds(1));
  EXPECT_EQ(Run(cml_.GetModelDeployment("p1", model_id, build_id, first->id))->status, "deploying");
  clock_.Advance(seconds(1));
  EXPECT_EQ(Run(cml_.GetModelDeployment("p1", model_id, build_id, first->id))->status, "deployed");

  auto second = Run(
      cml_.CreateModelDeployment("p1", model_id, build_id, {.cpu = 2, .memory = 4, .replicas = 2}));
  ASSERT_TRUE(second.ok());
  clock_.Advance(seconds(2));
  auto all = Run(cml_.ListModelDeployments("p1", model_id, build_id, {}));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].status, "stopped");
  EXPECT_EQ((*all)[1].status, "deployed");
  EXPECT_EQ((*all)[1].replicas, 2);
}

// Verifies that a deployment needs a built build, and that stop and restart work.
TEST_F(FakeCmlClientTest, DeploymentNeedsBuiltBuildAndCanStopAndRestart) {
  auto model = Run(cml_.CreateModel("p1", {.name = "fraud"}));
  auto build = Run(cml_.CreateModelBuild("p1", model->id, {}));
  auto early = Run(cml_.CreateModelDeployment("p1", model->id, build->id, {}));
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition);
  clock_.Advance(seconds(3));
  auto deployment = Run(cml_.CreateModelDeployment("p1", model->id, build->id, {}));
  ASSERT_TRUE(deployment.ok());
  auto stopped = Run(cml_.StopModelDeployment("p1", model->id, build->id, deployment->id));
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->status, "stopped");
  clock_.Advance(seconds(10));
  EXPECT_EQ(cml_.deployments(model->id)[0].status, "stopped");
  auto restarted = Run(cml_.RestartModelDeployment("p1", model->id, build->id, deployment->id));
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ(restarted->status, "pending");
  clock_.Advance(seconds(2));
  EXPECT_EQ(cml_.deployments(model->id)[0].status, "deployed");
}

// Verifies failure injection: FailNext fails without applying; LoseNextAnswer applies and
// answers UNAVAILABLE with outcome unknown; the call counts and the observer see every call.
TEST_F(FakeCmlClientTest, InjectsFailures) {
  std::vector<api::CallRecord> records;
  cml_.SetCallObserver([&records](const api::CallRecord& r) { records.push_back(r); });
  cml_.FailNext("create_model", common::UnavailableError("boom").WithHttpStatus(503));
  auto failed = Run(cml_.CreateModel("p1", {.name = "fraud"}));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(cml_.models("p1").empty());

  cml_.LoseNextAnswer("create_model");
  auto lost = Run(cml_.CreateModel("p1", {.name = "fraud"}));
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(lost.status().outcome_unknown());
  EXPECT_EQ(cml_.models("p1").size(), 1u);  // applied

  auto ok = Run(cml_.CreateModel("p1", {.name = "other"}));
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(cml_.calls("create_model"), 3);
  EXPECT_EQ(cml_.writes(), 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].http_status, 503);
  EXPECT_EQ(records[2].http_status, 200);
}

// Verifies search_filter as CML applies it (case-sensitive substring) and NOT_FOUND for
// unknown ids.
TEST_F(FakeCmlClientTest, FiltersAndNotFound) {
  ASSERT_TRUE(Run(cml_.CreateModel("p1", {.name = "fraud-a"})).ok());
  ASSERT_TRUE(Run(cml_.CreateModel("p1", {.name = "Fraud-b"})).ok());
  ASSERT_TRUE(Run(cml_.CreateModel("p2", {.name = "fraud-c"})).ok());
  auto models = Run(cml_.ListModels("p1", {.search_filter = {{"name", "fraud"}}}));
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].name, "fraud-a");
  auto missing = Run(cml_.GetModel("p1", "nope"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().http_status(), 404);
}

// Verifies the registry: a new name registers version 1, the same name adds version 2 with
// the run id, and get_registered_model filters versions by number.
TEST_F(FakeCmlClientTest, RegistersVersions) {
  auto first = Run(cml_.CreateRegisteredModel(
      {.experiment_id = "e", .run_id = "r1", .model_path = "artifacts", .model_name = "FraudCLF"}));
  auto second = Run(cml_.CreateRegisteredModel(
      {.experiment_id = "e", .run_id = "r2", .model_path = "artifacts", .model_name = "FraudCLF"}));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->model_id, second->model_id);
  ASSERT_EQ(second->model_versions.size(), 2u);
  EXPECT_EQ(second->model_versions[1].number, 2);
  EXPECT_EQ(second->model_versions[1].model_version_metadata.mlflow_metadata.run_id, "r2");
  auto filtered =
      Run(cml_.GetRegisteredModel(first->model_id, {.search_filter = {{"version_number", "2"}}}));
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->model_versions.size(), 1u);
  auto listed = Run(cml_.ListRegisteredModels({.search_filter = {{"model_name", "Fraud"}}}));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].model_versions.empty());
}

}  // namespace
}  // namespace cmlr::testing
