// cml-reconciler: the composition root. Parses the command line and runs one subcommand.

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/duration.h"
#include "daemon/commands.h"
#include "daemon/daemon_client.h"
#include "daemon/daemon_options.h"
#include "daemon/status_table.h"
#include "daemon/validate_command.h"

namespace {

int RunStatus(const std::string& url) {
  auto client = cmlr::daemon::DaemonClient::Create(url);
  auto status = client.ok() ? (*client)->Get("/api/v1/status")
                            : cmlr::common::StatusOr<nlohmann::json>(client.status());
  if (!status.ok()) {
    std::fprintf(stderr, "cml-reconciler status: %s\n", status.status().message().c_str());
    return 1;
  }
  std::fputs(cmlr::daemon::FormatStatusTable(*status).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using cmlr::daemon::Command;
  CLI::App app{"cml-reconciler: GitOps for Cloudera Machine Learning model deployments"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(CMLR_VERSION));
  int exit_code = 0;

  auto* version = app.add_subcommand("version", "print the version and revision");
  version->callback([&] { std::printf("cml-reconciler %s (%s)\n", CMLR_VERSION, CMLR_REVISION); });

  cmlr::daemon::DaemonOptions options;
  auto* run = app.add_subcommand("run", "run the daemon (the main job)");
  cmlr::daemon::AddDaemonFlags(*run, options, Command::kRun);
  run->callback([&] { exit_code = cmlr::daemon::RunDaemon(options); });

  auto* plan =
      app.add_subcommand("plan", "print what would change; exit 0 nothing, 2 changes, 1 error");
  cmlr::daemon::AddDaemonFlags(*plan, options, Command::kPlan);
  plan->callback([&] { exit_code = cmlr::daemon::RunPlan(options); });

  auto* apply = app.add_subcommand(
      "apply", "converge once and exit; exit 0 converged, 1 error or timeout, 3 stalled");
  cmlr::daemon::AddDaemonFlags(*apply, options, Command::kApply);
  apply->callback([&] { exit_code = cmlr::daemon::RunApply(options); });

  auto* doctor = app.add_subcommand(
      "doctor", "read-only checks of a CML workspace; exit 0 no FAIL, 1 any FAIL; never writes");
  cmlr::daemon::AddDaemonFlags(*doctor, options, Command::kDoctor);
  doctor->callback([&] { exit_code = cmlr::daemon::RunDoctor(options); });

  auto* validate = app.add_subcommand(
      "validate", "offline check of desired-state files; exit 0 valid, 1 invalid");
  std::vector<std::string> validate_paths;
  validate->add_option("PATH", validate_paths, "desired-state files or directories")->required();
  validate->callback(
      [&exit_code, &validate_paths] { exit_code = cmlr::daemon::RunValidate(validate_paths); });

  auto* status = app.add_subcommand("status", "print a running daemon's status table");
  std::string status_url = "http://127.0.0.1:9464";
  status->add_option("--url", status_url, "the daemon's HTTP endpoint")->capture_default_str();
  status->callback([&] { exit_code = RunStatus(status_url); });

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
