// `cml-reconciler run`: the composition root of the daemon. Everything runs on one io_context
// thread: the desired-state watcher, the work queue and reconcilers, the CML client and the
// HTTP endpoints (house style point 13).

#include <cstdio>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

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
#include "daemon/heap_trimmer.h"
#include "daemon/http_endpoints.h"
#include "daemon/key_health.h"
#include "daemon/logging.h"
#include "daemon/notifier.h"
#include "daemon/process_metrics.h"

namespace cmlr::daemon {

namespace net = boost::asio;

namespace {

constexpr auto kShutdownDeadline = std::chrono::seconds(9);
constexpr auto kHeapTrimPeriod = std::chrono::seconds(60);

int Fail(std::string_view message) {
  std::fprintf(stderr, "cml-reconciler run: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return 1;
}

// The desired state to start from; null (its errors printed) when it is invalid: start-up
// fails fast rather than serving nothing.
std::shared_ptr<const config::Snapshot> LoadInitialDesiredState(
    const std::vector<std::filesystem::path>& paths, spdlog::logger& logger) {
  config::LoadResult initial = config::LoadDesiredState(paths);
  if (!initial.snapshot) {
    for (const config::LoadError& error : initial.errors) {
      std::fprintf(stderr, "%s\n", error.ToString().c_str());
    }
    std::fprintf(stderr, "cml-reconciler run: the desired state is invalid (%zu errors)\n",
                 initial.errors.size());
    return nullptr;
  }
  logger.info("Loaded desired state models={} files={} revision={}", initial.snapshot->size(),
              initial.files, initial.snapshot->revision().value_or("none"));
  return initial.snapshot;
}

// Where each reload of the desired state goes: a valid one replaces the controller's, a
// rejected one is logged, counted, reported and notified while the last good one stays.
struct ReloadSink {
  DaemonMetrics& metrics;
  Notifier& notifier;
  controllers::Controller& controller;
  spdlog::logger& logger;
  common::Clock& clock;

  void operator()(const config::LoadResult& loaded) const {
    if (!loaded.snapshot) {
      metrics.Failed();
      for (const config::LoadError& error : loaded.errors) {
        logger.warn("Rejected desired state error=\"{}\"", error.ToString());
      }
      logger.warn("Kept the last good desired state errors={}", loaded.errors.size());
      const std::string first = loaded.errors.empty() ? "" : loaded.errors.front().ToString();
      notifier.DesiredStateRejected(loaded.errors.size(), first, loaded.revision);
      controller.RejectDesiredState(loaded.errors.size(), first);
      return;
    }
    metrics.Loaded(*loaded.snapshot, clock.Now());
    notifier.DesiredStateAccepted();
    const auto changed =
        config::Snapshot::ChangedNames(controller.desired_state().get(), *loaded.snapshot);
    if (!changed.empty()) {
      logger.info("Loaded desired state models={} changed={} revision={}", loaded.snapshot->size(),
                  fmt::join(changed, ","), loaded.snapshot->revision().value_or("none"));
    }
    controller.SetDesiredState(loaded.snapshot);
  }
};

// The endpoints' server, listening, with its port written to --port-file.
common::StatusOr<std::unique_ptr<common::HttpServer>> StartHttpServer(net::any_io_executor executor,
                                                                      const DaemonOptions& options,
                                                                      HttpEndpoints& endpoints) {
  auto server = common::HttpServer::Create(
      executor, {.listen = options.listen, .max_body_bytes = 64 * 1024}, endpoints.Handler());
  if (!server.ok()) return server.status();
  (*server)->Start();
  if (!options.port_file.empty()) {
    const common::Status written =
        common::WriteFileAtomically(options.port_file, std::to_string((*server)->port()) + "\n");
    if (!written.ok()) return written.Annotate("--port-file");
  }
  return server;
}

controllers::ControllerOptions MakeControllerOptions(const DaemonOptions& options,
                                                     api::ModelServiceClient* model_service) {
  controllers::ControllerOptions controller_options{.concurrency = options.concurrency};
  controller_options.reconciler.dry_run = options.dry_run;
  controller_options.reconciler.prune = options.prune;
  controller_options.reconciler.resync = options.resync_duration;
  controller_options.reconciler.model_service = model_service;
  return controller_options;
}

// Signals and the end of the daemon: SIGHUP reloads; SIGTERM/SIGINT stop taking work and let
// in-flight calls finish, within kShutdownDeadline; the controller's end releases the rest.
class Lifecycle {
 public:
  Lifecycle(net::io_context& io, spdlog::logger& logger, DesiredStateWatcher& watcher,
            controllers::Controller& controller, common::HttpServer& server,
            std::vector<std::function<void()>> on_end)
      : io_(io),
        logger_(logger),
        watcher_(watcher),
        controller_(controller),
        server_(server),
        on_end_(std::move(on_end)),
        hard_deadline_(io),
        signals_(io, SIGINT, SIGTERM, SIGHUP) {}

  void Start() { Wait(); }

  // Called once the controller's queue ended; the exit code of the daemon.
  int Ended(std::exception_ptr failure) {
    int exit_code = 0;
    if (failure || !stopping_) {  // only a shutdown may end the queue
      logger_.error("Controller stopped unexpectedly error=\"{}\"", DescribeException(failure));
      exit_code = 1;
    }
    for (const auto& stop : on_end_) stop();
    hard_deadline_.cancel();
    signals_.cancel();
    watcher_.Stop();
    server_.Stop();
    return exit_code;
  }

 private:
  void Wait() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (!ec) OnSignal(signal);
    });
  }

  void OnSignal(int signal) {
    if (signal == SIGHUP) {
      logger_.info("Reloading desired state on SIGHUP");
      watcher_.ReloadNow();
      Wait();
      return;
    }
    if (stopping_) return;
    stopping_ = true;
    logger_.info("Shutting down signal={}", signal);
    watcher_.Stop();
    controller_.ShutDown();
    server_.Stop();
    // In-flight CML calls finish within their deadlines; never outstay the grace period.
    hard_deadline_.expires_after(kShutdownDeadline);
    hard_deadline_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      logger_.warn("Shutdown deadline reached; leaving in-flight work");
      io_.stop();
    });
  }

  net::io_context& io_;
  spdlog::logger& logger_;
  DesiredStateWatcher& watcher_;
  controllers::Controller& controller_;
  common::HttpServer& server_;
  std::vector<std::function<void()>> on_end_;
  net::steady_timer hard_deadline_;
  net::signal_set signals_;
  bool stopping_ = false;
};

}  // namespace

int RunDaemon(DaemonOptions options) {
  if (common::Status valid = ValidateOptions(options, Command::kRun); !valid.ok()) {
    return Fail(valid.message());
  }
  auto logger = MakeLogger(options.log_format, options.log_level);
  common::RealClock clock;
  auto registry = std::make_shared<prometheus::Registry>();
  DaemonMetrics metrics(*registry);
  const std::vector<std::filesystem::path> paths(options.desired.begin(), options.desired.end());
  const auto initial = LoadInitialDesiredState(paths, *logger);
  if (!initial) return 1;
  metrics.Loaded(*initial, clock.Now());

  net::io_context io(1);
  auto client = CreateCmlClient(io.get_executor(), clock, options, *registry, logger);
  if (!client.ok()) return Fail(client.status().message());
  auto model_service = CreateModelServiceClient(io.get_executor(), clock, options, logger);
  if (!model_service.ok()) return Fail(model_service.status().message());
  auto notifier = CreateNotifier(io.get_executor(), clock, options, metrics, logger);
  if (!notifier.ok()) return Fail(notifier.status().message());
  auto admin = AdminAuth::FromFlag(options.admin_token_file);
  if (!admin.ok()) return Fail(admin.status().message());

  Readiness readiness{.desired_state_loaded = true};
  KeyHealthMonitor key_health(clock, **client, (*client)->api_key_source(), readiness, logger);
  controllers::Controller controller(io.get_executor(), clock, **client, *registry, logger,
                                     MakeControllerOptions(options, model_service->get()));
  controller.SetDesiredState(initial);
  (*notifier)->Attach(controller);
  DesiredStateWatcher watcher(io.get_executor(), clock, paths, {.resync = options.resync_duration},
                              ReloadSink{metrics, **notifier, controller, *logger, clock});
  HttpEndpoints endpoints(controller, readiness, {registry, std::make_shared<ProcessMetrics>()},
                          std::move(*admin));
  auto server = StartHttpServer(io.get_executor(), options, endpoints);
  if (!server.ok()) return Fail(server.status().message());
  logger->info("Started listen={}:{} desired={} dry_run={} prune={}",
               options.listen.substr(0, options.listen.rfind(':')), (*server)->port(),
               fmt::join(options.desired, ","), options.dry_run, options.prune);

  HeapTrimmer trimmer(io.get_executor(), kHeapTrimPeriod);
  Lifecycle lifecycle(io, *logger, watcher, controller, **server,
                      {[&] { (*client)->CloseIdleConnections(); }, [&] { key_health.Stop(); },
                       [&] { (*notifier)->Stop(); }, [&] { trimmer.Stop(); }});
  key_health.Start(io.get_executor());
  trimmer.Start();
  lifecycle.Start();
  watcher.Start();
  int exit_code = 0;
  net::co_spawn(io, controller.Run(),
                [&](std::exception_ptr failure) { exit_code = lifecycle.Ended(failure); });
  io.run();
  logger->info("Stopped exit_code={}", exit_code);
  return exit_code;
}

}  // namespace cmlr::daemon
