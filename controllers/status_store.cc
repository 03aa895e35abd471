#include "controllers/status_store.h"

namespace cmlr::controllers {

ModelStatus& StatusStore::Get(const std::string& name) {
  ModelStatus& status = statuses_[name];
  status.name = name;
  return status;
}

const ModelStatus* StatusStore::Find(std::string_view name) const {
  auto it = statuses_.find(name);
  return it == statuses_.end() ? nullptr : &it->second;
}

ModelStatus* StatusStore::Find(std::string_view name) {
  auto it = statuses_.find(name);
  return it == statuses_.end() ? nullptr : &it->second;
}

nlohmann::json StatusStore::ToJson() const {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& [name, status] : statuses_) models.push_back(controllers::ToJson(status));
  return {{"models", models}};
}

}  // namespace cmlr::controllers
