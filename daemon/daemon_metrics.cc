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
                        .Add({})) {
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
}
void DaemonMetrics::Failed() { loads_.Add({{"result", "error"}}).Increment(); }

}  // namespace cmlr::daemon
