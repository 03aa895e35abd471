#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "common/clock.h"
#include "common/status.h"
#include "config/model_deployment.h"
#include "controllers/cml_reader.h"
#include "controllers/planner.h"
#include "controllers/shared_listings.h"

namespace cmlr::controllers {

// What CML answered to one successful write: the object it created or changed.
using WriteAnswer =
    std::variant<api::RegisteredModel, api::Model, api::ModelBuild, api::ModelDeployment>;

// How a pass came by the observation it plans from.
enum class ObservationKind {
  kFull,       // everything read afresh in this pass
  kRefreshed,  // the remembered one, with the awaited build or deployment read again by id
  kRechecked,  // the remembered one of a synced model, checked through shared listings
  kChained,    // the remembered one, updated from the answers to this reconciler's own writes
};

struct Observation {
  const ObservedState* state = nullptr;  // owned by the cache; valid until the model's next pass
  ObservationKind kind = ObservationKind::kFull;
};

// What the reconciler last saw of each model in CML, and how to look again cheaply (design P2,
// P3). CML is the only state: everything kept here is an optimisation that a restart may lose.
//
// Observe() gives the observation a pass plans from:
// - a full one (registry model and version, runtime, CML model, its builds and their
//   deployments) when nothing usable is remembered: first pass, after Invalidate(), after an
//   error, when the last pass neither waited on CML nor was in sync, and at least every
//   `full_observe_every` for a synced model;
// - the remembered one with the build or deployment the last plan awaited read again by id;
// - for a model that was Synced and Healthy, the remembered one rechecked through the
//   project's model listing and the runtime catalogue shared by all passes (SharedListings)
//   and its serving deployment by id; any difference (a vanished model or deployment) falls back
//   to a full observation.
// A write may be sent only from a full observation of the same pass, or when MayWrite() says the
// remembered observation is the answer to this reconciler's own previous write in a chain (the
// build of a model it just created, the deployment of a build it created and saw finish).
//
// Only what planning needs is remembered (TrimObservation), so memory does not follow CML's
// growing history. Runs on the io_context thread; never two passes of one model at a time (the
// work queue's guarantee). `client` and `clock` must outlive it.
class ObservationCache {
 public:
  struct Options {
    common::Duration full_observe_every = std::chrono::minutes(30);
    common::Duration listing_max_age = std::chrono::seconds(15);
  };

  ObservationCache(api::CmlClient& client, common::Clock& clock, Options options);

  // The observation to plan `spec` from (see above). On error, nothing stays remembered for the
  // model and the error is returned annotated with the failing operation. `ledger` (the
  // model's writes, may be null) tells the trimming which stopped deployments are drift.
  boost::asio::awaitable<common::StatusOr<Observation>> Observe(config::ModelDeploymentSpec spec,
                                                                const WriteLedger* ledger);
  // A full observation, whatever is remembered.
  boost::asio::awaitable<common::StatusOr<Observation>> ObserveFully(
      config::ModelDeploymentSpec spec, const WriteLedger* ledger);
  // The CML model named in `spec`, its builds and their deployments, without remembering
  // anything (the --prune path).
  boost::asio::awaitable<common::StatusOr<ObservedState>> ObserveModel(
      config::ModelDeploymentSpec spec);
  // Everything a plan needs, without remembering anything (the `plan` command).
  boost::asio::awaitable<common::StatusOr<ObservedState>> ObserveOnce(
      config::ModelDeploymentSpec spec);

  // Whether `action` may be sent although the observation of this pass was not a full one.
  bool MayWrite(const std::string& name, const PlannedAction& action) const;

  // Folds CML's answer to a successful `action` into the remembered observation, and remembers
  // what it created until a list shows it (read your writes, design 4a).
  void Absorb(const std::string& name, const PlannedAction& action, const WriteAnswer& answer);

  // After a pass: remembers what the next pass needs to look at (the object `plan` awaits, the
  // serving deployment of a synced model, or the answers to a chain of writes); anything else
  // makes the next pass observe fully.
  void Remember(const std::string& name, const Plan& plan, const WriteAnswer* written);

  // Verifications this daemon ran for `name`'s deployments (design 4b), by deployment id; CML
  // keeps none. The newest kMaxVerifications are kept, across generations: a deployment that
  // failed verification must never become the "last good" one.
  void RecordVerification(const std::string& name, const std::string& deployment_id,
                          Verification verification);
  const std::map<std::string, Verification>& Verifications(std::string_view name) const;
  static constexpr std::size_t kMaxVerifications = 16;

  // The next pass of `name` observes fully. `forget_unseen_writes` (a retry) also stops looking
  // for created objects that never showed up.
  void Invalidate(const std::string& name, bool forget_unseen_writes = false);
  // Forgets `name` entirely (it left the desired state).
  void Erase(const std::string& name) { entries_.erase(name); }
  // What is remembered of `name` between passes (null: nothing), for tests and diagnostics.
  const ObservedState* Remembered(std::string_view name) const;
  bool Contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }

 private:
  // What the next pass looks at before planning, when it is not a full observation.
  enum class Focus { kNone, kBuild, kDeployment, kSynced, kChain };
  struct Entry {
    std::optional<ObservedState> observed;
    ObservationKind last_kind = ObservationKind::kFull;
    Focus focus = Focus::kNone;
    std::string focus_build_id;
    std::string focus_deployment_id;
    bool model_created_by_us = false;  // since the last full observation
    std::string build_created_by_us;
    common::TimePoint last_full_at{};
    ReadMemory reads;  // what helps read CML right; survives invalidation
    std::map<std::string, Verification> verifications;  // survives invalidation
  };

  // The awaited build or deployment, by id.
  boost::asio::awaitable<common::Status> Refresh(const config::ModelDeploymentSpec& spec,
                                                 Entry& entry);
  // The cheap look at a synced model. False when what it found cannot be planned from.
  boost::asio::awaitable<common::StatusOr<bool>> Recheck(const config::ModelDeploymentSpec& spec,
                                                         Entry& entry);

  common::Clock& clock_;
  Options options_;
  CmlReader reader_;
  SharedListings listings_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace cmlr::controllers
