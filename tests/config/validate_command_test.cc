// End to end: the built `cml-reconciler validate` on the examples and on broken input.

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/config/temp_dir.h"

namespace cmlr::config {
namespace {

using ::testing::HasSubstr;

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs the binary with `args` (already shell-quoted), capturing stdout and stderr.
CommandResult Validate(const TempDir& scratch, const std::string& args) {
  const std::string command = std::string("'") + CMLR_BINARY_DIR "/daemon/cml-reconciler' " + args +
                              " >'" + (scratch.path() / "out").string() + "' 2>'" +
                              (scratch.path() / "err").string() + "'";
  const int status = std::system(command.c_str());
  CommandResult run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = Slurp(scratch.path() / "out");
  run.err = Slurp(scratch.path() / "err");
  return run;
}

// Verifies that the examples validate: exit 0 and a one-line summary.
TEST(ValidateCommandTest, AcceptsExamples) {
  TempDir scratch;
  const CommandResult run =
      Validate(scratch, std::string("validate '") + CMLR_SOURCE_DIR "/deploy/examples'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "5 models valid in 5 files\n");
  EXPECT_EQ(run.err, "");
}

// Verifies that a broken file fails with exit 1 and FILE:LINE:COLUMN: path: message lines.
TEST(ValidateCommandTest, RefusesBrokenFile) {
  TempDir scratch;
  const std::string doc = ValidDocument("m");
  const auto file =
      scratch.Write("broken.yaml", std::string(doc).replace(doc.find("4Gi"), 3, "4GB"));
  scratch.Write("good.yaml", ValidDocument("good"));
  const CommandResult run = Validate(
      scratch, "validate '" + scratch.path().string() + "/good.yaml' '" + file.string() + "'");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr(file.string() +
                                 ":14:13: spec.resources.memory: invalid memory \"4GB\"; use 4Gi"));
  EXPECT_THAT(run.err, HasSubstr("1 error in 2 files\n"));
}

// Verifies that a missing path is an error, and that at least one path is required.
TEST(ValidateCommandTest, RefusesMissingPaths) {
  TempDir scratch;
  EXPECT_EQ(Validate(scratch, "validate '" + scratch.path().string() + "/nope'").exit_code, 1);
  EXPECT_NE(Validate(scratch, "validate").exit_code, 0);
}

}  // namespace
}  // namespace cmlr::config
