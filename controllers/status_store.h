#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controllers/model_status.h"

namespace cmlr::controllers {

// The status of every model the daemon knows, in memory (design section 5). Used on the
// io_context thread only.
class StatusStore {
 public:
  ModelStatus& Get(const std::string& name);  // creates an empty entry on first use
  const ModelStatus* Find(std::string_view name) const;
  ModelStatus* Find(std::string_view name);
  void Erase(const std::string& name) { statuses_.erase(name); }
  const std::map<std::string, ModelStatus, std::less<>>& all() const { return statuses_; }

  // {"models": [ENTRY, ...]} sorted by name (design section 5).
  nlohmann::json ToJson() const;

 private:
  std::map<std::string, ModelStatus, std::less<>> statuses_;
};

}  // namespace cmlr::controllers
