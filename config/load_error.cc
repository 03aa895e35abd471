#include "config/load_error.h"

#include <fmt/format.h>

namespace cmlr::config {

std::string LoadError::ToString() const {
  if (path.empty()) return fmt::format("{}:{}:{}: {}", file, line, column, message);
  return fmt::format("{}:{}:{}: {}: {}", file, line, column, path, message);
}

}  // namespace cmlr::config
