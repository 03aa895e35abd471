#include "tests/config/temp_dir.h"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace cmlr::config {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cmlr-config-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::Write(const std::filesystem::path& relative,
                                     std::string_view text) const {
  const std::filesystem::path full = path_ / relative;
  std::filesystem::create_directories(full.parent_path());
  std::ofstream out(full, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return full;
}

std::string ValidDocument(std::string_view name, std::string_view extra) {
  return fmt::format(R"(apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata:
  name: {0}
spec:
  projectId: "abcd-1234-efgh-5678"
  modelName: {0}-endpoint
  registeredModel:
    name: FraudCLF-alice
    version: 3
  runtime: docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:2024.02.1-b4
  resources:
    cpu: 2
    memory: 4Gi
{1})",
                     name, extra);
}

}  // namespace cmlr::config
