#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace cmlr::emulator {

// Counts API v2 calls per operation, split into reads and writes, and keeps the writes in order
// so tests and benchmarks can count CML writes and time the first one.
class CallRecorder {
 public:
  // Returns a handle for SetStatus.
  std::size_t Record(std::string_view operation, bool is_write, std::string_view path,
                     common::TimePoint at);
  // The HTTP status the call was answered with (0: connection dropped).
  void SetStatus(std::size_t handle, int http_status);
  void Clear();

  std::uint64_t reads() const { return reads_; }
  std::uint64_t writes() const { return writes_; }
  std::uint64_t count(std::string_view operation) const;

  // {"reads": N, "writes": N, "by_operation": {op: N}, "writes_log": [{operation, at, path,
  // status}]}
  nlohmann::json ToJson() const;

 private:
  struct Write {
    std::string operation;
    std::string path;
    common::TimePoint at;
    int status = 0;
  };
  std::uint64_t reads_ = 0;
  std::uint64_t writes_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_operation_;
  std::vector<Write> writes_log_;
};

}  // namespace cmlr::emulator
