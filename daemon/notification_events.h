#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "controllers/model_status.h"

namespace cmlr::daemon {

// The notifications of design section 12 (contract): what happened, and the payloads a
// receiver gets. Pure functions only; daemon/notifier.h sends them.

enum class NotificationEvent {
  kSynced,                // the model became Synced and Healthy
  kDegraded,              // health became Degraded (not stalled)
  kStalled,               // the Stalled condition became True (reason other than RolledBack)
  kRolledBack,            // Stalled with reason RolledBack: the last good deployment serves
  kDriftCorrected,        // a self-heal write (reason UndoingDrift) succeeded in this pass
  kDesiredStateRejected,  // a new desired tree was invalid; the last good one stays in force
};

// "synced", "degraded", "stalled", "rolled_back", "drift_corrected", "desired_state_rejected".
std::string_view EventName(NotificationEvent event);

// Where a model stands, as far as notifications care. Only the transitions into kSynced,
// kDegraded, kStalled and kRolledBack are told; kOther (Progressing, OutOfSync, Missing,
// Suspended, Unknown, ...) is never told, so a model passing through it and back is told again.
enum class NotifiedState { kOther, kSynced, kDegraded, kStalled, kRolledBack };

// What the notifier remembers of a model between passes.
struct ModelSummary {
  NotifiedState state = NotifiedState::kOther;
  // The newest history entry at the last pass (time, operation, message), so that a self-heal
  // write is told once, in the pass that made it.
  std::optional<controllers::HistoryEntry> newest_history;
};

// The state a status shows. Precedence: Stalled condition True with reason RolledBack ->
// kRolledBack; other Stalled True -> kStalled; health Degraded -> kDegraded; sync Synced with
// health Healthy -> kSynced; anything else -> kOther.
NotifiedState ClassifyStatus(const controllers::ModelStatus& status);

ModelSummary Summarize(const controllers::ModelStatus& status);

// The event one pass's status calls for, given what the previous pass left (`previous` is
// nullopt for the first pass the notifier sees of the model, e.g. right after start-up):
//
//   1. drift_corrected when the newest history entry is new since `previous` (any entry is new
//      on a first pass), is a successful create_deployment, and the Reconciling condition
//      is True with reason UndoingDrift. That pass leaves the model OutOfSync (Missing or
//      Progressing), so no state event competes with it.
//   2. Otherwise an event when the state (ClassifyStatus) differs from the previous one and is
//      not kOther: synced, degraded, stalled or rolled_back. A state that stays the same is not
//      told again (a stalled model whose message changes stays quiet).
//   3. On a first pass, kSynced is NOT told (a daemon restart would otherwise announce every
//      healthy model), while kDegraded, kStalled and kRolledBack are (they need attention
//      whether or not this daemon saw them start).
//
// A rollout goes Degraded while rolling back (reason RollingBack) and then RolledBack: two
// events, "degraded" then "rolled_back".
std::optional<NotificationEvent> DetectEvent(const std::optional<ModelSummary>& previous,
                                             const controllers::ModelStatus& current);

// One notification, the fields of the json payload.
struct Notification {
  NotificationEvent event = NotificationEvent::kSynced;
  std::optional<std::string> model;     // null for desired_state_rejected
  std::optional<std::string> revision;  // the desired state's source revision, null when none
  std::string sync;                     // "Synced", ...; "" for desired_state_rejected
  std::string health;                   // "Healthy", ...; "" for desired_state_rejected
  std::string reason;                   // CamelCase, e.g. "RolledBack"
  std::string message;
  common::TimePoint time{};
};

// The notification for `event` on `status`: reason and message of the Stalled condition for
// stalled and rolled_back, of the Reconciling condition for drift_corrected, of the Ready
// condition otherwise.
Notification MakeModelNotification(NotificationEvent event, const controllers::ModelStatus& status,
                                   std::optional<std::string> revision, common::TimePoint now);

// Reason "DesiredStateRejected", message "N error(s); first: FILE:LINE:COLUMN: ...".
Notification MakeRejectedNotification(std::size_t errors, std::string_view first_error,
                                      std::optional<std::string> revision, common::TimePoint now);

enum class NotificationFormat { kJson, kSlack };

// INVALID_ARGUMENT naming --notify-format for anything but "json" and "slack".
common::StatusOr<NotificationFormat> ParseNotificationFormat(std::string_view text);

// json: {"event", "model", "revision", "sync", "health", "reason", "message", "time"} (model and
// revision null when absent, sync and health null for desired_state_rejected, time RFC 3339
// UTC). slack: {"text": one readable line}.
std::string RenderPayload(const Notification& notification, NotificationFormat format);

}  // namespace cmlr::daemon
