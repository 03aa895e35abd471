#include "controllers/observation_cache.h"

#include <algorithm>

namespace cmlr::controllers {

namespace net = boost::asio;
using common::Status;
using common::StatusOr;

namespace {

// Forgets the observation and how to refresh it. What this reconciler created is kept: a full
// observation does not make its own build a stranger.
template <typename Entry>
void Drop(Entry& entry) {
  entry.observed.reset();
  entry.focus = decltype(entry.focus){};
  entry.model_created_by_us = false;
}

template <typename T>
void Replace(std::vector<T>& items, const T& item) {
  for (T& existing : items) {
    if (existing.id == item.id) {
      existing = item;
      return;
    }
  }
  items.push_back(item);
}

// What a create made, to look for until a list shows it.
void RememberCreated(ReadMemory& reads, const PlannedAction& action, const WriteAnswer& answer,
                     common::TimePoint now) {
  ReadMemory::Created created{.kind = action.kind, .at = now};
  if (const auto* registered = std::get_if<api::RegisteredModel>(&answer)) {
    const auto newest =
        std::max_element(registered->model_versions.begin(), registered->model_versions.end(),
                         [](const auto& a, const auto& b) { return a.number < b.number; });
    if (newest == registered->model_versions.end()) return;
    created.id = newest->model_version_id;
    created.parent_id = registered->model_id;
  } else if (action.kind == ActionKind::kCreateModel) {
    created.id = std::get<api::Model>(answer).id;
  } else if (action.kind == ActionKind::kCreateBuild) {
    const auto& build = std::get<api::ModelBuild>(answer);
    created.id = build.id;
    created.parent_id = action.model_id;
    // What the build is never changes: a sparse listing later needs no get for it.
    reads.build_identities[build.id] = {
        build.registered_model_version_id.empty() ? action.build_request.registered_model_version_id
                                                  : build.registered_model_version_id,
        build.runtime_identifier.empty() ? action.build_request.runtime_identifier
                                         : build.runtime_identifier};
  } else if (action.kind == ActionKind::kCreateDeployment) {
    created.id = std::get<api::ModelDeployment>(answer).id;
    created.parent_id = action.build_id;
  } else {
    return;  // updates and stops create nothing
  }
  if (!created.id.empty()) reads.unseen.push_back(std::move(created));
}

}  // namespace

ObservationCache::ObservationCache(api::CmlClient& client, common::Clock& clock, Options options)
    : clock_(clock),
      options_(options),
      reader_(client),
      listings_(client, clock, options.listing_max_age) {}

net::awaitable<StatusOr<ObservedState>> ObservationCache::ObserveModel(
    config::ModelDeploymentSpec spec) {
  co_return co_await reader_.ReadModel(std::move(spec), nullptr);
}

net::awaitable<StatusOr<ObservedState>> ObservationCache::ObserveOnce(
    config::ModelDeploymentSpec spec) {
  co_return co_await reader_.ReadAll(std::move(spec), nullptr);
}

net::awaitable<StatusOr<Observation>> ObservationCache::ObserveFully(
    config::ModelDeploymentSpec spec, const WriteLedger* ledger) {
  Entry& entry = entries_[spec.name];
  Drop(entry);  // an error below leaves nothing remembered
  const common::TimePoint start = clock_.Now();
  auto observed = co_await reader_.ReadAll(spec, &entry.reads);
  if (!observed.ok()) co_return observed.status();
  TrimObservation(spec, entry.verifications, ledger, *observed);
  entry.observed = std::move(observed).value();
  entry.last_full_at = start;
  entry.last_kind = ObservationKind::kFull;
  co_return Observation{.state = &*entry.observed, .kind = ObservationKind::kFull};
}

net::awaitable<StatusOr<Observation>> ObservationCache::Observe(config::ModelDeploymentSpec spec,
                                                                const WriteLedger* ledger) {
  Entry& entry = entries_[spec.name];
  bool usable = entry.observed.has_value();
  if (usable && entry.focus == Focus::kSynced) {
    usable = clock_.Now() - entry.last_full_at < options_.full_observe_every;
    if (usable) {
      auto rechecked = co_await Recheck(spec, entry);
      if (!rechecked.ok()) {
        Drop(entry);
        co_return rechecked.status();
      }
      usable = *rechecked;
      entry.last_kind = ObservationKind::kRechecked;
    }
  } else if (usable && (entry.focus == Focus::kBuild || entry.focus == Focus::kDeployment)) {
    const Status refreshed = co_await Refresh(spec, entry);
    if (!refreshed.ok()) {
      Drop(entry);
      co_return refreshed;
    }
    entry.last_kind = ObservationKind::kRefreshed;
  } else if (usable && entry.focus == Focus::kChain) {
    entry.last_kind = ObservationKind::kChained;
  } else {
    usable = false;
  }
  if (!usable) co_return co_await ObserveFully(std::move(spec), ledger);
  co_return Observation{.state = &*entry.observed, .kind = entry.last_kind};
}

net::awaitable<Status> ObservationCache::Refresh(const config::ModelDeploymentSpec& spec,
                                                 Entry& entry) {
  ObservedState& observed = *entry.observed;
  const std::string& model_id = observed.model->id;
  if (entry.focus == Focus::kBuild) {
    auto build = co_await reader_.GetBuild(spec.project_id, model_id, entry.focus_build_id);
    if (!build.ok()) co_return build.status();
    Replace(observed.builds, *build);
  } else {
    auto deployment = co_await reader_.GetDeployment(
        spec.project_id, model_id, entry.focus_build_id, entry.focus_deployment_id);
    if (!deployment.ok()) co_return deployment.status();
    Replace(observed.deployments, *deployment);
  }
  co_return common::OkStatus();
}

net::awaitable<StatusOr<bool>> ObservationCache::Recheck(const config::ModelDeploymentSpec& spec,
                                                         Entry& entry) {
  ObservedState& observed = *entry.observed;
  auto models = co_await listings_.ProjectModels(spec.project_id);
  if (!models.ok()) co_return models.status().Annotate("list_models");
  const auto model = std::find_if((*models)->begin(), (*models)->end(), [&](const api::Model& m) {
    return m.name == spec.model_name && m.id == observed.model->id;
  });
  if (model == (*models)->end()) co_return false;
  observed.model = *model;

  if (const auto* selector = std::get_if<config::RuntimeSelector>(&spec.runtime)) {
    auto runtimes = co_await listings_.AllRuntimes();
    if (!runtimes.ok()) co_return runtimes.status().Annotate("list_runtimes");
    const auto runtime = ResolveRuntime(*selector, **runtimes);
    observed.runtime_identifier =
        runtime ? std::optional<std::string>(runtime->image_identifier) : std::nullopt;
  }

  auto deployment = co_await reader_.GetDeployment(spec.project_id, observed.model->id,
                                                   entry.focus_build_id, entry.focus_deployment_id);
  if (!deployment.ok()) {
    if (deployment.status().code() == common::StatusCode::kNotFound) co_return false;
    co_return deployment.status();
  }
  Replace(observed.deployments, *deployment);
  co_return true;
}

bool ObservationCache::MayWrite(const std::string& name, const PlannedAction& action) const {
  const auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.observed) return false;
  const Entry& entry = it->second;
  if (entry.last_kind == ObservationKind::kFull) return true;
  if (action.kind == ActionKind::kCreateBuild) {
    return entry.model_created_by_us && entry.observed->builds.empty();
  }
  if (action.kind == ActionKind::kCreateDeployment) {
    return entry.last_kind == ObservationKind::kRefreshed && !entry.build_created_by_us.empty() &&
           action.build_id == entry.build_created_by_us;
  }
  return false;
}

void ObservationCache::Absorb(const std::string& name, const PlannedAction& action,
                              const WriteAnswer& answer) {
  Entry& entry = entries_[name];
  RememberCreated(entry.reads, action, answer, clock_.Now());
  if (!entry.observed || std::holds_alternative<api::RegisteredModel>(answer)) {
    Drop(entry);  // a new registry version is read back by a full observation
    return;
  }
  ObservedState& observed = *entry.observed;
  if (const auto* model = std::get_if<api::Model>(&answer)) {
    if (!observed.model || observed.model->id != model->id) {
      observed.builds.clear();
      observed.deployments.clear();
      entry.model_created_by_us = true;
    }
    observed.model = *model;
  } else if (const auto* build = std::get_if<api::ModelBuild>(&answer)) {
    Replace(observed.builds, *build);
    entry.build_created_by_us = build->id;
  } else if (const auto* deployment = std::get_if<api::ModelDeployment>(&answer)) {
    Replace(observed.deployments, *deployment);
  }
}

void ObservationCache::Remember(const std::string& name, const Plan& plan,
                                const WriteAnswer* written) {
  Entry& entry = entries_[name];
  entry.focus = Focus::kNone;
  if (!entry.observed) return;
  if (written == nullptr && plan.next == NextCheck::kProgress && plan.awaiting) {
    const bool build = plan.awaiting->kind == Awaiting::Kind::kBuild;
    entry.focus = build ? Focus::kBuild : Focus::kDeployment;
    entry.focus_build_id = plan.awaiting->build_id;
    entry.focus_deployment_id = plan.awaiting->deployment_id;
  } else if (const auto* build = written ? std::get_if<api::ModelBuild>(written) : nullptr) {
    entry.focus = Focus::kBuild;
    entry.focus_build_id = build->id;
  } else if (const auto* deployment =
                 written ? std::get_if<api::ModelDeployment>(written) : nullptr) {
    if (plan.action && plan.action->kind == ActionKind::kCreateDeployment) {
      entry.focus = Focus::kDeployment;
      entry.focus_build_id = deployment->build_id;
      entry.focus_deployment_id = deployment->id;
    }
  } else if (written != nullptr && plan.action && plan.action->kind == ActionKind::kCreateModel) {
    entry.focus = Focus::kChain;  // the next pass plans the first build from the answer
  } else if (written == nullptr && !plan.action && plan.sync == SyncState::kSynced &&
             plan.health == HealthState::kHealthy && !plan.live.deployment_id.empty()) {
    entry.focus = Focus::kSynced;
    entry.focus_build_id = plan.live.build_id;
    entry.focus_deployment_id = plan.live.deployment_id;
    entry.build_created_by_us.clear();
  }
  if (entry.focus == Focus::kNone) entry.observed.reset();
}

void ObservationCache::RecordVerification(const std::string& name, const std::string& deployment_id,
                                          Verification verification) {
  auto& verifications = entries_[name].verifications;
  verifications[deployment_id] = std::move(verification);
  while (verifications.size() > kMaxVerifications) {
    const auto oldest =
        std::min_element(verifications.begin(), verifications.end(),
                         [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
    verifications.erase(oldest);
  }
}

const std::map<std::string, Verification>& ObservationCache::Verifications(
    std::string_view name) const {
  static const std::map<std::string, Verification> kNone;
  const auto it = entries_.find(name);
  return it == entries_.end() ? kNone : it->second.verifications;
}

const ObservedState* ObservationCache::Remembered(std::string_view name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() || !it->second.observed ? nullptr : &*it->second.observed;
}

void ObservationCache::Invalidate(const std::string& name, bool forget_unseen_writes) {
  const auto it = entries_.find(name);
  if (it == entries_.end()) return;
  Drop(it->second);
  if (forget_unseen_writes) it->second.reads.unseen.clear();
}

}  // namespace cmlr::controllers
