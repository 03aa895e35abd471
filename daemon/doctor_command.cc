// `cml-reconciler doctor`: the read-only checks of daemon/doctor.h against a workspace, over a
// client that cannot write.

#include <cstdio>
#include <exception>
#include <memory>

#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "api/read_only_cml_client.h"
#include "config/loader.h"
#include "daemon/cml_connection.h"
#include "daemon/commands.h"
#include "daemon/doctor.h"
#include "daemon/logging.h"

namespace cmlr::daemon {

namespace net = boost::asio;

int RunDoctor(DaemonOptions options) {
  if (common::Status valid = ValidateOptions(options, Command::kDoctor); !valid.ok()) {
    std::fprintf(stderr, "cml-reconciler doctor: %s\n", valid.message().c_str());
    return 1;
  }
  std::shared_ptr<const config::Snapshot> desired;
  if (!options.desired.empty()) {
    std::vector<std::filesystem::path> paths(options.desired.begin(), options.desired.end());
    config::LoadResult loaded = config::LoadDesiredState(paths);
    for (const config::LoadError& error : loaded.errors) {
      std::fprintf(stderr, "%s\n", error.ToString().c_str());
    }
    if (!loaded.snapshot) return 1;
    desired = loaded.snapshot;
  }
  auto logger =
      MakeLogger(options.log_format, options.log_level == "info" ? "error" : options.log_level);
  net::io_context io(1);
  common::RealClock clock;
  prometheus::Registry registry;
  auto client = CreateCmlClient(io.get_executor(), clock, options, registry, logger);
  if (!client.ok()) {
    std::fprintf(stderr, "cml-reconciler doctor: %s\n", client.status().message().c_str());
    return 1;
  }
  api::ReadOnlyCmlClient read_only(**client);
  int exit_code = 1;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        EndpointProbe probe = co_await ProbeEndpoint(io.get_executor(), clock, options);
        const DoctorReport report = co_await RunDoctorChecks(read_only, desired, probe);
        const std::string text =
            options.output == "json" ? DoctorJson(report).dump(2) + "\n" : FormatDoctorText(report);
        std::fputs(text.c_str(), stdout);
        exit_code = report.failed() ? 1 : 0;
        (*client)->CloseIdleConnections();
      },
      [&](std::exception_ptr failure) {
        if (!failure) return;
        std::fprintf(stderr, "cml-reconciler doctor: failed: %s\n",
                     DescribeException(failure).c_str());
        exit_code = 1;
      });
  io.run();
  return exit_code;
}

}  // namespace cmlr::daemon
