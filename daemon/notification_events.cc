#include "daemon/notification_events.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/time_format.h"
#include "controllers/planner.h"
#include "controllers/reason.h"

namespace cmlr::daemon {

namespace {

using controllers::HistoryEntry;
using controllers::ModelStatus;

bool ConditionTrue(const ModelStatus& status, std::string_view type) {
  const controllers::Condition* condition = status.FindCondition(type);
  return condition != nullptr && condition->status == "True";
}

std::string_view ConditionReason(const ModelStatus& status, std::string_view type) {
  const controllers::Condition* condition = status.FindCondition(type);
  return condition == nullptr ? std::string_view() : std::string_view(condition->reason);
}

bool SameEntry(const HistoryEntry& a, const HistoryEntry& b) {
  return a.time == b.time && a.operation == b.operation && a.message == b.message &&
         a.error == b.error;
}

// True when the pass that produced `current` wrote a self-heal deployment.
bool CorrectedDrift(const std::optional<ModelSummary>& previous, const ModelStatus& current) {
  if (current.history.empty()) return false;
  const HistoryEntry& newest = current.history.back();
  if (previous && previous->newest_history && SameEntry(*previous->newest_history, newest)) {
    return false;
  }
  return !newest.error &&
         newest.operation == controllers::ActionName(controllers::ActionKind::kCreateDeployment) &&
         ConditionTrue(current, controllers::kConditionReconciling) &&
         ConditionReason(current, controllers::kConditionReconciling) ==
             controllers::ReasonName(controllers::Reason::kUndoingDrift);
}

std::string_view SlackIcon(NotificationEvent event) {
  switch (event) {
    case NotificationEvent::kSynced:
      return ":white_check_mark:";
    case NotificationEvent::kDegraded:
      return ":warning:";
    case NotificationEvent::kStalled:
      return ":octagonal_sign:";
    case NotificationEvent::kRolledBack:
      return ":rewind:";
    case NotificationEvent::kDriftCorrected:
      return ":wrench:";
    case NotificationEvent::kDesiredStateRejected:
      return ":x:";
  }
  return ":grey_question:";
}

// Slack's mrkdwn gives &, < and > a meaning; everything else is literal.
std::string SlackEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A git hash is shown short, as git does; anything else as it is.
std::string ShortRevision(const std::string& revision) {
  const bool hash =
      revision.size() >= 20 && revision.find_first_not_of("0123456789abcdef") == std::string::npos;
  return hash ? revision.substr(0, 7) : revision;
}

std::string SlackText(const Notification& n) {
  const std::string model = SlackEscape(n.model.value_or(""));
  std::string what;
  switch (n.event) {
    case NotificationEvent::kSynced:
      what = model + " is Synced and Healthy";
      break;
    case NotificationEvent::kDegraded:
      what = model + " is Degraded";
      break;
    case NotificationEvent::kStalled:
      what = model + " is Stalled";
      break;
    case NotificationEvent::kRolledBack:
      what = model + " was rolled back";
      break;
    case NotificationEvent::kDriftCorrected:
      what = model + " drifted and was corrected";
      break;
    case NotificationEvent::kDesiredStateRejected:
      what = "The desired state was rejected; the last good one stays in force";
      break;
  }
  const std::string revision =
      n.revision ? " (rev " + SlackEscape(ShortRevision(*n.revision)) + ")" : "";
  std::string detail;
  if (!n.reason.empty() && n.event != NotificationEvent::kSynced) detail = n.reason;
  if (!n.message.empty()) detail += (detail.empty() ? "" : ": ") + SlackEscape(n.message);
  return fmt::format("{} {}{}{}", SlackIcon(n.event), what, revision,
                     detail.empty() ? "" : ": " + detail);
}

nlohmann::json OrNull(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json OrNull(const std::string& value) {
  return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
}

}  // namespace

std::string_view EventName(NotificationEvent event) {
  switch (event) {
    case NotificationEvent::kSynced:
      return "synced";
    case NotificationEvent::kDegraded:
      return "degraded";
    case NotificationEvent::kStalled:
      return "stalled";
    case NotificationEvent::kRolledBack:
      return "rolled_back";
    case NotificationEvent::kDriftCorrected:
      return "drift_corrected";
    case NotificationEvent::kDesiredStateRejected:
      return "desired_state_rejected";
  }
  return "unknown";
}

NotifiedState ClassifyStatus(const ModelStatus& status) {
  if (ConditionTrue(status, controllers::kConditionStalled)) {
    return ConditionReason(status, controllers::kConditionStalled) ==
                   controllers::ReasonName(controllers::Reason::kRolledBack)
               ? NotifiedState::kRolledBack
               : NotifiedState::kStalled;
  }
  if (status.health == controllers::HealthState::kDegraded) return NotifiedState::kDegraded;
  if (status.sync == controllers::SyncState::kSynced &&
      status.health == controllers::HealthState::kHealthy) {
    return NotifiedState::kSynced;
  }
  return NotifiedState::kOther;
}

ModelSummary Summarize(const ModelStatus& status) {
  ModelSummary summary{.state = ClassifyStatus(status)};
  if (!status.history.empty()) summary.newest_history = status.history.back();
  return summary;
}

std::optional<NotificationEvent> DetectEvent(const std::optional<ModelSummary>& previous,
                                             const ModelStatus& current) {
  if (CorrectedDrift(previous, current)) return NotificationEvent::kDriftCorrected;
  const NotifiedState state = ClassifyStatus(current);
  if (previous && previous->state == state) return std::nullopt;
  switch (state) {
    case NotifiedState::kOther:
      return std::nullopt;
    case NotifiedState::kSynced:
      if (!previous) return std::nullopt;
      return NotificationEvent::kSynced;
    case NotifiedState::kDegraded:
      return NotificationEvent::kDegraded;
    case NotifiedState::kStalled:
      return NotificationEvent::kStalled;
    case NotifiedState::kRolledBack:
      return NotificationEvent::kRolledBack;
  }
  return std::nullopt;
}

Notification MakeModelNotification(NotificationEvent event, const ModelStatus& status,
                                   std::optional<std::string> revision, common::TimePoint now) {
  std::string_view type = controllers::kConditionReady;
  if (event == NotificationEvent::kStalled || event == NotificationEvent::kRolledBack) {
    type = controllers::kConditionStalled;
  } else if (event == NotificationEvent::kDriftCorrected) {
    type = controllers::kConditionReconciling;
  }
  Notification n{.event = event,
                 .model = status.name,
                 .revision = std::move(revision),
                 .sync = std::string(controllers::ToString(status.sync)),
                 .health = std::string(controllers::ToString(status.health)),
                 .time = now};
  if (const controllers::Condition* condition = status.FindCondition(type)) {
    n.reason = condition->reason;
    n.message = condition->message;
  }
  return n;
}

Notification MakeRejectedNotification(std::size_t errors, std::string_view first_error,
                                      std::optional<std::string> revision, common::TimePoint now) {
  std::string message = fmt::format("{} error{}", errors, errors == 1 ? "" : "s");
  if (!first_error.empty()) message += fmt::format("; first: {}", first_error);
  return {.event = NotificationEvent::kDesiredStateRejected,
          .revision = std::move(revision),
          .reason = "DesiredStateRejected",
          .message = std::move(message),
          .time = now};
}

common::StatusOr<NotificationFormat> ParseNotificationFormat(std::string_view text) {
  if (text == "json") return NotificationFormat::kJson;
  if (text == "slack") return NotificationFormat::kSlack;
  return common::InvalidArgumentError("--notify-format: expected json or slack, got \"" +
                                      std::string(text) + "\"");
}

std::string RenderPayload(const Notification& n, NotificationFormat format) {
  nlohmann::json body;
  if (format == NotificationFormat::kSlack) {
    body = {{"text", SlackText(n)}};
  } else {
    body = {{"event", EventName(n.event)},    {"model", OrNull(n.model)},
            {"revision", OrNull(n.revision)}, {"sync", OrNull(n.sync)},
            {"health", OrNull(n.health)},     {"reason", n.reason},
            {"message", n.message},           {"time", common::FormatRfc3339(n.time)}};
  }
  // Messages may carry server text: never let a stray byte fail the payload.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cmlr::daemon
