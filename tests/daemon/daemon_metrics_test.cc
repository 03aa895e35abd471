#include "daemon/daemon_metrics.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "config/snapshot.h"

namespace cmlr::daemon {
namespace {

// {label set rendered as "k=v,k=v": value} of the family `name` (gauges and counters).
std::map<std::string, double> Series(prometheus::Registry& registry, const std::string& name) {
  std::map<std::string, double> series;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::string key;
      for (const auto& label : metric.label) {
        key += (key.empty() ? "" : ",") + label.name + "=" + label.value;
      }
      series[key] = family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                   : metric.gauge.value;
    }
  }
  return series;
}

// Verifies that the latest load's result is a 0/1 gauge: 0 before any load, 1 after a
// success, 0 after a rejected tree, 1 again after the next good one.
TEST(DaemonMetricsTest, LastLoadSuccessFollowsTheLatestLoad) {
  prometheus::Registry registry;
  DaemonMetrics metrics(registry);
  const std::string name = "cml_reconciler_desired_state_last_load_success";
  EXPECT_EQ(Series(registry, name), (std::map<std::string, double>{{"", 0}}));
  metrics.Loaded(*config::Snapshot::Empty(), common::TimePoint{});
  EXPECT_EQ(Series(registry, name).at(""), 1);
  metrics.Failed();
  EXPECT_EQ(Series(registry, name).at(""), 0);
  EXPECT_EQ(Series(registry, "cml_reconciler_desired_state_loads_total").at("result=error"), 1);
  metrics.Loaded(*config::Snapshot::Empty(), common::TimePoint{});
  EXPECT_EQ(Series(registry, name).at(""), 1);
}

// Verifies that desired_state_info is one series that follows the revision, and that an empty
// revision is published as "unknown".
TEST(DaemonMetricsTest, RevisionInfoIsOneSeries) {
  prometheus::Registry registry;
  DaemonMetrics metrics(registry);
  const std::string name = "cml_reconciler_desired_state_info";
  EXPECT_TRUE(Series(registry, name).empty());
  metrics.SetRevision("");
  EXPECT_EQ(Series(registry, name), (std::map<std::string, double>{{"revision=unknown", 1}}));
  metrics.SetRevision("0123abcd");
  metrics.SetRevision("0123abcd");
  EXPECT_EQ(Series(registry, name), (std::map<std::string, double>{{"revision=0123abcd", 1}}));
  metrics.SetRevision("4567ef01");
  EXPECT_EQ(Series(registry, name), (std::map<std::string, double>{{"revision=4567ef01", 1}}));
}

// Verifies that the three notification results exist from the start at 0 and that nothing
// else ever becomes a label value.
TEST(DaemonMetricsTest, NotificationsHaveThreeResults) {
  prometheus::Registry registry;
  DaemonMetrics metrics(registry);
  const std::string name = "cml_reconciler_notifications_total";
  EXPECT_EQ(Series(registry, name),
            (std::map<std::string, double>{
                {"result=dropped", 0}, {"result=failed", 0}, {"result=sent", 0}}));
  metrics.CountNotification("sent");
  metrics.CountNotification("sent");
  metrics.CountNotification("failed");
  metrics.CountNotification("dropped");
  metrics.CountNotification("https://hooks.example.com/secret");
  EXPECT_EQ(Series(registry, name),
            (std::map<std::string, double>{
                {"result=dropped", 1}, {"result=failed", 1}, {"result=sent", 2}}));
}

}  // namespace
}  // namespace cmlr::daemon
