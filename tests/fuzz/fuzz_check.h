#pragma once

// For the fuzz targets of tests/fuzz: a check that turns a broken contract into a crash that
// libFuzzer reports.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace cmlr::fuzz {

// Aborts, so that libFuzzer saves the input, when `condition` is false: crashes and sanitizer
// findings are not the only bugs worth a reproducer, so is a function breaking its contract.
inline void Check(bool condition, std::string_view what, std::string_view detail = {}) {
  if (condition) return;
  std::fprintf(stderr, "fuzz check failed: %.*s %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace cmlr::fuzz
