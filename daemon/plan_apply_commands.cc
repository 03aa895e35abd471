// `plan` and `apply`: one-shot commands over the same client and reconciler as `run`.

#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/duration.h"
#include "config/loader.h"
#include "controllers/controller.h"
#include "controllers/prune_candidates.h"
#include "daemon/cml_connection.h"
#include "daemon/commands.h"
#include "daemon/logging.h"
#include "daemon/plan_report.h"

namespace cmlr::daemon {

namespace net = boost::asio;

namespace {

std::shared_ptr<const config::Snapshot> LoadOrReport(const DaemonOptions& options) {
  std::vector<std::filesystem::path> paths(options.desired.begin(), options.desired.end());
  config::LoadResult loaded = config::LoadDesiredState(paths);
  for (const config::LoadError& error : loaded.errors) {
    std::fprintf(stderr, "%s\n", error.ToString().c_str());
  }
  return loaded.snapshot;
}

// Synced and Healthy, or deliberately left alone (suspend: observed and reported only).
bool Converged(const controllers::ModelStatus& status) {
  return status.health == controllers::HealthState::kSuspended ||
         (status.sync == controllers::SyncState::kSynced &&
          status.health == controllers::HealthState::kHealthy);
}

bool IsStalled(const controllers::ModelStatus& status) {
  const controllers::Condition* stalled = status.FindCondition(controllers::kConditionStalled);
  return stalled != nullptr && stalled->status == "True";
}

}  // namespace

int RunPlan(DaemonOptions options) {
  if (common::Status valid = ValidateOptions(options, Command::kPlan); !valid.ok()) {
    std::fprintf(stderr, "cml-reconciler plan: %s\n", valid.message().c_str());
    return 1;
  }
  auto snapshot = LoadOrReport(options);
  if (!snapshot) return 1;
  auto logger =
      MakeLogger(options.log_format, options.log_level == "info" ? "warn" : options.log_level);
  net::io_context io(1);
  common::RealClock clock;
  prometheus::Registry registry;
  auto client = CreateCmlClient(io.get_executor(), clock, options, registry, logger);
  if (!client.ok()) {
    std::fprintf(stderr, "cml-reconciler plan: %s\n", client.status().message().c_str());
    return 1;
  }
  controllers::StatusStore statuses;
  controllers::ModelReconciler reconciler(**client, clock, statuses, nullptr, logger, {});
  PlanReport report{.revision = snapshot->revision()};
  bool finished = false;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        for (const auto& [name, spec] : snapshot->models()) {
          auto plan = co_await reconciler.PlanOnly(spec);
          report.models.push_back(plan.ok() ? RowFromPlan(name, *plan)
                                            : RowFromError(name, plan.status()));
        }
        if (options.prune) {
          auto candidates = co_await controllers::FindPruneCandidates(**client, snapshot);
          if (!candidates.ok()) {
            report.models.push_back(RowFromError("(prune)", candidates.status()));
          } else {
            for (PlanRow& row : RowsFromPruneCandidates(*candidates)) {
              report.models.push_back(std::move(row));
            }
          }
        }
        finished = true;
      },
      [](std::exception_ptr failure) {
        // "No changes" must never be claimed when the plan did not finish.
        if (failure) {
          std::fprintf(stderr, "cml-reconciler plan: failed: %s\n",
                       DescribeException(failure).c_str());
        }
      });
  io.run();
  if (!finished) return 1;
  const std::string out = options.output == "json"       ? PlanToJson(report).dump(2) + "\n"
                          : options.output == "markdown" ? FormatPlanMarkdown(report)
                                                         : FormatPlanText(report);
  std::fputs(out.c_str(), stdout);
  return PlanExitCode(report);
}

int RunApply(DaemonOptions options) {
  if (common::Status valid = ValidateOptions(options, Command::kApply); !valid.ok()) {
    std::fprintf(stderr, "cml-reconciler apply: %s\n", valid.message().c_str());
    return 1;
  }
  auto snapshot = LoadOrReport(options);
  if (!snapshot) return 1;
  auto logger = MakeLogger(options.log_format, options.log_level);
  net::io_context io(1);
  common::RealClock clock;
  prometheus::Registry registry;
  auto client = CreateCmlClient(io.get_executor(), clock, options, registry, logger);
  if (!client.ok()) {
    std::fprintf(stderr, "cml-reconciler apply: %s\n", client.status().message().c_str());
    return 1;
  }
  auto model_service = CreateModelServiceClient(io.get_executor(), clock, options);
  if (!model_service.ok()) {
    std::fprintf(stderr, "cml-reconciler apply: %s\n", model_service.status().message().c_str());
    return 1;
  }
  controllers::ControllerOptions controller_options;
  controller_options.reconciler.prune = options.prune;
  controller_options.reconciler.model_service = model_service->get();
  controllers::Controller controller(io.get_executor(), clock, **client, registry, logger,
                                     controller_options);
  int exit_code = 1;
  bool done = false;
  net::steady_timer deadline(io);
  net::signal_set signals(io, SIGINT, SIGTERM);
  auto finish = [&](int code) {
    if (done) return;
    done = true;
    exit_code = code;
    controller.ShutDown();
    deadline.cancel();
    signals.cancel();
  };
  controller.SetPassObserver([&](const std::string&, const auto&) {
    bool all_settled = true, any_stalled = false;
    for (const auto& [name, spec] : snapshot->models()) {
      const controllers::ModelStatus* status = controller.statuses().Find(name);
      if (status == nullptr) {
        all_settled = false;
        break;
      }
      const bool stalled = IsStalled(*status);
      any_stalled |= stalled;
      all_settled &= stalled || Converged(*status);
    }
    if (all_settled) finish(any_stalled ? 3 : 0);
  });
  controller.SetDesiredState(snapshot);
  if (snapshot->size() == 0) finish(0);
  deadline.expires_after(options.timeout_duration);
  deadline.async_wait([&](boost::system::error_code ec) {
    if (ec) return;
    logger->error("Timed out after {} before every model converged",
                  common::FormatDuration(options.timeout_duration));
    finish(1);
  });
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) finish(1);
  });
  net::co_spawn(io, controller.Run(), net::detached);
  io.run();
  for (const auto& [name, status] : controller.statuses().all()) {
    const controllers::Condition* ready = status.FindCondition(controllers::kConditionReady);
    std::printf("%s: %s, %s%s\n", name.c_str(), std::string(ToString(status.sync)).c_str(),
                std::string(ToString(status.health)).c_str(),
                ready && !ready->message.empty() ? (" - " + ready->message).c_str() : "");
  }
  return exit_code;
}

}  // namespace cmlr::daemon
