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
#include "daemon/cml_connection.h"
#include "daemon/commands.h"
#include "daemon/logging.h"

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
  int exit_code = 0;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        for (const auto& [name, spec] : snapshot->models()) {
          auto plan = co_await reconciler.PlanOnly(spec);
          if (!plan.ok()) {
            std::printf("%s: error: %s\n", name.c_str(), plan.status().ToString().c_str());
            exit_code = 1;
            continue;
          }
          if (plan->health == controllers::HealthState::kSuspended && !plan->stalled &&
              plan->suppressed_by_suspend) {
            // Suspended: nothing will be applied, so it is no change; say what would be.
            std::printf("%s: suspended, no changes applied (%s)\n  would: %s: %s\n", name.c_str(),
                        plan->message.c_str(),
                        std::string(controllers::ActionName(plan->action->kind)).c_str(),
                        plan->action->summary.c_str());
            continue;
          }
          const bool changes = plan->action.has_value() || !plan->diffs.empty() || plan->stalled;
          if (!changes) {
            std::printf("%s: no changes (%s, %s)\n", name.c_str(),
                        std::string(ToString(plan->sync)).c_str(),
                        std::string(ToString(plan->health)).c_str());
            continue;
          }
          if (exit_code == 0) exit_code = 2;
          std::printf("%s: %s\n", name.c_str(),
                      plan->stalled
                          ? fmt::format("stalled ({}): {}", controllers::ReasonName(plan->reason),
                                        plan->message)
                                .c_str()
                          : "changes");
          for (const controllers::FieldDiff& diff : plan->diffs) {
            std::printf("  %s: %s -> %s\n", diff.field.c_str(), diff.live.c_str(),
                        diff.desired.c_str());
          }
          if (plan->action) {
            std::printf("  next action: %s%s: %s\n",
                        std::string(controllers::ActionName(plan->action->kind)).c_str(),
                        plan->suppressed_by_suspend ? " (suspended, not applied)" : "",
                        plan->action->summary.c_str());
          } else if (!plan->stalled) {
            std::printf("  waiting: %s\n", plan->message.c_str());
          }
        }
      },
      [&exit_code](std::exception_ptr failure) {
        if (!failure) return;
        // "No changes" must never be claimed when the plan did not finish.
        std::fprintf(stderr, "cml-reconciler plan: failed: %s\n",
                     DescribeException(failure).c_str());
        exit_code = 1;
      });
  io.run();
  return exit_code;
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
