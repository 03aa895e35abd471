#include "emulator/call_recorder.h"

#include "emulator/wire.h"

namespace cmlr::emulator {

namespace {
constexpr std::size_t kReadHandle = static_cast<std::size_t>(-1);
}

std::size_t CallRecorder::Record(std::string_view operation, bool is_write, std::string_view path,
                                 common::TimePoint at) {
  auto it = by_operation_.find(operation);
  if (it == by_operation_.end()) it = by_operation_.emplace(std::string(operation), 0).first;
  ++it->second;
  if (!is_write) {
    ++reads_;
    return kReadHandle;
  }
  ++writes_;
  writes_log_.push_back(Write{std::string(operation), std::string(path), at, 0});
  return writes_log_.size() - 1;
}

void CallRecorder::SetStatus(std::size_t handle, int http_status) {
  if (handle < writes_log_.size()) writes_log_[handle].status = http_status;
}

void CallRecorder::Clear() {
  reads_ = 0;
  writes_ = 0;
  by_operation_.clear();
  writes_log_.clear();
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
          {"writes_log", std::move(log)}};
}

}  // namespace cmlr::emulator
