// `cml-reconciler run`: the composition root of the daemon. Everything runs on one io_context
// thread: the desired-state watcher, the work queue and reconcilers, the CML client and the
// HTTP endpoints (house style point 13).

#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/atomic_file.h"
#include "common/duration.h"
#include "config/loader.h"
#include "controllers/controller.h"
#include "daemon/cml_connection.h"
#include "daemon/commands.h"
#include "daemon/daemon_metrics.h"
#include "daemon/desired_state_watcher.h"
#include "daemon/http_endpoints.h"
#include "daemon/key_health.h"
#include "daemon/logging.h"
#include "daemon/notifier.h"
#include "daemon/process_metrics.h"

namespace cmlr::daemon {

namespace net = boost::asio;

namespace {

constexpr auto kShutdownDeadline = std::chrono::seconds(9);

}  // namespace

int RunDaemon(DaemonOptions options) {
  if (common::Status valid = ValidateOptions(options, Command::kRun); !valid.ok()) {
    std::fprintf(stderr, "cml-reconciler run: %s\n", valid.message().c_str());
    return 1;
  }
  auto logger = MakeLogger(options.log_format, options.log_level);
  common::RealClock clock;
  auto registry = std::make_shared<prometheus::Registry>();
  DaemonMetrics metrics(*registry);

  // Fail fast: an invalid initial desired state, key or CA file ends start-up before serving.
  std::vector<std::filesystem::path> paths(options.desired.begin(), options.desired.end());
  config::LoadResult initial = config::LoadDesiredState(paths);
  if (!initial.snapshot) {
    for (const config::LoadError& error : initial.errors) {
      std::fprintf(stderr, "%s\n", error.ToString().c_str());
    }
    std::fprintf(stderr, "cml-reconciler run: the desired state is invalid (%zu errors)\n",
                 initial.errors.size());
    return 1;
  }
  metrics.Loaded(*initial.snapshot, clock.Now());

  net::io_context io(1);
  auto client = CreateCmlClient(io.get_executor(), clock, options, *registry, logger);
  if (!client.ok()) {
    std::fprintf(stderr, "cml-reconciler run: %s\n", client.status().message().c_str());
    return 1;
  }
  auto model_service = CreateModelServiceClient(io.get_executor(), clock, options, logger);
  if (!model_service.ok()) {
    std::fprintf(stderr, "cml-reconciler run: %s\n", model_service.status().message().c_str());
    return 1;
  }
  Readiness readiness{.desired_state_loaded = true};
  KeyHealthMonitor key_health(clock, **client, (*client)->api_key_source(), readiness, logger);
  key_health.Start(io.get_executor());

  controllers::ControllerOptions controller_options{.concurrency = options.concurrency};
  controller_options.reconciler.dry_run = options.dry_run;
  controller_options.reconciler.prune = options.prune;
  controller_options.reconciler.resync = options.resync_duration;
  controller_options.reconciler.model_service = model_service->get();
  controllers::Controller controller(io.get_executor(), clock, **client, *registry, logger,
                                     controller_options);
  controller.SetDesiredState(initial.snapshot);
  logger->info("Loaded desired state models={} files={} revision={}", initial.snapshot->size(),
               initial.files, initial.snapshot->revision().value_or("none"));

  auto notifier = CreateNotifier(io.get_executor(), clock, options, metrics, logger);
  if (!notifier.ok()) {
    std::fprintf(stderr, "cml-reconciler run: %s\n", notifier.status().message().c_str());
    return 1;
  }
  (*notifier)->Attach(controller);

  DesiredStateWatcher watcher(
      io.get_executor(), clock, paths, {.resync = options.resync_duration},
      [&](const config::LoadResult& loaded) {
        if (!loaded.snapshot) {
          metrics.Failed();
          for (const config::LoadError& error : loaded.errors) {
            logger->warn("Rejected desired state error=\"{}\"", error.ToString());
          }
          logger->warn("Kept the last good desired state errors={}", loaded.errors.size());
          (*notifier)->DesiredStateRejected(
              loaded.errors.size(), loaded.errors.empty() ? "" : loaded.errors.front().ToString(),
              loaded.revision);
          controller.RejectDesiredState(
              loaded.errors.size(), loaded.errors.empty() ? "" : loaded.errors.front().ToString());
          return;
        }
        metrics.Loaded(*loaded.snapshot, clock.Now());
        (*notifier)->DesiredStateAccepted();
        const auto changed =
            config::Snapshot::ChangedNames(controller.desired_state().get(), *loaded.snapshot);
        if (!changed.empty()) {
          logger->info("Loaded desired state models={} changed={} revision={}",
                       loaded.snapshot->size(), fmt::join(changed, ","),
                       loaded.snapshot->revision().value_or("none"));
        }
        controller.SetDesiredState(loaded.snapshot);
      });

  auto admin = AdminAuth::FromFlag(options.admin_token_file);
  if (!admin.ok()) {
    std::fprintf(stderr, "cml-reconciler run: %s\n", admin.status().message().c_str());
    return 1;
  }
  HttpEndpoints endpoints(controller, readiness, {registry, std::make_shared<ProcessMetrics>()},
                          std::move(*admin));
  auto server = common::HttpServer::Create(io.get_executor(),
                                           {.listen = options.listen, .max_body_bytes = 64 * 1024},
                                           endpoints.Handler());
  if (!server.ok()) {
    std::fprintf(stderr, "cml-reconciler run: %s\n", server.status().message().c_str());
    return 1;
  }
  (*server)->Start();
  if (!options.port_file.empty()) {
    const common::Status written =
        common::WriteFileAtomically(options.port_file, std::to_string((*server)->port()) + "\n");
    if (!written.ok()) {
      std::fprintf(stderr, "cml-reconciler run: --port-file: %s\n", written.message().c_str());
      return 1;
    }
  }
  logger->info("Started listen={}:{} desired={} dry_run={} prune={}",
               options.listen.substr(0, options.listen.rfind(':')), (*server)->port(),
               fmt::join(options.desired, ","), options.dry_run, options.prune);

  net::steady_timer hard_deadline(io);
  net::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      logger->info("Reloading desired state on SIGHUP");
      watcher.ReloadNow();
      signals.async_wait(on_signal);
      return;
    }
    if (stopping) return;
    stopping = true;
    logger->info("Shutting down signal={}", signal);
    watcher.Stop();
    controller.ShutDown();
    (*server)->Stop();
    // In-flight CML calls finish within their deadlines; never outstay the grace period.
    hard_deadline.expires_after(kShutdownDeadline);
    hard_deadline.async_wait([&](boost::system::error_code timer_ec) {
      if (!timer_ec) {
        logger->warn("Shutdown deadline reached; leaving in-flight work");
        io.stop();
      }
    });
  };
  signals.async_wait(on_signal);
  watcher.Start();
  int exit_code = 0;
  net::co_spawn(io, controller.Run(), [&](std::exception_ptr failure) {
    // The queue ended: nothing else keeps the daemon. Only a shutdown may end it.
    if (failure || !stopping) {
      logger->error("Controller stopped unexpectedly error=\"{}\"", DescribeException(failure));
      exit_code = 1;
    }
    (*client)->CloseIdleConnections();
    key_health.Stop();
    (*notifier)->Stop();
    hard_deadline.cancel();
    signals.cancel();
    watcher.Stop();
    (*server)->Stop();
  });
  io.run();
  logger->info("Stopped exit_code={}", exit_code);
  return exit_code;
}

}  // namespace cmlr::daemon
