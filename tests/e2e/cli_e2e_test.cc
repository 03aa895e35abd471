// The command line against a running daemon (design section 6), end to end: the real
// cml-reconciler (`run`, then `wait`, `status`, `retry`, `reconcile`) against the real emulator,
// whose fixture holds FraudCLF-alice versions 1-3 (good) and no version 99. Also the usage
// errors of every command: exit 1 and a hint, never CLI11's own codes.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

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

std::string Desired(const std::string& name, const std::string& cml_model, int version) {
  std::ostringstream yaml;
  yaml << "apiVersion: cml-reconciler/v1\nkind: ModelDeployment\nmetadata:\n  name: " << name
       << "\nspec:\n  projectId: abcd-1234-efgh-5678\n  modelName: " << cml_model
       << "\n  registeredModel: {name: FraudCLF-alice, version: " << version << "}\n"
       << "  runtime: " << kRuntime << "\n  resources: {cpu: 1, memory: 2Gi, replicas: 1}\n";
  return yaml.str();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One finished run of the cml-reconciler binary.
struct CliRun {
  std::optional<int> exit_code;
  std::string out, err;
};

CliRun Cli(std::vector<std::string> args, seconds timeout = seconds(30),
           std::map<std::string, std::string> env = {}) {
  Process process(DaemonBinary(), std::move(args), std::move(env));
  CliRun run;
  run.exit_code = process.Wait(timeout);
  run.out = process.Stdout();
  run.err = process.Stderr();
  return run;
}

std::string Describe(const CliRun& run) {
  return "exit " + (run.exit_code ? std::to_string(*run.exit_code) : std::string("none")) +
         "\nstdout: " + run.out + "\nstderr: " + run.err;
}

class CliE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(DaemonBinary())) << DaemonBinary();
    ASSERT_GT(emulator_.port(), 0) << emulator_.process().Stderr();
    fs::create_directories(desired_);
  }

  void StartDaemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--desired",      desired_.string(),
                                     "--cml-url",      emulator_.url(),
                                     "--api-key-file", emulator_.key_file().string(),
                                     "--resync",       "2s",
                                     "--api-qps",      "200",
                                     "--api-burst",    "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<Daemon>(args);
    ASSERT_GT(daemon_->port(), 0) << daemon_->Output();
    url_ = "http://127.0.0.1:" + std::to_string(daemon_->port());
  }

  Emulator emulator_;
  TempDir dir_;
  const fs::path desired_ = dir_ / "desired";
  std::unique_ptr<Daemon> daemon_;
  std::string url_;
};

// Verifies that `wait` started beside the daemon exits 0 once every model is Synced and
// Healthy, and that status, status NAME, retry and reconcile then work from the CLI.
TEST_F(CliE2eTest, WaitThenStatusRetryAndReconcile) {
  WriteFile(desired_ / "fraud.yaml", Desired("fraud", "FraudCLF-cli-fraud", 3));
  WriteFile(desired_ / "churn.yaml", Desired("churn", "FraudCLF-cli-churn", 2));
  StartDaemon();

  const CliRun waited = Cli({"wait", "--url", url_, "--timeout", "2m"}, seconds(150));
  ASSERT_EQ(waited.exit_code, 0) << Describe(waited) << daemon_->Output();
  EXPECT_TRUE(Contains(waited.out, "2 models")) << Describe(waited);
  EXPECT_TRUE(AllSynced(daemon_->port(), 2)) << DaemonStatus(daemon_->port()).dump(1);
  const CliRun synced =
      Cli({"wait", "fraud", "--for", "synced", "--url", url_, "--timeout", "10s"});
  EXPECT_EQ(synced.exit_code, 0) << Describe(synced);

  const CliRun status_json = Cli({"status", "-o", "json"}, seconds(30), {{"CMLR_URL", url_}});
  ASSERT_EQ(status_json.exit_code, 0) << Describe(status_json);
  const json parsed = json::parse(status_json.out, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << status_json.out;
  EXPECT_EQ(parsed["models"].size(), 2u) << status_json.out;

  const CliRun table = Cli({"status", "--url", url_});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  EXPECT_TRUE(table.out.starts_with("NAME") || table.out.starts_with("Revision")) << table.out;
  const CliRun one = Cli({"status", "fraud", "--url", url_});
  ASSERT_EQ(one.exit_code, 0) << Describe(one);
  EXPECT_TRUE(Contains(one.out, "Conditions:")) << one.out;
  const CliRun one_json = Cli({"status", "fraud", "-o", "json", "--url", url_});
  ASSERT_EQ(one_json.exit_code, 0) << Describe(one_json);
  EXPECT_EQ(json::parse(one_json.out, nullptr, false).value("name", ""), "fraud") << one_json.out;
  const CliRun unknown = Cli({"status", "nope", "--url", url_});
  EXPECT_EQ(unknown.exit_code, 1) << Describe(unknown);
  EXPECT_TRUE(Contains(unknown.err, "no model named nope")) << Describe(unknown);

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"retry", "fraud"}, {"reconcile", "fraud"}, {"reconcile"}}) {
    std::vector<std::string> with_url = args;
    with_url.insert(with_url.end(), {"--url", url_});
    const CliRun post = Cli(with_url);
    EXPECT_EQ(post.exit_code, 0) << args[0] << ": " << Describe(post);
  }
  const CliRun retry_unknown = Cli({"retry", "nope", "--url", url_});
  EXPECT_EQ(retry_unknown.exit_code, 1) << Describe(retry_unknown);

  // A model the daemon never heard of: waited for until the timeout, then named.
  const CliRun never = Cli({"wait", "fraud", "nope", "--url", url_, "--timeout", "2s"});
  EXPECT_EQ(never.exit_code, 1) << Describe(never);
  EXPECT_TRUE(Contains(never.err, "nope is not Synced and Healthy: not known to the daemon yet"))
      << Describe(never);
}

// Verifies that `wait` exits 3 as soon as a model is Stalled (a registry version that does not
// exist), naming it, while waiting for the other model alone still exits 0.
TEST_F(CliE2eTest, WaitExitsThreeWhenAModelStalls) {
  WriteFile(desired_ / "fraud.yaml", Desired("fraud", "FraudCLF-cli-fraud", 3));
  WriteFile(desired_ / "stuck.yaml", Desired("stuck", "FraudCLF-cli-stuck", 99));
  StartDaemon();

  const CliRun waited = Cli({"wait", "--url", url_, "--timeout", "2m"}, seconds(150));
  ASSERT_EQ(waited.exit_code, 3) << Describe(waited) << daemon_->Output();
  EXPECT_TRUE(Contains(waited.err, "stuck: ")) << Describe(waited);
  const CliRun fraud = Cli({"wait", "fraud", "--url", url_, "--timeout", "2m"}, seconds(150));
  EXPECT_EQ(fraud.exit_code, 0) << Describe(fraud);
}

// Verifies that `wait` against a daemon that is not there retries until the timeout, then
// exits 1 naming the daemon.
TEST_F(CliE2eTest, WaitTimesOutWithoutADaemon) {
  const std::string url = "http://127.0.0.1:" + std::to_string(emulator_.port());
  emulator_.Kill();  // nothing listens on its port any more
  const CliRun waited = Cli({"wait", "--url", url, "--timeout", "3s"});
  EXPECT_EQ(waited.exit_code, 1) << Describe(waited);
  EXPECT_TRUE(Contains(waited.err, "timed out after 3s")) << Describe(waited);
  EXPECT_TRUE(Contains(waited.err, url)) << Describe(waited);
}

// Verifies that with --admin-token-file on the daemon, reconcile needs the token: refused
// without it (exit 1, with advice), accepted with it (also from CMLR_ADMIN_TOKEN_FILE).
TEST_F(CliE2eTest, ReconcileSendsTheAdminToken) {
  WriteFile(desired_ / "fraud.yaml", Desired("fraud", "FraudCLF-cli-fraud", 3));
  const fs::path token = dir_ / "admin-token";
  WriteFile(token, "t0ken-for-the-e2e\n");
  StartDaemon({"--admin-token-file", token.string()});

  const CliRun with = Cli({"reconcile", "--url", url_, "--admin-token-file", token.string()});
  EXPECT_EQ(with.exit_code, 0) << Describe(with);
  const CliRun from_env =
      Cli({"retry", "fraud", "--url", url_}, seconds(30), {{"CMLR_ADMIN_TOKEN_FILE", token}});
  EXPECT_EQ(from_env.exit_code, 0) << Describe(from_env);
  const CliRun without = Cli({"reconcile", "--url", url_});
  EXPECT_EQ(without.exit_code, 1) << Describe(without);
  EXPECT_TRUE(Contains(without.err, "--admin-token-file")) << Describe(without);
}

// Verifies that usage errors exit 1 with the problem and a hint for every command, plan
// included, and name an unknown flag rather than a missing required one; --help and
// --version exit 0.
TEST(CliUsageE2eTest, UsageErrorsExitOneWithAHint) {
  const CliRun bogus = Cli({"plan", "--bogus"});
  EXPECT_EQ(bogus.exit_code, 1) << Describe(bogus);
  EXPECT_TRUE(Contains(bogus.err, "--bogus")) << Describe(bogus);
  EXPECT_TRUE(Contains(bogus.err, "Run 'cml-reconciler plan --help' for usage."))
      << Describe(bogus);

  const CliRun command = Cli({"frobnicate"});
  EXPECT_EQ(command.exit_code, 1) << Describe(command);
  EXPECT_TRUE(Contains(command.err, "unknown command \"frobnicate\"")) << Describe(command);
  EXPECT_TRUE(Contains(command.err, "Run 'cml-reconciler --help' for usage.")) << Describe(command);

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"run", "--bogus"},
                                             {"apply", "--desired", "x", "--bogus"},
                                             {"doctor", "-o", "yaml"},
                                             {"plan"},
                                             {"plan", "--desired", "x", "-o", "yaml"},
                                             {"validate"},
                                             {"status", "-o", "yaml"},
                                             {"wait", "--for", "ready"},
                                             {"wait", "--timeout", "soon"},
                                             {"retry"},
                                             {"reconcile", "a", "b"},
                                             {"version", "--bogus"}}) {
    const CliRun run = Cli(args);
    EXPECT_EQ(run.exit_code, 1) << ::testing::PrintToString(args) << Describe(run);
    EXPECT_TRUE(Contains(run.err, "--help' for usage.")) << Describe(run);
  }
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"--version"}, {"plan", "--help"}, {"wait", "--help"}}) {
    const CliRun run = Cli(args);
    EXPECT_EQ(run.exit_code, 0) << ::testing::PrintToString(args) << Describe(run);
  }
}

}  // namespace
}  // namespace cmlr::e2e
