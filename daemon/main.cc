// cml-reconciler: the composition root. Parses the command line and runs one subcommand.

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/validate_command.h"

namespace {

int NotBuiltYet(const std::string& command) {
  std::fprintf(stderr,
               "cml-reconciler %s: not available in this build yet (see README.md, Status)\n",
               command.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cml-reconciler: GitOps for Cloudera Machine Learning model deployments"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(CMLR_VERSION));

  auto* version = app.add_subcommand("version", "print the version and revision");
  int exit_code = 0;
  version->callback([&] { std::printf("cml-reconciler %s (%s)\n", CMLR_VERSION, CMLR_REVISION); });

  auto* validate = app.add_subcommand(
      "validate", "offline check of desired-state files; exit 0 valid, 1 invalid");
  std::vector<std::string> validate_paths;
  validate->add_option("PATH", validate_paths, "desired-state files or directories")->required();
  validate->callback(
      [&exit_code, &validate_paths] { exit_code = cmlr::daemon::RunValidate(validate_paths); });

  for (const char* name : {"run", "plan", "apply", "status"}) {
    auto* sub = app.add_subcommand(name, std::string("(coming) ") + name);
    sub->allow_extras();
    sub->callback([&exit_code, name] { exit_code = NotBuiltYet(name); });
  }

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
