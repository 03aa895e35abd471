#include "daemon/cli_commands.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "tests/daemon/test_http_server.h"

namespace cmlr::daemon {
namespace {

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using nlohmann::json;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

json Entry(const std::string& name) {
  return {{"name", name},
          {"sync", "Synced"},
          {"health", "Healthy"},
          {"conditions",
           {{{"type", "Ready"},
             {"status", "True"},
             {"reason", "Deployed"},
             {"message", "deployment d-1 serves version 3"},
             {"lastTransitionTime", "2026-01-01T00:00:00Z"}}}},
          {"live", {{"version", 3}, {"replicas", 1}, {"desiredReplicas", 1}}},
          {"history", json::array()},
          {"plannedAction", nullptr}};
}

// A daemon that knows the model "fraud" (and "a b" to check percent-encoding).
common::HttpResponse FakeDaemon(const common::HttpRequest& request) {
  const std::string target(request.target());
  if (target == "/api/v1/status") {
    return JsonAnswer(http::status::ok,
                      json{{"revision", "abc123"}, {"models", {Entry("fraud")}}}.dump());
  }
  if (target == "/api/v1/status/fraud") return JsonAnswer(http::status::ok, Entry("fraud").dump());
  if (target == "/api/v1/status/a%20b") return JsonAnswer(http::status::ok, Entry("a b").dump());
  if (target == "/api/v1/models/fraud/retry") {
    return JsonAnswer(http::status::accepted, R"({"retrying": "fraud"})");
  }
  if (target == "/api/v1/reconcile") {
    return JsonAnswer(http::status::accepted, R"({"queued": ["churn", "fraud"]})");
  }
  if (target == "/api/v1/reconcile?name=fraud") {
    return JsonAnswer(http::status::accepted, R"({"queued": ["fraud"]})");
  }
  return JsonAnswer(http::status::not_found, R"({"error": "unknown model"})");
}

class ClientCommandsTest : public ::testing::Test {
 protected:
  ClientCommandOptions Options(std::vector<std::string> names = {}) {
    ClientCommandOptions options;
    options.url = server_.url();
    options.names = std::move(names);
    return options;
  }
  std::vector<std::string> Targets() const { return server_.targets(); }

  TestHttpServer server_{FakeDaemon};
  std::ostringstream out_, err_;
};

// Verifies that `status` prints the table with the revision above it.
TEST_F(ClientCommandsTest, StatusPrintsTheTable) {
  EXPECT_EQ(RunStatus(Options(), out_, err_), 0) << err_.str();
  EXPECT_TRUE(out_.str().starts_with("Revision: abc123\n")) << out_.str();
  EXPECT_TRUE(Contains(out_.str(), "fraud")) << out_.str();
  EXPECT_EQ(Targets(), std::vector<std::string>{"/api/v1/status"});
}

// Verifies that `status -o json` prints the daemon's JSON unchanged, pretty printed.
TEST_F(ClientCommandsTest, StatusJsonIsTheDaemonsJson) {
  ClientCommandOptions options = Options();
  options.output = "json";
  EXPECT_EQ(RunStatus(options, out_, err_), 0) << err_.str();
  EXPECT_EQ(json::parse(out_.str()), (json{{"revision", "abc123"}, {"models", {Entry("fraud")}}}));
  EXPECT_TRUE(Contains(out_.str(), "\n  \"models\"")) << out_.str();
}

// Verifies that `status NAME` asks for that model (percent-encoded) and prints its row and
// details.
TEST_F(ClientCommandsTest, StatusOfOneModel) {
  EXPECT_EQ(RunStatus(Options({"a b"}), out_, err_), 0) << err_.str();
  EXPECT_EQ(Targets(), std::vector<std::string>{"/api/v1/status/a%20b"});
  EXPECT_TRUE(Contains(out_.str(), "Conditions:")) << out_.str();
  EXPECT_TRUE(Contains(out_.str(), "Planned action: none")) << out_.str();
}

// Verifies that `status NAME` of a model the daemon does not know exits 1 and says so.
TEST_F(ClientCommandsTest, StatusOfAnUnknownModelFails) {
  EXPECT_EQ(RunStatus(Options({"nope"}), out_, err_), 1);
  EXPECT_TRUE(Contains(err_.str(), "no model named nope")) << err_.str();
  EXPECT_TRUE(out_.str().empty());
}

// Verifies that `status` against nothing listening exits 1 naming the URL.
TEST(ClientCommandsStandaloneTest, StatusOfAnUnreachableDaemonFails) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  ClientCommandOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  acceptor.close();
  std::ostringstream out, err;
  EXPECT_EQ(RunStatus(options, out, err), 1);
  EXPECT_TRUE(Contains(err.str(), options.url)) << err.str();
}

// Verifies that retry and reconcile POST to the right endpoints and exit 0 when accepted.
TEST_F(ClientCommandsTest, RetryAndReconcilePost) {
  EXPECT_EQ(RunRetry(Options({"fraud"}), out_, err_), 0) << err_.str();
  EXPECT_EQ(RunReconcile(Options({"fraud"}), out_, err_), 0) << err_.str();
  EXPECT_EQ(RunReconcile(Options(), out_, err_), 0) << err_.str();
  EXPECT_EQ(Targets(),
            (std::vector<std::string>{"/api/v1/models/fraud/retry", "/api/v1/reconcile?name=fraud",
                                      "/api/v1/reconcile"}));
  for (const auto& request : server_.requests()) EXPECT_EQ(request.method(), http::verb::post);
  EXPECT_TRUE(Contains(out_.str(), "Retrying fraud")) << out_.str();
  EXPECT_TRUE(Contains(out_.str(), "churn fraud")) << out_.str();
}

// Verifies that retrying an unknown model exits 1 and names it.
TEST_F(ClientCommandsTest, RetryOfAnUnknownModelFails) {
  EXPECT_EQ(RunRetry(Options({"nope"}), out_, err_), 1);
  EXPECT_TRUE(Contains(err_.str(), "no model named nope")) << err_.str();
  EXPECT_EQ(RunReconcile(Options({"nope"}), out_, err_), 1);
}

// Verifies that the token of --admin-token-file is sent as a bearer key, without its newline.
TEST_F(ClientCommandsTest, SendsTheAdminToken) {
  const fs::path file =
      fs::temp_directory_path() / ("cmlr-token-test-" + std::to_string(::getpid()));
  std::ofstream(file) << "s3cret\n";
  ClientCommandOptions options = Options({"fraud"});
  options.admin_token_file = file.string();
  EXPECT_EQ(RunRetry(options, out_, err_), 0) << err_.str();
  fs::remove(file);
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0][http::field::authorization], "Bearer s3cret");
}

// Verifies that 401 and 403 exit 1 with advice about the admin token.
TEST(ClientCommandsStandaloneTest, RefusedPostsExplainTheToken) {
  for (const auto status : {http::status::unauthorized, http::status::forbidden}) {
    TestHttpServer server(JsonAnswer(status, R"({"error": "refused"})"));
    ClientCommandOptions options;
    options.url = server.url();
    std::ostringstream out, err;
    EXPECT_EQ(RunReconcile(options, out, err), 1);
    EXPECT_TRUE(Contains(err.str(), "refused")) << err.str();
    EXPECT_TRUE(Contains(err.str(), "--admin-token-file")) << err.str();
  }
}

// Verifies that an admin token file that is missing or blank is an error before any request.
TEST(ReadAdminTokenTest, RejectsMissingAndBlankFiles) {
  EXPECT_EQ(ReadAdminToken("/nonexistent/token").status().code(),
            common::StatusCode::kInvalidArgument);
  const fs::path file =
      fs::temp_directory_path() / ("cmlr-blank-token-test-" + std::to_string(::getpid()));
  std::ofstream(file) << " \n\t\n";
  EXPECT_EQ(ReadAdminToken(file.string()).status().code(), common::StatusCode::kInvalidArgument);
  std::ofstream(file) << "  tok en \n";
  EXPECT_EQ(ReadAdminToken(file.string()).value(), "tok en");
  fs::remove(file);
}

// The command line of main.cc in miniature: a `plan` with a required flag, and the client
// commands.
class ParseCommandLineTest : public ::testing::Test {
 protected:
  ParseCommandLineTest() {
    app_.require_subcommand(1);
    app_.set_version_flag("--version", "1.2.3");
    auto* plan = app_.add_subcommand("plan", "plan");
    plan->add_option("--desired", desired_)->required();
    plan->add_option("-o,--output", output_)->check(CLI::IsMember({"text", "json"}));
    plan->callback([this] { exit_code_ = 2; });
    for (const auto& [name, command] :
         {std::pair{"status", ClientCommand::kStatus}, std::pair{"wait", ClientCommand::kWait},
          std::pair{"retry", ClientCommand::kRetry},
          std::pair{"reconcile", ClientCommand::kReconcile}}) {
      auto* sub = app_.add_subcommand(name, name);
      AddClientFlags(*sub, options_, command);
      sub->callback([this, name = std::string(name)] { ran_ = name; });
    }
  }

  int Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "cml-reconciler");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    return ParseCommandLine(app_, static_cast<int>(argv.size()), argv.data(), exit_code_, out_,
                            err_);
  }

  CLI::App app_{"test"};
  std::string desired_, output_;
  ClientCommandOptions options_;
  int exit_code_ = 0;
  std::string ran_;
  std::ostringstream out_, err_;
};

// Verifies that an unknown flag is named (not the missing required flag) and exits 1 with a
// hint naming the command's --help.
TEST_F(ParseCommandLineTest, UnknownFlagIsNamedBeforeMissingRequired) {
  EXPECT_EQ(Parse({"plan", "--bogus"}), 1);
  EXPECT_TRUE(Contains(err_.str(), "cml-reconciler plan: unknown flag --bogus")) << err_.str();
  EXPECT_TRUE(Contains(err_.str(), "Run 'cml-reconciler plan --help' for usage.")) << err_.str();
  EXPECT_FALSE(Contains(err_.str(), "desired")) << err_.str();
}

// Verifies that a missing required flag, a bad value and a surplus argument are usage errors
// (exit 1, never CLI11's own codes or plan's 2).
TEST_F(ParseCommandLineTest, UsageErrorsExitOne) {
  const std::vector<std::vector<std::string>> cases = {
      {"plan"},
      {"plan", "--desired", "d", "-o", "yaml"},
      {"plan", "--desired", "d", "surplus"},
      {"plan", "--desired"},
      {"wait", "--for", "ready"},
      {"wait", "--timeout", "10x"},
      {"status", "a", "b"},
      {"status", "-o", "yaml"},
      {"retry"},
      {"retry", "a", "b"},
      {},
  };
  for (const auto& args : cases) {
    err_.str("");
    EXPECT_EQ(Parse(args), 1) << ::testing::PrintToString(args);
    EXPECT_TRUE(Contains(err_.str(), "--help' for usage.")) << err_.str();
    EXPECT_TRUE(ran_.empty()) << ::testing::PrintToString(args);
  }
}

// Verifies that an unknown command says so and points at the top-level --help.
TEST_F(ParseCommandLineTest, UnknownCommand) {
  EXPECT_EQ(Parse({"frobnicate", "--x"}), 1);
  EXPECT_TRUE(Contains(err_.str(), "cml-reconciler: unknown command \"frobnicate\"")) << err_.str();
  EXPECT_TRUE(Contains(err_.str(), "Run 'cml-reconciler --help' for usage.")) << err_.str();
}

// Verifies that --help and --version exit 0 and print to stdout.
TEST_F(ParseCommandLineTest, HelpAndVersionExitZero) {
  EXPECT_EQ(Parse({"--help"}), 0);
  EXPECT_EQ(Parse({"plan", "--help"}), 0);
  EXPECT_EQ(Parse({"--version"}), 0);
  EXPECT_TRUE(Contains(out_.str(), "1.2.3")) << out_.str();
  EXPECT_TRUE(err_.str().empty()) << err_.str();
}

// Verifies that a valid command line runs the callback and returns the exit code it set.
TEST_F(ParseCommandLineTest, ReturnsTheCommandsExitCode) {
  EXPECT_EQ(Parse({"plan", "--desired", "d"}), 2);
  exit_code_ = 0;
  EXPECT_EQ(Parse({"wait", "a", "b", "--for", "synced", "--timeout", "2m", "--revision", "r1"}), 0);
  EXPECT_EQ(ran_, "wait");
  EXPECT_EQ(options_.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(options_.wait_for, "synced");
  EXPECT_EQ(options_.timeout, "2m");
  EXPECT_EQ(options_.revision, "r1");
}

}  // namespace
}  // namespace cmlr::daemon
