#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/clock.h"
#include "config/snapshot.h"

namespace cmlr::daemon {

// cml_reconciler_desired_state_* and cml_reconciler_build_info (design section 8).
class DaemonMetrics {
 public:
  explicit DaemonMetrics(prometheus::Registry& registry);

  void Loaded(const config::Snapshot& snapshot, common::TimePoint now);
  void Failed();

 private:
  prometheus::Family<prometheus::Counter>& loads_;
  prometheus::Gauge& models_;
  prometheus::Gauge& last_success_;
};

}  // namespace cmlr::daemon
