#include "daemon/validate_command.h"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "config/loader.h"

namespace cmlr::daemon {

int RunValidate(const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> inputs(paths.begin(), paths.end());
  const config::LoadResult result = config::LoadDesiredState(inputs);
  if (result.snapshot == nullptr) {
    for (const config::LoadError& error : result.errors) {
      fmt::print(stderr, "{}\n", error.ToString());
    }
    fmt::print(stderr, "{} {} in {} {}\n", result.errors.size(),
               result.errors.size() == 1 ? "error" : "errors", result.files,
               result.files == 1 ? "file" : "files");
    return 1;
  }
  const std::size_t models = result.snapshot->size();
  fmt::print("{} {} valid in {} {}\n", models, models == 1 ? "model" : "models", result.files,
             result.files == 1 ? "file" : "files");
  return 0;
}

}  // namespace cmlr::daemon
