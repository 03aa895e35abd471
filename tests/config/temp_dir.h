#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace cmlr::config {

// A fresh directory under the system temp folder, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to path()/relative, creating parent directories; returns the full path.
  std::filesystem::path Write(const std::filesystem::path& relative, std::string_view text) const;

 private:
  std::filesystem::path path_;
};

// A valid ModelDeployment document named `name`, with `extra` appended under spec.
std::string ValidDocument(std::string_view name, std::string_view extra = "");

}  // namespace cmlr::config
