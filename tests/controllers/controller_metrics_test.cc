#include "controllers/controller_metrics.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "tests/controllers/controller_fixture.h"

namespace cmlr::controllers {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_support::ControllerTest;
using testing_support::Spec;

// Design section 8: at most 15 series per model.
constexpr std::size_t kSeriesPerModel = 15;

// Series of `registry` by the value of their `model` label ("" for series without one), each
// histogram counted as Prometheus stores it (one series per bucket, +Inf, _sum and _count).
std::map<std::string, std::size_t> SeriesByModel(const prometheus::Registry& registry) {
  std::map<std::string, std::size_t> series;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::string model;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "model") model = label.value;
      }
      const std::size_t count =
          family.type == prometheus::MetricType::Histogram ? metric.histogram.bucket.size() + 2 : 1;
      series[model] += count;
    }
  }
  return series;
}

// Names of the families that have at least one series labelled model=`model`.
std::set<std::string> FamiliesOf(const prometheus::Registry& registry, const std::string& model) {
  std::set<std::string> names;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "model" && label.value == model) names.insert(family.name);
      }
    }
  }
  return names;
}

const prometheus::MetricFamily* Family(const std::vector<prometheus::MetricFamily>& families,
                                       const std::string& name) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

ModelStatus StatusOf(const std::string& name, std::string_view stalled = "False") {
  ModelStatus status;
  status.name = name;
  status.sync = SyncState::kSynced;
  status.health = HealthState::kHealthy;
  status.desired_replicas = 2;
  status.live.replicas = 2;
  status.live.model_id = "m-" + name;
  status.live.version = 3;
  status.resolved_runtime = "runtime";
  status.last_synced_at = common::TimePoint{} + seconds(1'800'000'000);
  status.conditions = {{.type = std::string(kConditionReady), .status = "True"},
                       {.type = std::string(kConditionReconciling), .status = "False"},
                       {.type = std::string(kConditionStalled), .status = std::string(stalled)}};
  return status;
}

// Every per-model family of design section 8 that a model can hold, with every label value
// this class can give it: the worst case.
void CountEverything(ControllerMetrics& metrics, const std::string& model) {
  for (const char* result : {"success", "requeue", "error"}) {
    metrics.CountReconcile(model, result, 0.1);
  }
  for (const char* action : {"create_registered_model", "create_model", "update_model",
                             "create_build", "create_deployment", "stop_deployment"}) {
    metrics.CountAction(model, action, true);
    metrics.CountAction(model, action, false);
  }
  for (const char* field : {"resources.cpu", "resources.memory", "resources.gpus",
                            "resources.replicas", "environment", "deployment"}) {
    metrics.CountDrift(model, field);
  }
  metrics.CountVerification(model, true);
  metrics.CountVerification(model, false);
  metrics.CountRollback(model);
  metrics.ObserveConvergence(model, 12);
}

// Verifies that a model converged the ordinary way holds at most 15 series and that the two
// duration histograms carry no model label.
TEST_F(ControllerTest, ConvergedModelHoldsAtMostFifteenSeries) {
  Start({Spec(), Spec("other")});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  ASSERT_TRUE(ConvergeWithin(seconds(10), "other"));
  Advance(seconds(70));  // a resync pass too

  const std::map<std::string, std::size_t> series = SeriesByModel(controller_->model_registry());
  ASSERT_TRUE(series.contains("fraud-classifier"));
  EXPECT_LE(series.at("fraud-classifier"), kSeriesPerModel);
  EXPECT_LE(series.at("other"), kSeriesPerModel);

  const std::vector<prometheus::MetricFamily> families = registry_.Collect();
  for (const char* name :
       {"cml_reconciler_reconcile_duration_seconds", "cml_reconciler_convergence_seconds"}) {
    const prometheus::MetricFamily* family = Family(families, name);
    ASSERT_NE(family, nullptr) << name;
    ASSERT_EQ(family->metric.size(), 1u) << name;
    EXPECT_TRUE(family->metric[0].label.empty()) << name;
  }
  EXPECT_GE(
      Family(families, "cml_reconciler_convergence_seconds")->metric[0].histogram.sample_count, 2u);
}

// Verifies that a model leaving the desired state (without --prune) takes every one of its
// series with it, counters included, and that the other model keeps its own.
TEST_F(ControllerTest, RemovedModelLeavesNoSeries) {
  Start({Spec(), Spec("other")});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  ASSERT_TRUE(ConvergeWithin(seconds(10), "other"));
  const std::size_t kept = SeriesByModel(controller_->model_registry()).at("fraud-classifier");
  const std::set<std::string> had = FamiliesOf(controller_->model_registry(), "other");
  ASSERT_TRUE(had.contains("cml_reconciler_reconcile_total"));
  ASSERT_TRUE(had.contains("cml_reconciler_actions_total"));
  ASSERT_TRUE(had.contains("cml_reconciler_model_info"));

  SetDesired({Spec()});
  Advance(seconds(5));
  EXPECT_EQ(controller_->statuses().Find("other"), nullptr);
  EXPECT_EQ(FamiliesOf(controller_->model_registry(), "other"), std::set<std::string>{});
  EXPECT_EQ(SeriesByModel(controller_->model_registry()).at("fraud-classifier"), kept);
}

// Verifies the worst case: a model that has seen every action succeed and fail, every drift
// field, both verification results, a rollback and every pass result holds the 7 state series
// plus one per distinct counter, all of them deleted by RemoveModel.
TEST(ControllerMetricsTest, WorstCaseIsBoundedAndFullyRemoved) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  metrics.PublishStatus(StatusOf("busy"), "project", "FraudCLF");
  EXPECT_EQ(SeriesByModel(registry).at("busy"), 7u);  // info, 3 conditions, 2 replicas, sync
  CountEverything(metrics, "busy");
  CountEverything(metrics, "busy");  // repeated events add no series
  // 7 + 3 results + 6 actions x 2 results + 6 drift fields + 2 verifications + 1 rollback.
  EXPECT_EQ(SeriesByModel(registry).at("busy"), 31u);
  EXPECT_EQ(metrics.SeriesOf("busy"), 31u);

  metrics.RemoveModel("busy");
  EXPECT_FALSE(SeriesByModel(registry).contains("busy"));
  EXPECT_EQ(metrics.SeriesOf("busy"), 0u);
  // Counting again after a removal starts from zero.
  metrics.CountRollback("busy");
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "cml_reconciler_rollbacks_total") continue;
    ASSERT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric[0].counter.value, 1);
  }
}

// Verifies that each condition type is one series labelled with its current status, replaced
// (not zeroed) when the status changes.
TEST(ControllerMetricsTest, OneConditionSeriesPerTypeWithCurrentStatus) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  metrics.PublishStatus(StatusOf("m"), "p", "r");
  metrics.PublishStatus(StatusOf("m", "True"), "p", "r");
  std::map<std::string, std::string> conditions;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "cml_reconciler_model_condition") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& label : metric.label) labels[label.name] = label.value;
      EXPECT_FALSE(conditions.contains(labels["type"])) << labels["type"];
      conditions[labels["type"]] = labels["status"];
      EXPECT_EQ(metric.gauge.value, 1);
    }
  }
  EXPECT_EQ(conditions, (std::map<std::string, std::string>{
                            {"Ready", "True"}, {"Reconciling", "False"}, {"Stalled", "True"}}));
}

// Verifies that republishing an unchanged status creates nothing, and a changed live state
// replaces the one model_info series.
TEST(ControllerMetricsTest, ModelInfoIsOneSeriesFollowingTheState) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  ModelStatus status = StatusOf("m");
  metrics.PublishStatus(status, "p", "r");
  metrics.PublishStatus(status, "p", "r");
  status.health = HealthState::kDegraded;
  status.sync = SyncState::kOutOfSync;
  metrics.PublishStatus(status, "p", "r");
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  const prometheus::MetricFamily* info = Family(families, "cml_reconciler_model_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 1u);
  std::map<std::string, std::string> labels;
  for (const auto& label : info->metric[0].label) labels[label.name] = label.value;
  EXPECT_EQ(labels["health"], "Degraded");
  EXPECT_EQ(labels["sync"], "OutOfSync");
  EXPECT_EQ(SeriesByModel(registry).at("m"), 7u);
}

// Verifies that 1000 models, each converged the ordinary way, stay within 15 series each and
// that the registry's series without a model label do not grow with the models.
TEST(ControllerMetricsTest, ThousandModelsStayWithinBudget) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  const std::size_t shared_before = SeriesByModel(registry)[""];
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "model-" + std::to_string(i);
    metrics.CountReconcile(name, "requeue", 0.02);
    for (const char* action : {"create_model", "create_build", "create_deployment"}) {
      metrics.CountAction(name, action, true);
    }
    metrics.CountVerification(name, true);
    metrics.CountReconcile(name, "success", 0.01);
    metrics.ObserveConvergence(name, 5);
    metrics.PublishStatus(StatusOf(name), "p", "r");
  }
  std::map<std::string, std::size_t> series = SeriesByModel(registry);
  EXPECT_EQ(series[""], shared_before);
  series.erase("");
  EXPECT_EQ(series.size(), 1000u);
  for (const auto& [model, count] : series) {
    ASSERT_EQ(count, 13u) << model;
  }
}

// Lines of a text exposition, sorted (prometheus-cpp writes a family's series in hash order).
std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Verifies that with a registry of their own, the per-model series leave the main registry, and
// AppendModelSeriesText() writes exactly what prometheus-cpp's TextSerializer writes for them
// (escaped label values, shortest decimals, every family, removed models gone).
TEST(ControllerMetricsTest, FastTextEqualsPrometheusCppText) {
  prometheus::Registry registry;
  prometheus::Registry model_registry;
  ControllerMetrics metrics(registry, &model_registry);
  ModelStatus odd = StatusOf("odd");
  odd.resolved_runtime = "quote\" backslash\\ newline\n end";
  odd.last_synced_at = common::TimePoint{} + std::chrono::microseconds(1'796'409'758'668'663);
  metrics.PublishStatus(odd, "p", "Fraud \"CLF\"");
  metrics.PublishStatus(StatusOf("plain", "True"), "p", "r");
  metrics.PublishStatus(StatusOf("gone"), "p", "r");
  CountEverything(metrics, "odd");
  metrics.CountReconcile("plain", "success", 0.5);
  metrics.CountAction("gone", "create_model", true);
  metrics.RemoveModel("gone");

  for (const prometheus::MetricFamily& family : registry.Collect()) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const auto& label : metric.label) EXPECT_NE(label.name, "model") << family.name;
    }
  }
  std::string fast;
  metrics.AppendModelSeriesText(fast);
  const std::string reference = prometheus::TextSerializer().Serialize(model_registry.Collect());
  const std::vector<std::string> ours = SortedLines(fast);
  const std::vector<std::string> theirs = SortedLines(reference);
  std::vector<std::string> only_ours, only_theirs;
  std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(),
                      std::back_inserter(only_ours));
  std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(),
                      std::back_inserter(only_theirs));
  EXPECT_EQ(only_ours, std::vector<std::string>{});
  EXPECT_EQ(only_theirs, std::vector<std::string>{});
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_EQ(fast.find("gone"), std::string::npos);
}

}  // namespace
}  // namespace cmlr::controllers
