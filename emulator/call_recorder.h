#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace cmlr::emulator {

// Counts API v2 calls per operation, split into reads and writes, and keeps the newest writes in
// order so tests and benchmarks can count CML writes and time the first one. Memory stays
// bounded over a long run: the log keeps the newest `writes_log_limit` writes; the counts go on.
class CallRecorder {
 public:
  static constexpr std::size_t kDefaultWritesLogLimit = 10000;

  explicit CallRecorder(std::size_t writes_log_limit = kDefaultWritesLogLimit)
      : writes_log_limit_(writes_log_limit) {}

  // Returns a handle for SetStatus.
  std::uint64_t Record(std::string_view operation, bool is_write, std::string_view path,
                       common::TimePoint at);
  // The HTTP status the call was answered with (0: connection dropped). No effect when the
  // write has left the log since (or the counts were cleared).
  void SetStatus(std::uint64_t handle, int http_status);
  // Counts one call of POST /model (inference) that reached a model (empty id: no model found)
  // and the HTTP status it was answered with.
  void RecordInference(std::string_view model_id, int http_status);
  void Clear();

  std::uint64_t reads() const { return reads_; }
  std::uint64_t writes() const { return writes_; }
  std::uint64_t count(std::string_view operation) const;

  // {"reads": N, "writes": N, "by_operation": {op: N}, "writes_log": [{operation, at, path,
  // status}], "writes_log_dropped": N, "inference": {"calls": N, "by_status": {"200": N},
  // "by_model": {model id: N}}}: writes_log holds the newest writes, oldest first;
  // writes_log_dropped older ones were dropped from it (so writes_log[i] is write number
  // writes_log_dropped + i, counted from 0 since the last Clear()). Inference calls are not API
  // calls: they count in "inference" only.
  nlohmann::json ToJson() const;

 private:
  struct Write {
    std::uint64_t handle = 0;
    std::string operation;
    std::string path;
    common::TimePoint at;
    int status = 0;
  };
  std::size_t writes_log_limit_;
  std::uint64_t next_handle_ = 0;  // never reset, so a stale handle cannot hit a new write
  std::uint64_t reads_ = 0;
  std::uint64_t writes_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_operation_;
  std::deque<Write> writes_log_;
  std::uint64_t inference_calls_ = 0;
  std::map<std::string, std::uint64_t> inference_by_status_;
  // Bounded by the models there are: ids of deleted models are dropped on Clear() only.
  std::map<std::string, std::uint64_t, std::less<>> inference_by_model_;
};

}  // namespace cmlr::emulator
