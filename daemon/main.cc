// cml-reconciler: the composition root. Parses the command line and runs one subcommand.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/cli_commands.h"
#include "daemon/commands.h"
#include "daemon/daemon_options.h"
#include "daemon/validate_command.h"

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

  using cmlr::daemon::ClientCommand;
  cmlr::daemon::ClientCommandOptions client;
  auto* status = app.add_subcommand(
      "status", "print a running daemon's status table (with NAME: one model in detail)");
  cmlr::daemon::AddClientFlags(*status, client, ClientCommand::kStatus);
  status->callback([&] { exit_code = cmlr::daemon::RunStatus(client, std::cout, std::cerr); });

  auto* wait = app.add_subcommand(
      "wait", "wait until models are Synced and Healthy; exit 0 ready, 1 timeout, 3 stalled");
  cmlr::daemon::AddClientFlags(*wait, client, ClientCommand::kWait);
  wait->callback([&] { exit_code = cmlr::daemon::RunWait(client, std::cout, std::cerr); });

  auto* retry = app.add_subcommand("retry", "ask the daemon to retry a stalled model now");
  cmlr::daemon::AddClientFlags(*retry, client, ClientCommand::kRetry);
  retry->callback([&] { exit_code = cmlr::daemon::RunRetry(client, std::cout, std::cerr); });

  auto* reconcile =
      app.add_subcommand("reconcile", "ask the daemon to reconcile one model (or all) now");
  cmlr::daemon::AddClientFlags(*reconcile, client, ClientCommand::kReconcile);
  reconcile->callback(
      [&] { exit_code = cmlr::daemon::RunReconcile(client, std::cout, std::cerr); });

  return cmlr::daemon::ParseCommandLine(app, argc, argv, exit_code, std::cout, std::cerr);
}
