// Post-deploy verification and rollback (design 4b), end to end: the real daemon against the
// real emulator, whose fixture holds FraudCLF-alice versions 1-3 (good), 4 (inference answers
// 500) and 5 (inference answers without "predictions"), and FraudCLF-undeployable version 1
// (every deployment fails). The model service is the emulator itself (loopback default).

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_support.h"

namespace cmlr::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kRuntime =
    "docker.repository.cloudera.com/cloudera/cdsw/"
    "ml-runtime-workbench-python3.9-standard:2024.02.1-b4";

// The seed walkthrough's own test request.
constexpr const char* kVerify = R"(  verify:
    request:
      dataframe_split:
        columns: [age, credit_card_balance, bank_account_balance, mortgage_balance,
                  sec_bank_account_balance, savings_account_balance,
                  sec_savings_account_balance, total_est_nworth, primary_loan_balance,
                  secondary_loan_balance, uni_loan_balance, longitude, latitude,
                  transaction_amount]
        data: [[35.5, 20000.5, 3900.5, 14000.5, 2944.5, 3400.5, 12000.5, 29000.5, 1300.5,
                15000.5, 10000.5, 2000.5, 90.5, 120.5]]
    expect: {responseHas: [predictions]}
    requests: 2
    timeout: 20s
)";

std::string Desired(const std::string& registered_model, int version, bool verify = true) {
  std::ostringstream yaml;
  yaml << "apiVersion: cml-reconciler/v1\nkind: ModelDeployment\nmetadata:\n  name: fraud\n"
       << "spec:\n  projectId: abcd-1234-efgh-5678\n  modelName: FraudCLF-verified\n"
       << "  registeredModel: {name: " << registered_model << ", version: " << version << "}\n"
       << "  runtime: " << kRuntime << "\n  resources: {cpu: 1, memory: 2Gi, replicas: 1}\n"
       << (verify ? kVerify : "");
  return yaml.str();
}

class VerificationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(emulator_.port(), 0) << emulator_.process().Stderr();
    WriteFileAtomically(desired_ / "fraud.yaml", Desired("FraudCLF-alice", 3));
  }

  void StartDaemon() {
    daemon_ = std::make_unique<Daemon>(std::vector<std::string>{
        "--desired", desired_.string(), "--cml-url", emulator_.url(), "--api-key-file",
        emulator_.key_file().string(), "--resync", "2s", "--api-qps", "200", "--api-burst", "200"});
    ASSERT_GT(daemon_->port(), 0) << daemon_->Output();
  }

  json Fraud() {
    for (const json& m : DaemonStatus(daemon_->port()).value("models", json::array())) {
      if (m.value("name", "") == "fraud") return m;
    }
    return json::object();
  }
  std::string Reason() {
    for (const json& c : Fraud().value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") return c.value("reason", "");
    }
    return "";
  }
  bool WaitForReason(const std::string& reason, seconds timeout = seconds(60)) {
    return WaitFor([&] { return Reason() == reason; }, timeout);
  }

  // The FraudCLF-verified model of the emulator, and the deployment that is deployed.
  json CmlModel() {
    for (const json& project : emulator_.State().value("projects", json::array())) {
      for (const json& model : project.value("models", json::array())) {
        if (model.value("name", "") == "FraudCLF-verified") return model;
      }
    }
    return json::object();
  }
  std::string Deployed(std::string* version_id = nullptr) {
    for (const json& build : CmlModel().value("builds", json::array())) {
      for (const json& d : build.value("deployments", json::array())) {
        if (d.value("status", "") != "deployed") continue;
        if (version_id != nullptr) *version_id = build.value("registered_model_version_id", "");
        return d.value("id", "");
      }
    }
    return "";
  }
  int Applied(const std::string& operation) {
    int count = 0;
    for (const json& w : emulator_.Calls().value("writes_log", json::array())) {
      count += w.value("operation", "") == operation && w.value("status", 0) == 200;
    }
    return count;
  }
  int InferenceCalls(const std::string& status) {
    return emulator_.Calls().value(json::json_pointer("/inference/by_status/" + status), 0);
  }
  std::string Describe() {
    return "status: " + Fraud().dump(1) + "\ndaemon log: " + daemon_->Output();
  }

  // Version 3 deployed, verified and Healthy.
  void ConvergeOnVersion3() {
    StartDaemon();
    ASSERT_TRUE(WaitForReason("Synced")) << Describe();
    ASSERT_EQ(Fraud()["verification"].value("result", ""), "Passed") << Describe();
  }

  Emulator emulator_;
  TempDir dir_;
  const fs::path desired_ = dir_ / "desired";
  std::unique_ptr<Daemon> daemon_;
};

// Verifies a good version: Healthy only after the seed's request was answered with
// predictions, twice, and the status says so.
TEST_F(VerificationE2eTest, GoodVersionIsVerifiedAndHealthy) {
  ConvergeOnVersion3();
  EXPECT_EQ(Fraud().value("health", ""), "Healthy");
  EXPECT_EQ(InferenceCalls("200"), 2);
  const std::string metrics = Http("GET", daemon_->port(), "/metrics").body;
  EXPECT_EQ(
      MetricValue(metrics, R"(cml_reconciler_verifications_total{model="fraud",result="passed"})"),
      1);
}

// Verifies that a version whose model answers 500 is rolled back to version 3 with one restore
// write, serves version 3 again, and stays Stalled RolledBack without more writes.
TEST_F(VerificationE2eTest, BrokenInferenceRollsBackWithOneRestore) {
  ConvergeOnVersion3();
  WriteFileAtomically(desired_ / "fraud.yaml", Desired("FraudCLF-alice", 4));
  ASSERT_TRUE(WaitForReason("RolledBack")) << Describe();
  std::string version;
  ASSERT_TRUE(WaitFor([&] { return !Deployed(&version).empty(); }, seconds(30)));
  EXPECT_EQ(version, "q7vn-2cb8-j5rt-6ys0") << "version 3 should serve again";
  EXPECT_EQ(Applied("create_model_deployment"), 3);  // v3, v4, the v3 restore
  EXPECT_EQ(Fraud()["lastGood"].value("version", 0), 3) << Describe();
  EXPECT_EQ(Fraud().value("health", ""), "Degraded");
  const int writes = emulator_.Writes();
  std::this_thread::sleep_for(seconds(5));  // two more resyncs: nothing happens
  EXPECT_EQ(emulator_.Writes(), writes);
  const std::string metrics = Http("GET", daemon_->port(), "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, R"(cml_reconciler_rollbacks_total{model="fraud"})"), 1);
}

// Verifies that deployments that fail never cost the serving one: version 3 keeps serving on
// the same deployment, nothing is stopped, and the model ends Stalled RolledBack.
TEST_F(VerificationE2eTest, FailedDeploymentsNeverStopTheServingOne) {
  ConvergeOnVersion3();
  const std::string serving = Deployed();
  WriteFileAtomically(desired_ / "fraud.yaml", Desired("FraudCLF-undeployable", 1));
  ASSERT_TRUE(WaitForReason("RolledBack", seconds(90))) << Describe();
  EXPECT_EQ(Deployed(), serving);
  EXPECT_EQ(Applied("stop_model_deployment"), 0);
  EXPECT_EQ(Applied("create_model_deployment"), 1 + 3);
}

// Verifies that with no earlier good version a failed verification is Degraded with nothing to
// roll back to, and that the model is not verified or written again and again.
TEST_F(VerificationE2eTest, NoPreviousGoodVersionIsDegradedWithoutALoop) {
  WriteFileAtomically(desired_ / "fraud.yaml", Desired("FraudCLF-alice", 5));
  StartDaemon();
  ASSERT_TRUE(WaitForReason("VerificationFailed")) << Describe();
  EXPECT_EQ(Fraud().value("health", ""), "Degraded");
  EXPECT_NE(Fraud()["verification"].value("message", "").find("predictions"), std::string::npos)
      << Describe();
  const int writes = emulator_.Writes();
  const int inferences = InferenceCalls("200");
  std::this_thread::sleep_for(seconds(5));
  EXPECT_EQ(emulator_.Writes(), writes);
  EXPECT_EQ(InferenceCalls("200"), inferences);
}

// Verifies that "last good" is found from CML after a restart: the daemon is SIGKILLed while
// it verifies a broken version (the model kept busy), and the new process, which never saw
// version 3 verified, still rolls back to it with one restore.
TEST_F(VerificationE2eTest, RollbackAfterASigkillMidVerification) {
  ConvergeOnVersion3();
  ASSERT_EQ(emulator_.Admin("PUT", "/_emulator/faults", R"({"model_busy": 100000})").status, 200);
  WriteFileAtomically(desired_ / "fraud.yaml", Desired("FraudCLF-alice", 4));
  ASSERT_TRUE(WaitFor([&] { return InferenceCalls("429") > 0; }, seconds(60))) << Describe();
  daemon_->process().Signal(SIGKILL);
  daemon_->process().Wait(seconds(10));
  ASSERT_EQ(emulator_.Admin("PUT", "/_emulator/faults", R"({"model_busy": 0})").status, 200);
  EXPECT_EQ(Applied("create_model_deployment"), 2);  // no restore before the kill
  StartDaemon();
  ASSERT_TRUE(WaitForReason("RolledBack")) << Describe();
  std::string version;
  ASSERT_TRUE(WaitFor([&] { return !Deployed(&version).empty(); }, seconds(30)));
  EXPECT_EQ(version, "q7vn-2cb8-j5rt-6ys0");
  EXPECT_EQ(Applied("create_model_deployment"), 3);
}

}  // namespace
}  // namespace cmlr::e2e
