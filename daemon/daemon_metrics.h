#pragma once

#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "config/snapshot.h"

namespace cmlr::daemon {

// The daemon's own families of design section 8, created once on the registry passed in:
//
//   cml_reconciler_build_info{version,revision}                    1
//   cml_reconciler_desired_state_loads_total{result}               success, error (both at 0)
//   cml_reconciler_desired_state_models                            models in force
//   cml_reconciler_desired_state_last_success_timestamp_seconds    Unix seconds
//   cml_reconciler_desired_state_last_load_success                 1 after Loaded(), 0 after
//                                                                  Failed(); 0 before any load
//   cml_reconciler_desired_state_info{revision}                    1, one series, from the first
//                                                                  SetRevision() on
//   cml_reconciler_notifications_total{result}                     sent, failed, dropped (at 0)
class DaemonMetrics {
 public:
  explicit DaemonMetrics(prometheus::Registry& registry);

  void Loaded(const config::Snapshot& snapshot, common::TimePoint now);
  void Failed();
  // The source revision of the desired state in force (design section 12). The one series of
  // cml_reconciler_desired_state_info is replaced when the revision changes; an empty revision
  // (none found) is published as revision="unknown", as build_info does.
  void SetRevision(const std::string& revision);
  // One notification's fate: "sent", "failed" or "dropped" (queue full). Any other value is a
  // programming error and is not counted, so that the label stays bounded.
  void CountNotification(std::string_view result);

 private:
  prometheus::Family<prometheus::Counter>& loads_;
  prometheus::Gauge& models_;
  prometheus::Gauge& last_success_;
  prometheus::Gauge& last_load_success_;
  prometheus::Family<prometheus::Gauge>& info_;
  prometheus::Gauge* info_series_ = nullptr;
  std::string revision_;
  prometheus::Family<prometheus::Counter>& notifications_;
  prometheus::Counter& notifications_sent_;
  prometheus::Counter& notifications_failed_;
  prometheus::Counter& notifications_dropped_;
};

}  // namespace cmlr::daemon
