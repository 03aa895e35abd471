#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controllers/model_status.h"

namespace cmlr::controllers {

// The outcome of the last load of the desired state: the status page shows it, since a
// rejected load keeps the last good state in force.
struct DesiredStateReport {
  bool accepted = true;
  common::TimePoint at{};
  std::size_t errors = 0;  // of a rejected load
  std::string message;     // the first error of a rejected load
  // The source revision of the desired state in force (design 12).
  std::optional<std::string> revision;
};

// The status of every model the daemon knows, in memory (design section 5). Used on the
// io_context thread only.
class StatusStore {
 public:
  ModelStatus& Get(const std::string& name);  // creates an empty entry on first use
  const ModelStatus* Find(std::string_view name) const;
  ModelStatus* Find(std::string_view name);
  void Erase(const std::string& name) { statuses_.erase(name); }
  const std::map<std::string, ModelStatus, std::less<>>& all() const { return statuses_; }

  const DesiredStateReport& desired_state() const { return desired_state_; }
  void set_desired_state(DesiredStateReport report) { desired_state_ = std::move(report); }

  // The envelope of design section 5: {"revision": REV or null, "desiredState": {"result":
  // "success"|"failure", "at", "errors", "message"}, "models": [ENTRY, ...] sorted by name}.
  nlohmann::json ToJson() const;

 private:
  std::map<std::string, ModelStatus, std::less<>> statuses_;
  DesiredStateReport desired_state_;
};

}  // namespace cmlr::controllers
