#include "daemon/daemon_options.h"

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cmlr::daemon {
namespace {

// Parses `args` (after the program name) as `command`'s flags.
DaemonOptions Parse(Command command, std::vector<std::string> args) {
  CLI::App app;
  DaemonOptions options;
  AddDaemonFlags(app, options, command);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  return options;
}

// Verifies the defaults of section 6 and that durations are parsed by ValidateOptions.
TEST(DaemonOptionsTest, DefaultsAndDurations) {
  DaemonOptions options = Parse(Command::kRun, {"--desired", "dir"});
  EXPECT_EQ(options.listen, "127.0.0.1:9464");
  EXPECT_EQ(options.concurrency, 8);
  EXPECT_EQ(options.api_qps, 10);
  EXPECT_EQ(options.api_burst, 20);
  ASSERT_TRUE(ValidateOptions(options, Command::kRun).ok());
  EXPECT_EQ(options.resync_duration, std::chrono::seconds(60));
  EXPECT_EQ(options.timeout_duration, std::chrono::minutes(30));
}

// Verifies that the environment fills flags that are not given, and flags win over it.
TEST(DaemonOptionsTest, EnvironmentFallbacks) {
  ::setenv("CMLR_DESIRED", "/env/desired", 1);
  ::setenv("CML_URL", "https://env.example", 1);
  DaemonOptions options = Parse(Command::kPlan, {});
  EXPECT_EQ(options.desired, std::vector<std::string>{"/env/desired"});
  EXPECT_EQ(options.cml_url, "https://env.example");
  options = Parse(Command::kPlan, {"--cml-url", "https://flag.example"});
  EXPECT_EQ(options.cml_url, "https://flag.example");
  ::unsetenv("CMLR_DESIRED");
  ::unsetenv("CML_URL");
}

// Verifies that flags of another command are refused.
TEST(DaemonOptionsTest, FlagsBelongToTheirCommand) {
  EXPECT_THROW(Parse(Command::kPlan, {"--desired", "d", "--listen", ":0"}), CLI::ParseError);
  EXPECT_THROW(Parse(Command::kRun, {"--desired", "d", "--timeout", "5m"}), CLI::ParseError);
  EXPECT_THROW(Parse(Command::kRun, {"--desired", "d", "--concurrency", "0"}), CLI::ParseError);
}

// Verifies that values CLI11 cannot check are INVALID_ARGUMENT naming the flag.
TEST(DaemonOptionsTest, ValidateNamesTheBadFlag) {
  const struct {
    std::vector<std::string> args;
    std::string flag;
  } cases[] = {
      {{"--desired", "d", "--resync", "soon"}, "--resync"},
      {{"--desired", "d", "--resync", "500ms"}, "--resync"},
      {{"--desired", "d", "--ca-file", "/nonexistent/ca.pem"}, "--ca-file"},
  };
  for (const auto& c : cases) {
    DaemonOptions options = Parse(Command::kRun, c.args);
    const common::Status status = ValidateOptions(options, Command::kRun);
    EXPECT_EQ(status.code(), common::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_NE(status.message().find(c.flag), std::string::npos) << status;
  }
  DaemonOptions apply = Parse(Command::kApply, {"--desired", "d", "--timeout", "forever"});
  EXPECT_NE(ValidateOptions(apply, Command::kApply).message().find("--timeout"), std::string::npos);
}

}  // namespace
}  // namespace cmlr::daemon
