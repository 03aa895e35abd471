#include "daemon/daemon_metrics.h"

#include "common/duration.h"

namespace cmlr::daemon {

DaemonMetrics::DaemonMetrics(prometheus::Registry& registry)
    : loads_(prometheus::BuildCounter()
                 .Name("cml_reconciler_desired_state_loads_total")
                 .Help("Loads of the desired state by result")
                 .Register(registry)),
      models_(prometheus::BuildGauge()
                  .Name("cml_reconciler_desired_state_models")
                  .Help("Models in the desired state in force")
                  .Register(registry)
                  .Add({})),
      last_success_(prometheus::BuildGauge()
                        .Name("cml_reconciler_desired_state_last_success_timestamp_seconds")
                        .Help("When the desired state last loaded without error")
                        .Register(registry)
                        .Add({})),
      last_load_success_(prometheus::BuildGauge()
                             .Name("cml_reconciler_desired_state_last_load_success")
                             .Help("1 if the latest load of the desired state succeeded, 0 if "
                                   "it was rejected (the last good one stays in force)")
                             .Register(registry)
                             .Add({})),
      info_(prometheus::BuildGauge()
                .Name("cml_reconciler_desired_state_info")
                .Help("Always 1; the revision label names the source revision in force")
                .Register(registry)),
      notifications_(prometheus::BuildCounter()
                         .Name("cml_reconciler_notifications_total")
                         .Help("Notifications by result: sent, failed (after retries), dropped "
                               "(queue full)")
                         .Register(registry)),
      notifications_sent_(notifications_.Add({{"result", "sent"}})),
      notifications_failed_(notifications_.Add({{"result", "failed"}})),
      notifications_dropped_(notifications_.Add({{"result", "dropped"}})) {
  prometheus::BuildGauge()
      .Name("cml_reconciler_build_info")
      .Help("Always 1; labels carry the version and revision")
      .Register(registry)
      .Add({{"version", CMLR_VERSION}, {"revision", CMLR_REVISION}})
      .Set(1);
  loads_.Add({{"result", "success"}});
  loads_.Add({{"result", "error"}});
}

void DaemonMetrics::Loaded(const config::Snapshot& snapshot, common::TimePoint now) {
  loads_.Add({{"result", "success"}}).Increment();
  models_.Set(static_cast<double>(snapshot.size()));
  last_success_.Set(common::ToUnixSeconds(now));
  last_load_success_.Set(1);
  SetRevision(snapshot.revision().value_or(""));
}

void DaemonMetrics::Failed() {
  loads_.Add({{"result", "error"}}).Increment();
  last_load_success_.Set(0);
}

void DaemonMetrics::SetRevision(const std::string& revision) {
  const std::string value = revision.empty() ? "unknown" : revision;
  if (info_series_ != nullptr && value == revision_) return;
  if (info_series_ != nullptr) info_.Remove(info_series_);
  info_series_ = &info_.Add({{"revision", value}});
  info_series_->Set(1);
  revision_ = value;
}

void DaemonMetrics::CountNotification(std::string_view result) {
  if (result == "sent") {
    notifications_sent_.Increment();
  } else if (result == "failed") {
    notifications_failed_.Increment();
  } else if (result == "dropped") {
    notifications_dropped_.Increment();
  }
}

}  // namespace cmlr::daemon
