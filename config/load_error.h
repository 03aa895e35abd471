#pragma once

#include <string>

namespace cmlr::config {

// One problem found in the desired state, pointing at the exact place to fix.
struct LoadError {
  std::string file;  // as given or found under a given directory
  int line = 1;      // 1-based; problems with a whole file point at 1:1
  int column = 1;
  std::string path;  // "spec.resources.cpu"; empty for problems of the file or the YAML text
  std::string message;

  // "FILE:LINE:COLUMN: path: message", or "FILE:LINE:COLUMN: message" without a path.
  std::string ToString() const;

  friend bool operator==(const LoadError&, const LoadError&) = default;
};

}  // namespace cmlr::config
