#include "controllers/status_store.h"

#include "common/time_format.h"

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
  const DesiredStateReport& report = desired_state_;
  return {
      {"revision", report.revision ? nlohmann::json(*report.revision) : nullptr},
      {"desiredState",
       {{"result", report.accepted ? "success" : "failure"},
        {"at", report.at == common::TimePoint{} ? nlohmann::json(nullptr)
                                                : nlohmann::json(common::FormatRfc3339(report.at))},
        {"errors", report.errors},
        {"message", report.message}}},
      {"models", models}};
}

}  // namespace cmlr::controllers
