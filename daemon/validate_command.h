#pragma once

#include <string>
#include <vector>

namespace cmlr::daemon {

// `cml-reconciler validate PATH...`: loads the desired state from every path (files or
// directories) offline, with no network and no key, so a desired-state repository's CI can run
// it on every pull request. Prints every error to stderr, one per line as
// FILE:LINE:COLUMN: path: message, or "N models valid in M files" to stdout. Returns the exit
// code: 0 valid, 1 invalid.
int RunValidate(const std::vector<std::string>& paths);

}  // namespace cmlr::daemon
