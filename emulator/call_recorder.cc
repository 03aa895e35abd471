#include "emulator/call_recorder.h"

#include <algorithm>

#include "emulator/wire.h"

namespace cmlr::emulator {

std::uint64_t CallRecorder::Record(std::string_view operation, bool is_write, std::string_view path,
                                   common::TimePoint at) {
  auto it = by_operation_.find(operation);
  if (it == by_operation_.end()) it = by_operation_.emplace(std::string(operation), 0).first;
  ++it->second;
  const std::uint64_t handle = next_handle_++;
  if (!is_write) {
    ++reads_;
    return handle;
  }
  ++writes_;
  writes_log_.push_back(Write{handle, std::string(operation), std::string(path), at, 0});
  while (writes_log_.size() > writes_log_limit_) writes_log_.pop_front();
  return handle;
}

void CallRecorder::SetStatus(std::uint64_t handle, int http_status) {
  // Handles grow with every call, reads included, so the log is sorted by handle.
  const auto it = std::lower_bound(
      writes_log_.begin(), writes_log_.end(), handle,
      [](const Write& write, std::uint64_t wanted) { return write.handle < wanted; });
  if (it != writes_log_.end() && it->handle == handle) it->status = http_status;
}

void CallRecorder::RecordInference(std::string_view model_id, int http_status) {
  ++inference_calls_;
  ++inference_by_status_[std::to_string(http_status)];
  if (model_id.empty()) return;
  auto it = inference_by_model_.find(model_id);
  if (it == inference_by_model_.end()) it = inference_by_model_.emplace(model_id, 0).first;
  ++it->second;
}

void CallRecorder::Clear() {
  reads_ = 0;
  writes_ = 0;
  by_operation_.clear();
  writes_log_.clear();
  inference_calls_ = 0;
  inference_by_status_.clear();
  inference_by_model_.clear();
}

std::uint64_t CallRecorder::count(std::string_view operation) const {
  const auto it = by_operation_.find(operation);
  return it == by_operation_.end() ? 0 : it->second;
}

nlohmann::json CallRecorder::ToJson() const {
  nlohmann::json log = nlohmann::json::array();
  for (const auto& w : writes_log_) {
    log.push_back({{"operation", w.operation},
                   {"at", FormatTime(w.at)},
                   {"path", w.path},
                   {"status", w.status}});
  }
  return {{"reads", reads_},
          {"writes", writes_},
          {"by_operation", by_operation_},
          {"writes_log", std::move(log)},
          {"writes_log_dropped", writes_ - writes_log_.size()},
          {"inference",
           {{"calls", inference_calls_},
            {"by_status", inference_by_status_},
            {"by_model", inference_by_model_}}}};
}

}  // namespace cmlr::emulator
