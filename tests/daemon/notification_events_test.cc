#include "daemon/notification_events.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/time_format.h"
#include "controllers/planner.h"

namespace cmlr::daemon {
namespace {

using controllers::HealthState;
using controllers::HistoryEntry;
using controllers::ModelStatus;
using controllers::SyncState;

const std::string_view kCreateDeployment =
    controllers::ActionName(controllers::ActionKind::kCreateDeployment);
const common::TimePoint kNow = *common::ParseRfc3339("2026-12-04T20:30:00Z");

// A status as the reconciler records it: Ready, Reconciling and Stalled conditions.
ModelStatus MakeStatus(SyncState sync, HealthState health, std::string reason = "Synced",
                       bool stalled = false, bool reconciling = false) {
  ModelStatus status{.name = "fraud-classifier", .sync = sync, .health = health};
  const bool ready = sync == SyncState::kSynced && health == HealthState::kHealthy;
  status.SetCondition({.type = "Ready",
                       .status = ready ? "True" : "False",
                       .reason = reason,
                       .message = "ready message"},
                      kNow);
  status.SetCondition({.type = "Reconciling",
                       .status = reconciling ? "True" : "False",
                       .reason = reason,
                       .message = reconciling ? "deploy build b-1 with cpu 2" : ""},
                      kNow);
  status.SetCondition({.type = "Stalled",
                       .status = stalled ? "True" : "False",
                       .reason = stalled ? reason : "NotStalled",
                       .message = stalled ? "stalled message" : ""},
                      kNow);
  return status;
}

// One status per NotifiedState, in enum order.
ModelStatus StatusIn(NotifiedState state) {
  switch (state) {
    case NotifiedState::kOther:
      return MakeStatus(SyncState::kOutOfSync, HealthState::kProgressing, "BuildInProgress");
    case NotifiedState::kSynced:
      return MakeStatus(SyncState::kSynced, HealthState::kHealthy);
    case NotifiedState::kDegraded:
      return MakeStatus(SyncState::kOutOfSync, HealthState::kDegraded, "BuildTimeout");
    case NotifiedState::kStalled:
      return MakeStatus(SyncState::kOutOfSync, HealthState::kDegraded, "BuildFailed", true);
    case NotifiedState::kRolledBack:
      return MakeStatus(SyncState::kOutOfSync, HealthState::kDegraded, "RolledBack", true);
  }
  return {};
}

constexpr NotifiedState kStates[] = {NotifiedState::kOther, NotifiedState::kSynced,
                                     NotifiedState::kDegraded, NotifiedState::kStalled,
                                     NotifiedState::kRolledBack};

// Verifies how statuses map to the notified states, stalled taking precedence over health.
TEST(NotificationEventsTest, ClassifiesStatuses) {
  for (NotifiedState state : kStates) {
    EXPECT_EQ(ClassifyStatus(StatusIn(state)), state) << static_cast<int>(state);
  }
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kSynced, HealthState::kSuspended, "Suspended")),
            NotifiedState::kOther);
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kOutOfSync, HealthState::kHealthy, "Drift")),
            NotifiedState::kOther);
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kSynced, HealthState::kProgressing)),
            NotifiedState::kOther);
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kUnknown, HealthState::kUnknown)),
            NotifiedState::kOther);
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kOutOfSync, HealthState::kMissing, "X")),
            NotifiedState::kOther);
  EXPECT_EQ(ClassifyStatus(ModelStatus{.name = "bare"}), NotifiedState::kOther);
  // Stalled while the health says Progressing (WriteNotObserved) is still stalled.
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kOutOfSync, HealthState::kProgressing,
                                      "WriteNotObserved", true)),
            NotifiedState::kStalled);
  // Rolling back is Degraded, not yet RolledBack.
  EXPECT_EQ(ClassifyStatus(MakeStatus(SyncState::kOutOfSync, HealthState::kDegraded, "RollingBack",
                                      false, true)),
            NotifiedState::kDegraded);
}

// Verifies every (previous, current) pair of states: only a change into synced, degraded,
// stalled or rolled back is told, and a first pass tells everything but synced.
TEST(NotificationEventsTest, DetectsEveryTransition) {
  using E = NotificationEvent;
  const std::optional<E> none;
  // Rows: previous (first pass, then kStates); columns: current (kStates).
  const std::vector<std::vector<std::optional<E>>> expected = {
      /* first pass */ {none, none, E::kDegraded, E::kStalled, E::kRolledBack},
      /* other      */ {none, E::kSynced, E::kDegraded, E::kStalled, E::kRolledBack},
      /* synced     */ {none, none, E::kDegraded, E::kStalled, E::kRolledBack},
      /* degraded   */ {none, E::kSynced, none, E::kStalled, E::kRolledBack},
      /* stalled    */ {none, E::kSynced, E::kDegraded, none, E::kRolledBack},
      /* rolledback */ {none, E::kSynced, E::kDegraded, E::kStalled, none},
  };
  for (std::size_t row = 0; row < expected.size(); ++row) {
    std::optional<ModelSummary> previous;
    if (row > 0) previous = Summarize(StatusIn(kStates[row - 1]));
    for (std::size_t column = 0; column < std::size(kStates); ++column) {
      EXPECT_EQ(DetectEvent(previous, StatusIn(kStates[column])), expected[row][column])
          << "row " << row << " column " << column;
    }
  }
}

// A pass that redeployed after drift, with selfHeal: Reconciling UndoingDrift, the write last.
ModelStatus SelfHealed(bool write_failed = false) {
  ModelStatus status =
      MakeStatus(SyncState::kOutOfSync, HealthState::kMissing, "UndoingDrift", false, true);
  status.AddHistory({.time = kNow - std::chrono::minutes(5),
                     .operation = std::string(kCreateDeployment),
                     .message = "deploy build b-1 (the first rollout)"});
  status.AddHistory({.time = kNow,
                     .operation = std::string(kCreateDeployment),
                     .http_status = write_failed ? 503 : 200,
                     .error = write_failed,
                     .message = "deploy build b-1 with cpu 2"});
  return status;
}

// Verifies that a self-heal write is told once, in its pass, and only when it succeeded.
TEST(NotificationEventsTest, DetectsDriftCorrectedOnce) {
  const ModelStatus healed = SelfHealed();
  const ModelSummary synced = Summarize(StatusIn(NotifiedState::kSynced));
  EXPECT_EQ(DetectEvent(synced, healed), NotificationEvent::kDriftCorrected);
  EXPECT_EQ(DetectEvent(std::nullopt, healed), NotificationEvent::kDriftCorrected);
  // The next pass still shows the same newest entry (holding for the write to show): quiet.
  EXPECT_EQ(DetectEvent(Summarize(healed), healed), std::nullopt);
  EXPECT_EQ(DetectEvent(synced, SelfHealed(/*write_failed=*/true)), std::nullopt);

  // A first rollout's create_model_deployment is no drift.
  ModelStatus rollout = healed;
  rollout.SetCondition({.type = "Reconciling", .status = "True", .reason = "CreatingDeployment"},
                       kNow);
  EXPECT_EQ(DetectEvent(synced, rollout), std::nullopt);

  // The self-healed model serving again is a plain "synced".
  ModelStatus back = StatusIn(NotifiedState::kSynced);
  back.history = healed.history;
  EXPECT_EQ(DetectEvent(Summarize(healed), back), NotificationEvent::kSynced);
}

// Verifies the json payload: every field, RFC 3339 UTC time, reason and message of the
// condition that explains the event.
TEST(NotificationEventsTest, RendersJsonPayload) {
  const ModelStatus status = StatusIn(NotifiedState::kRolledBack);
  const Notification n =
      MakeModelNotification(NotificationEvent::kRolledBack, status, "0123456789abcdef", kNow);
  EXPECT_EQ(nlohmann::json::parse(RenderPayload(n, NotificationFormat::kJson)),
            nlohmann::json::parse(R"({"event": "rolled_back", "model": "fraud-classifier",
                "revision": "0123456789abcdef", "sync": "OutOfSync", "health": "Degraded",
                "reason": "RolledBack", "message": "stalled message",
                "time": "2026-12-04T20:30:00Z"})"));

  const Notification synced = MakeModelNotification(
      NotificationEvent::kSynced, StatusIn(NotifiedState::kSynced), std::nullopt, kNow);
  const auto json = nlohmann::json::parse(RenderPayload(synced, NotificationFormat::kJson));
  EXPECT_TRUE(json["revision"].is_null());
  EXPECT_EQ(json["reason"], "Synced");
  EXPECT_EQ(json["message"], "ready message");

  const Notification healed =
      MakeModelNotification(NotificationEvent::kDriftCorrected, SelfHealed(), std::nullopt, kNow);
  EXPECT_EQ(healed.reason, "UndoingDrift");
  EXPECT_EQ(healed.message, "deploy build b-1 with cpu 2");
}

// Verifies the rejected desired state: model, sync and health null, the error count and the
// first error in the message.
TEST(NotificationEventsTest, RendersRejectedDesiredState) {
  const Notification n = MakeRejectedNotification(
      3, "models/fraud.yaml:4:7: spec.resources.cpu: expected a number", "89abcdef01234567", kNow);
  EXPECT_EQ(nlohmann::json::parse(RenderPayload(n, NotificationFormat::kJson)),
            nlohmann::json::parse(R"({"event": "desired_state_rejected", "model": null,
                "revision": "89abcdef01234567", "sync": null, "health": null,
                "reason": "DesiredStateRejected",
                "message": "3 errors; first: models/fraud.yaml:4:7: spec.resources.cpu: expected a number",
                "time": "2026-12-04T20:30:00Z"})"));
  EXPECT_EQ(MakeRejectedNotification(1, "", std::nullopt, kNow).message, "1 error");
}

// Verifies the slack payload: one readable line per event, a git hash shortened, Slack's
// special characters escaped.
TEST(NotificationEventsTest, RendersSlackPayload) {
  const std::string hash = "abc1234def5678abc1234def5678abc1234def56";
  const auto text = [](const Notification& n) {
    return nlohmann::json::parse(RenderPayload(n, NotificationFormat::kSlack)).at("text");
  };
  EXPECT_EQ(text(MakeModelNotification(NotificationEvent::kSynced, StatusIn(NotifiedState::kSynced),
                                       hash, kNow)),
            ":white_check_mark: fraud-classifier is Synced and Healthy (rev abc1234): "
            "ready message");
  EXPECT_EQ(
      text(MakeModelNotification(NotificationEvent::kStalled, StatusIn(NotifiedState::kStalled),
                                 "v1.2", kNow)),
      ":octagonal_sign: fraud-classifier is Stalled (rev v1.2): BuildFailed: stalled message");
  EXPECT_EQ(text(MakeModelNotification(NotificationEvent::kDegraded,
                                       StatusIn(NotifiedState::kDegraded), std::nullopt, kNow)),
            ":warning: fraud-classifier is Degraded: BuildTimeout: ready message");
  EXPECT_EQ(text(MakeModelNotification(NotificationEvent::kRolledBack,
                                       StatusIn(NotifiedState::kRolledBack), std::nullopt, kNow)),
            ":rewind: fraud-classifier was rolled back: RolledBack: stalled message");
  EXPECT_EQ(text(MakeModelNotification(NotificationEvent::kDriftCorrected, SelfHealed(),
                                       std::nullopt, kNow)),
            ":wrench: fraud-classifier drifted and was corrected: UndoingDrift: deploy build b-1 "
            "with cpu 2");
  EXPECT_EQ(text(MakeRejectedNotification(2, "a.yaml:1:1: x < y & z", std::nullopt, kNow)),
            ":x: The desired state was rejected; the last good one stays in force: "
            "DesiredStateRejected: 2 errors; first: a.yaml:1:1: x &lt; y &amp; z");
}

// Verifies that a message with bytes that are not UTF-8 still renders (replaced).
TEST(NotificationEventsTest, RendersInvalidUtf8) {
  Notification n = MakeRejectedNotification(1, "bad \xff byte", std::nullopt, kNow);
  for (NotificationFormat format : {NotificationFormat::kJson, NotificationFormat::kSlack}) {
    EXPECT_FALSE(nlohmann::json::parse(RenderPayload(n, format), nullptr, false).is_discarded());
  }
}

// Verifies the two formats and the error naming the flag.
TEST(NotificationEventsTest, ParsesFormat) {
  EXPECT_EQ(*ParseNotificationFormat("json"), NotificationFormat::kJson);
  EXPECT_EQ(*ParseNotificationFormat("slack"), NotificationFormat::kSlack);
  const auto bad = ParseNotificationFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--notify-format"), std::string::npos);
}

}  // namespace
}  // namespace cmlr::daemon
