#include "config/snapshot.h"

#include <fmt/format.h>

#include "config/digest.h"

namespace cmlr::config {

common::StatusOr<std::shared_ptr<const Snapshot>> Snapshot::Create(
    std::vector<ModelDeploymentSpec> specs, std::optional<std::string> revision) {
  std::map<std::string, ModelDeploymentSpec> models;
  for (ModelDeploymentSpec& spec : specs) {
    spec.digest = ComputeDigest(spec);
    const std::string name = spec.name;
    if (!models.try_emplace(name, std::move(spec)).second) {
      return common::InvalidArgumentError(
          fmt::format("duplicate model name \"{}\" in one snapshot", name));
    }
  }
  return std::shared_ptr<const Snapshot>(new Snapshot(std::move(models), std::move(revision)));
}

std::shared_ptr<const Snapshot> Snapshot::Empty() {
  return std::shared_ptr<const Snapshot>(new Snapshot({}, std::nullopt));
}

const ModelDeploymentSpec* Snapshot::Find(std::string_view name) const {
  const auto it = models_.find(std::string(name));
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<std::string> Snapshot::ChangedNames(const Snapshot* before, const Snapshot& after) {
  std::vector<std::string> changed;
  static const std::map<std::string, ModelDeploymentSpec> kNone;
  const auto& old_models = before == nullptr ? kNone : before->models_;
  auto a = old_models.begin();
  auto b = after.models_.begin();
  while (a != old_models.end() || b != after.models_.end()) {
    if (b == after.models_.end() || (a != old_models.end() && a->first < b->first)) {
      changed.push_back((a++)->first);
    } else if (a == old_models.end() || b->first < a->first) {
      changed.push_back((b++)->first);
    } else {
      if (a->second.digest != b->second.digest) changed.push_back(a->first);
      ++a;
      ++b;
    }
  }
  return changed;
}

}  // namespace cmlr::config
