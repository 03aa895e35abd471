// P7, in-process half: what rendering /metrics costs with 1000 models, each holding the 12
// series of a model that converged the ordinary way (model_info with a full-length runtime,
// three conditions, two replicas gauges, the last sync time, two reconcile results and three
// actions), through the two paths ControllerMetrics offers:
//   registry   everything in one prometheus-cpp registry: Registry::Collect + TextSerializer
//              (what the daemon does when the per-model families are in its registry);
//   fast       the per-model families in a registry of their own, written by
//              AppendModelSeriesText(), and the rest through prometheus-cpp as before.
// Prints "REGISTRY_MS FAST_MS SERIES_PER_MODEL" (medians of 31 renders) on stdout; the
// exposition sizes go to stderr. Run by bench/metrics.bench.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "controllers/controller_metrics.h"

namespace {

using cmlr::controllers::ControllerMetrics;
using cmlr::controllers::ModelStatus;

constexpr int kModels = 1000;
constexpr int kRenders = 31;

ModelStatus Converged(const std::string& name, int i) {
  ModelStatus status;
  status.name = name;
  status.sync = cmlr::controllers::SyncState::kSynced;
  status.health = cmlr::controllers::HealthState::kHealthy;
  status.desired_replicas = 1;
  status.live.replicas = 1;
  status.live.model_id = "q7vn-2cb8-j5rt-" + std::to_string(1000 + i);
  status.live.version = 3;
  status.resolved_runtime =
      "docker.repository.cloudera.com/cloudera/cdsw/"
      "ml-runtime-workbench-python3.9-standard:2024.02.1-b4";
  status.last_synced_at =
      cmlr::common::TimePoint{} + std::chrono::microseconds(1'796'409'758'668'663LL + i);
  status.conditions = {{.type = "Ready", .status = "True"},
                       {.type = "Reconciling", .status = "False"},
                       {.type = "Stalled", .status = "False"}};
  return status;
}

void Populate(ControllerMetrics& metrics) {
  for (int i = 0; i < kModels; ++i) {
    const std::string name = "bench-" + std::to_string(i / 100) + "-" + std::to_string(i % 100);
    for (const char* action : {"create_model", "create_build", "create_deployment"}) {
      metrics.CountAction(name, action, true);
    }
    metrics.CountReconcile(name, "requeue", 0.02);
    metrics.CountReconcile(name, "success", 0.01);
    metrics.PublishStatus(Converged(name, i), "bench-0000-proj-0000", "FraudCLF-alice");
  }
}

template <typename Render>
double MedianMs(Render render, std::size_t& bytes) {
  std::vector<double> times;
  for (int i = 0; i < kRenders; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const std::string text = render();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    bytes = text.size();
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main() {
  prometheus::Registry everything;
  ControllerMetrics one_registry(everything);
  Populate(one_registry);

  prometheus::Registry main_registry;
  prometheus::Registry model_registry;
  ControllerMetrics split(main_registry, &model_registry);
  Populate(split);

  std::size_t registry_bytes = 0, fast_bytes = 0;
  const double registry_ms = MedianMs(
      [&] { return prometheus::TextSerializer().Serialize(everything.Collect()); }, registry_bytes);
  const double fast_ms = MedianMs(
      [&] {
        std::string text = prometheus::TextSerializer().Serialize(main_registry.Collect());
        split.AppendModelSeriesText(text);
        return text;
      },
      fast_bytes);
  std::fprintf(stderr, "registry path %zu bytes, fast path %zu bytes\n", registry_bytes,
               fast_bytes);
  std::printf("%.1f %.1f %zu\n", registry_ms, fast_ms, split.SeriesOf("bench-0-0"));
  return 0;
}
