// P6 (design section 10): load and validate a 1000-model desired tree of 100 files.
// Generates the tree in a temp directory, times LoadDesiredState over several runs and prints
// the median in milliseconds on stdout (details on stderr).

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "config/loader.h"

namespace {

constexpr int kFiles = 100;
constexpr int kModelsPerFile = 10;
constexpr int kRuns = 21;

std::string Document(int file, int index) {
  const int n = file * kModelsPerFile + index;
  std::string doc = fmt::format(R"(# Model {n} of the P6 benchmark tree.
apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata:
  name: model-{n:04}
  labels: {{team: team-{team}, tier: gold}}
spec:
  projectId: "proj-{project:04}-efgh-5678"
  modelName: Model-{n:04}
  description: Benchmark model {n}
  registeredModel:
    name: Registry-{n:04}
    version: {version}
)",
                                fmt::arg("n", n), fmt::arg("team", n % 7),
                                fmt::arg("project", n % 10), fmt::arg("version", 1 + n % 5));
  if (n % 2 == 0) {
    doc +=
        "  runtime: docker.repository.cloudera.com/cloudera/cdsw/"
        "ml-runtime-workbench-python3.9-standard:2024.02.1-b4\n";
  } else {
    doc += "  runtime: {kernel: Python 3.9, edition: Standard, editor: Workbench}\n";
  }
  doc += fmt::format(R"(  resources:
    cpu: {}
    memory: {}
    replicas: {}
  environment:
    LOG_LEVEL: info
    MODEL_ID: "{}"
  sync:
    selfHeal: true
    buildTimeout: 30m
    deployTimeout: 15m
    maxAttempts: 3
)",
                     1 + n % 4, n % 3 == 0 ? "512Mi" : "4Gi", 1 + n % 3, n);
  return doc;
}

}  // namespace

int main() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "cmlr-config-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path root = pattern;
  for (int file = 0; file < kFiles; ++file) {
    const auto dir = root / fmt::format("team-{}", file % 10);
    std::filesystem::create_directories(dir);
    std::ofstream out(dir / fmt::format("models-{:03}.yaml", file));
    for (int index = 0; index < kModelsPerFile; ++index) {
      if (index > 0) out << "---\n";
      out << Document(file, index);
    }
  }

  std::vector<double> millis;
  int status = 0;
  for (int run = 0; run < kRuns && status == 0; ++run) {
    const auto start = std::chrono::steady_clock::now();
    const cmlr::config::LoadResult result = cmlr::config::LoadDesiredState({root});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    millis.push_back(std::chrono::duration<double, std::milli>(elapsed).count());
    if (result.snapshot == nullptr || result.snapshot->size() != kFiles * kModelsPerFile ||
        result.files != kFiles) {
      for (const auto& error : result.errors) fmt::print(stderr, "{}\n", error.ToString());
      fmt::print(stderr, "config_bench: the generated tree did not load as expected\n");
      status = 1;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  if (status != 0) return status;
  std::sort(millis.begin(), millis.end());
  fmt::print(stderr,
             "config_bench: {} models in {} files, {} runs: min {:.1f} ms, median {:.1f} ms, max "
             "{:.1f} ms\n",
             kFiles * kModelsPerFile, kFiles, kRuns, millis.front(), millis[millis.size() / 2],
             millis.back());
  fmt::print("{:.1f}\n", millis[millis.size() / 2]);
  return 0;
}
