// deploy/examples: valid, and holding the fraud-classifier walkthrough that the emulator's
// default fixture serves (design section 9).

#include <filesystem>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"

namespace cmlr::config {
namespace {

namespace fs = std::filesystem;

const fs::path kExamples = fs::path(CMLR_SOURCE_DIR) / "deploy/examples";
constexpr const char* kRuntime =
    "docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:"
    "2024.02.1-b4";

// Verifies that the examples load as one valid desired state with the walkthrough's models.
TEST(ExamplesTest, LoadAsOneDesiredState) {
  const LoadResult result = LoadDesiredState({kExamples});
  ASSERT_THAT(result.errors, ::testing::IsEmpty()) << result.errors.front().ToString();
  ASSERT_NE(result.snapshot, nullptr);
  EXPECT_EQ(result.files, 5);
  EXPECT_EQ(result.snapshot->size(), 5u);
  std::set<std::string> model_names;
  for (const auto& [name, spec] : result.snapshot->models()) {
    EXPECT_EQ(spec.project_id, "abcd-1234-efgh-5678") << name;
    EXPECT_EQ(spec.registered_model.name, "FraudCLF-alice") << name;
    model_names.insert(spec.model_name);
    EXPECT_THAT(spec.source, ::testing::StartsWith((kExamples / (name + ".yaml")).string() + ":"))
        << "one model per file, named after it";
  }
  EXPECT_EQ(model_names.size(), 5u);

  const ModelDeploymentSpec* pinned = result.snapshot->Find("fraud-classifier");
  ASSERT_NE(pinned, nullptr);
  EXPECT_EQ(pinned->registered_model.version, 3);
  EXPECT_EQ(std::get<std::string>(pinned->runtime), kRuntime);
  EXPECT_EQ(pinned->resources, (Resources{.cpu = 2, .memory_gib = 4, .gpus = 0, .replicas = 1}));
  EXPECT_EQ(pinned->description, "Fraud Detection 2024");
  ASSERT_TRUE(pinned->verify);
  EXPECT_EQ(pinned->verify->request_json,
            R"({"dataframe_split":{"columns":["age","credit_card_balance","bank_account_balance",)"
            R"("mortgage_balance","sec_bank_account_balance","savings_account_balance",)"
            R"("sec_savings_account_balance","total_est_nworth","primary_loan_balance",)"
            R"("secondary_loan_balance","uni_loan_balance","longitude","latitude",)"
            R"("transaction_amount"],"data":[[35.5,20000.5,3900.5,14000.5,2944.5,3400.5,)"
            R"(12000.5,29000.5,1300.5,15000.5,10000.5,2000.5,90.5,120.5]]}})")
      << "the walkthrough's own test request, unchanged";
  EXPECT_EQ(pinned->verify->response_has, std::vector<std::string>{"predictions"});
  EXPECT_EQ(pinned->verify->requests, 3);
  EXPECT_EQ(pinned->verify->expect_status, 200);
  EXPECT_TRUE(pinned->sync.rollback);

  const ModelDeploymentSpec* selector = result.snapshot->Find("fraud-classifier-selector");
  ASSERT_NE(selector, nullptr);
  EXPECT_EQ(selector->registered_model.version, 2);
  EXPECT_EQ(std::get<RuntimeSelector>(selector->runtime),
            (RuntimeSelector{"Python 3.9", "Standard", "Workbench"}));

  const ModelDeploymentSpec* from_run = result.snapshot->Find("fraud-classifier-from-run");
  ASSERT_NE(from_run, nullptr);
  ASSERT_TRUE(from_run->registered_model.from_experiment_run);
  EXPECT_EQ(*from_run->registered_model.from_experiment_run,
            (ExperimentRunSource{"3bmr-ju29-om6c-5aeo", "8f2c1e0b7d9a4c6e9f3b2a1d0c8e7f6a",
                                 "artifacts"}));

  const ModelDeploymentSpec* scaled = result.snapshot->Find("fraud-classifier-scaled");
  ASSERT_NE(scaled, nullptr);
  EXPECT_EQ(scaled->resources, (Resources{.cpu = 4, .memory_gib = 8, .gpus = 0, .replicas = 3}));
  EXPECT_EQ(scaled->environment, (std::map<std::string, std::string>{{"LOG_LEVEL", "info"}}));

  const ModelDeploymentSpec* suspended = result.snapshot->Find("fraud-classifier-suspended");
  ASSERT_NE(suspended, nullptr);
  EXPECT_TRUE(suspended->sync.suspend.suspended);
  EXPECT_FALSE(suspended->sync.suspend.reason.empty());
}

}  // namespace
}  // namespace cmlr::config
