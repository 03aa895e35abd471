#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/model_deployment.h"

namespace cmlr::config {

// A complete, validated desired state. Immutable once built, so any number of readers may
// share it as std::shared_ptr<const Snapshot> while a newer one is being loaded.
class Snapshot {
 public:
  // Builds a snapshot from normalised specs, (re)computing every digest so that it always
  // matches the spec. INVALID_ARGUMENT when two specs share a name.
  // `revision` is the commit the specs come from (source_revision.h), when known.
  [[nodiscard]] static common::StatusOr<std::shared_ptr<const Snapshot>> Create(
      std::vector<ModelDeploymentSpec> specs, std::optional<std::string> revision = std::nullopt);

  // The valid, empty desired state (it never removes anything by itself).
  static std::shared_ptr<const Snapshot> Empty();

  // The model called `name`, or null. The pointer lives as long as the snapshot.
  const ModelDeploymentSpec* Find(std::string_view name) const;

  // Every model, sorted by name.
  const std::map<std::string, ModelDeploymentSpec>& models() const { return models_; }
  std::size_t size() const { return models_.size(); }
  // The source revision (design section 12), or nullopt when none was found.
  const std::optional<std::string>& revision() const { return revision_; }

  // Names whose digest differs between two snapshots, including added and removed names,
  // sorted. A null `before` counts as empty.
  static std::vector<std::string> ChangedNames(const Snapshot* before, const Snapshot& after);

 private:
  Snapshot(std::map<std::string, ModelDeploymentSpec> models, std::optional<std::string> revision)
      : models_(std::move(models)), revision_(std::move(revision)) {}

  const std::map<std::string, ModelDeploymentSpec> models_;
  const std::optional<std::string> revision_;
};

}  // namespace cmlr::config
