#include "daemon/doctor.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "api/read_only_cml_client.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_cml_client.h"

namespace cmlr::daemon {
namespace {

namespace net = boost::asio;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kProject[] = "abcd-1234-efgh-5678";
constexpr char kRuntime[] = "rt-2024";

config::ModelDeploymentSpec Spec() {
  config::ModelDeploymentSpec spec;
  spec.name = "fraud-classifier";
  spec.project_id = kProject;
  spec.model_name = "FraudCLF-endpoint";
  spec.registered_model = {.name = "FraudCLF-alice", .version = 3};
  spec.runtime = std::string(kRuntime);
  spec.resources = {.cpu = 1, .memory_gib = 2, .replicas = 1};
  return spec;
}

// A faithful in-memory CML holding the desired model, its build and a deployment.
class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cml_.AddRuntime({.image_identifier = kRuntime, .kernel = "Python 3.9", .status = "ENABLED"});
    cml_.AddRuntime({.image_identifier = "rt-old", .kernel = "Python 3.7", .status = "DEPRECATED"});
    api::RegisteredModel model{.name = "FraudCLF-alice"};
    api::RegisteredModelVersion version{
        .model_version_id = "v-3", .number = 3, .status = "REGISTERED"};
    version.model_version_metadata.mlflow_metadata.run_id = "run-3";
    model.model_versions.push_back(version);
    registry_id_ = cml_.AddRegisteredModel(model).model_id;
    Run([&]() -> net::awaitable<void> {
      const api::CreateModelRequest create{.name = "FraudCLF-endpoint"};
      auto created = co_await cml_.CreateModel(kProject, create);
      const api::CreateModelBuildRequest build{.comment = "cml-reconciler fraud-classifier x",
                                               .runtime_identifier = kRuntime,
                                               .registered_model_version_id = "v-3"};
      auto built = co_await cml_.CreateModelBuild(kProject, created->id, build);
      clock_.Advance(minutes(1));
      const api::CreateModelDeploymentRequest deploy{.cpu = 1, .memory = 2, .replicas = 1};
      (void)co_await cml_.CreateModelDeployment(kProject, created->id, built->id, deploy);
    });
    writes_before_ = cml_.writes();
  }

  template <typename F>
  void Run(F body) {
    net::co_spawn(io_, body(), net::detached);
    io_.run();
    io_.restart();
  }

  DoctorReport Doctor(EndpointProbe probe = {
                          .url = "https://cml.example", .tls = true, .clock_skew = seconds(0)}) {
    auto snapshot = config::Snapshot::Create({Spec()});
    EXPECT_TRUE(snapshot.ok());
    api::ReadOnlyCmlClient read_only(cml_);
    DoctorReport report;
    Run([&]() -> net::awaitable<void> {
      report = co_await RunDoctorChecks(read_only, *snapshot, probe);
    });
    EXPECT_EQ(cml_.writes(), writes_before_) << "doctor wrote to CML";
    return report;
  }

  static const DoctorCheck* Find(const DoctorReport& report, std::string_view name) {
    for (const DoctorCheck& check : report.checks) {
      if (check.name == name) return &check;
    }
    return nullptr;
  }

  net::io_context io_;
  testing::FakeClock clock_;
  testing::FakeCmlClient cml_{clock_};
  std::string registry_id_;
  int writes_before_ = 0;
};

// Verifies that a workspace that behaves as the API promises passes every check.
TEST_F(DoctorTest, FaithfulWorkspacePasses) {
  const DoctorReport report = Doctor();
  EXPECT_FALSE(report.failed()) << FormatDoctorText(report);
  for (const char* name : {"tls", "clock", "api key", "runtimes", "paging",
                           "project abcd-1234-efgh-5678", "missing ids", "fraud-classifier runtime",
                           "fraud-classifier registered model", "list fields"}) {
    const DoctorCheck* check = Find(report, name);
    ASSERT_NE(check, nullptr) << name << "\n" << FormatDoctorText(report);
    EXPECT_EQ(check->result, CheckResult::kPass) << name << ": " << check->message;
  }
  EXPECT_NE(Find(report, "list fields")->message.find("3 list items"), std::string::npos);
}

// Verifies that list answers lacking identity fields FAIL, naming each missing field.
TEST_F(DoctorTest, SparseListsFailNamingTheFields) {
  cml_.SetQuirks({.sparse_lists = true});
  const DoctorReport report = Doctor();
  EXPECT_TRUE(report.failed());
  const DoctorCheck* fields = Find(report, "list fields");
  ASSERT_NE(fields, nullptr);
  EXPECT_EQ(fields->result, CheckResult::kFail);
  for (const char* field : {"registered_model_version_id", "runtime_identifier",
                            "model_version_metadata.mlflow_metadata.run_id"}) {
    EXPECT_NE(fields->message.find(field), std::string::npos) << fields->message;
  }
}

// Verifies that a 403 for a missing id is a warning (the daemon copes), a 404 a pass.
TEST_F(DoctorTest, ForbiddenForMissingWarns) {
  cml_.SetQuirks({.forbidden_for_missing = true});
  const DoctorReport report = Doctor();
  EXPECT_EQ(Find(report, "missing ids")->result, CheckResult::kWarn);
  EXPECT_FALSE(report.failed()) << FormatDoctorText(report);
}

// Verifies that a rejected key fails at once and nothing else is asked of CML.
TEST_F(DoctorTest, InvalidKeyStopsTheChecks) {
  cml_.FailNext("validate_api_key",
                common::UnauthenticatedError("HTTP 401: invalid API key").WithHttpStatus(401));
  const int calls = cml_.total_calls();
  const DoctorReport report = Doctor();
  EXPECT_TRUE(report.failed());
  EXPECT_EQ(Find(report, "api key")->result, CheckResult::kFail);
  EXPECT_EQ(Find(report, "runtimes"), nullptr);
  EXPECT_EQ(cml_.total_calls(), calls + 1);
}

// Verifies the clock and TLS findings of the endpoint probe.
TEST_F(DoctorTest, ClockSkewAndPlainHttp) {
  DoctorReport report = Doctor({.url = "http://127.0.0.1:1", .clock_skew = seconds(-90)});
  EXPECT_EQ(Find(report, "tls")->result, CheckResult::kWarn);
  EXPECT_EQ(Find(report, "clock")->result, CheckResult::kWarn);
  EXPECT_NE(Find(report, "clock")->message.find("1m30s behind"), std::string::npos)
      << Find(report, "clock")->message;
  report = Doctor({.url = "https://cml.example", .tls = true, .clock_skew = minutes(6)});
  EXPECT_EQ(Find(report, "clock")->result, CheckResult::kFail);
  report = Doctor({.url = "https://cml.example", .error = "certificate verify failed"});
  EXPECT_EQ(Find(report, "tls")->result, CheckResult::kFail);
}

// Verifies the two renderings: aligned PASS/WARN/FAIL lines with a summary, and JSON counts.
TEST_F(DoctorTest, RendersTextAndJson) {
  DoctorReport report;
  report.checks = {{"api key", CheckResult::kPass, "valid"},
                   {"paging", CheckResult::kWarn, "few"},
                   {"list fields", CheckResult::kFail, "missing"}};
  EXPECT_EQ(FormatDoctorText(report),
            "PASS  api key      valid\n"
            "WARN  paging       few\n"
            "FAIL  list fields  missing\n"
            "1 passed, 1 warnings, 1 failed\n");
  const nlohmann::json json = DoctorJson(report);
  EXPECT_EQ(json["fail"], 1);
  EXPECT_EQ(json["checks"][2]["result"], "FAIL");
}

}  // namespace
}  // namespace cmlr::daemon
