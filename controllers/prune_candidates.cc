#include "controllers/prune_candidates.h"

#include <algorithm>
#include <set>
#include <utility>

#include "controllers/cml_reader.h"

namespace cmlr::controllers {

namespace {

constexpr std::string_view kMarkerPrefix = "cml-reconciler ";

bool Claimed(const config::Snapshot& desired, const std::string& project_id,
             const std::string& model_name) {
  return std::any_of(desired.models().begin(), desired.models().end(), [&](const auto& entry) {
    return entry.second.project_id == project_id && entry.second.model_name == model_name;
  });
}

}  // namespace

std::optional<std::string> ManagedNameOf(std::string_view build_comment) {
  if (!build_comment.starts_with(kMarkerPrefix)) return std::nullopt;
  build_comment.remove_prefix(kMarkerPrefix.size());
  const std::size_t end = build_comment.find(' ');
  if (end == 0 || end == std::string_view::npos) return std::nullopt;
  return std::string(build_comment.substr(0, end));
}

std::vector<PruneCandidate> PruneCandidatesOf(const std::string& project_id,
                                              const ObservedState& observed,
                                              const config::Snapshot& desired) {
  std::vector<PruneCandidate> candidates;
  if (!observed.model || Claimed(desired, project_id, observed.model->name)) {
    return candidates;
  }
  std::optional<std::string> managed;
  for (const api::ModelBuild& build : observed.builds) {
    if ((managed = ManagedNameOf(build.comment))) break;
  }
  if (!managed || desired.Find(*managed) != nullptr) return candidates;
  for (const api::ModelDeployment& deployment : observed.deployments) {
    if (!IsRunning(deployment.status)) continue;
    candidates.push_back({.name = *managed,
                          .project_id = project_id,
                          .model_id = observed.model->id,
                          .model_name = observed.model->name,
                          .build_id = deployment.build_id,
                          .deployment_id = deployment.id,
                          .deployment_status = deployment.status});
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const PruneCandidate& a, const PruneCandidate& b) {
              return a.deployment_id < b.deployment_id;
            });
  return candidates;
}

boost::asio::awaitable<common::StatusOr<std::vector<PruneCandidate>>> FindPruneCandidates(
    api::CmlClient& client, std::shared_ptr<const config::Snapshot> desired) {
  std::set<std::string> projects;
  for (const auto& [name, spec] : desired->models()) projects.insert(spec.project_id);
  CmlReader reader(client);
  std::vector<PruneCandidate> found;
  for (const std::string& project_id : projects) {
    const api::ListOptions options;
    auto models = co_await client.ListModels(project_id, options);
    if (!models.ok()) co_return models.status().Annotate("list_models");
    for (const api::Model& model : *models) {
      if (Claimed(*desired, project_id, model.name)) continue;
      config::ModelDeploymentSpec probe;
      probe.project_id = project_id;
      probe.model_name = model.name;
      auto observed = co_await reader.ReadModel(std::move(probe), nullptr);
      if (!observed.ok()) co_return observed.status();
      std::vector<PruneCandidate> of_model = PruneCandidatesOf(project_id, *observed, *desired);
      std::move(of_model.begin(), of_model.end(), std::back_inserter(found));
    }
  }
  std::stable_sort(
      found.begin(), found.end(),
      [](const PruneCandidate& a, const PruneCandidate& b) { return a.name < b.name; });
  co_return found;
}

}  // namespace cmlr::controllers
