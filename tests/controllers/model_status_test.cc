#include "controllers/model_status.h"

#include <gtest/gtest.h>

#include "common/time_format.h"

namespace cmlr::controllers {
namespace {

// Verifies the JSON entry carries every field of design section 5 with camelCase keys.
TEST(ModelStatusTest, JsonHasContractFields) {
  ModelStatus status;
  status.name = "fraud-classifier";
  status.sync = SyncState::kSynced;
  status.health = HealthState::kHealthy;
  const common::TimePoint now = *common::ParseRfc3339("2026-11-27T10:00:00Z");
  status.SetCondition({.type = "Ready", .status = "True", .reason = "Synced"}, now);
  status.last_synced_at = now;
  const nlohmann::json json = ToJson(status);
  for (const char* key : {"name", "sync", "health", "conditions", "live", "history", "lastSyncedAt",
                          "nextReconcileAt", "desiredDigest", "resolvedRuntime", "plannedAction"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["sync"], "Synced");
  EXPECT_EQ(json["health"], "Healthy");
  EXPECT_EQ(json["lastSyncedAt"], "2026-11-27T10:00:00Z");
  EXPECT_TRUE(json["nextReconcileAt"].is_null());
  EXPECT_EQ(json["conditions"][0]["lastTransitionTime"], "2026-11-27T10:00:00Z");
  EXPECT_TRUE(json["conditions"][0].contains("observedGeneration"));
}

// Verifies that a condition keeps its transition time while its status does not change.
TEST(ModelStatusTest, ConditionTransitionTimeChangesOnlyWithStatus) {
  ModelStatus status;
  const common::TimePoint t0 = *common::ParseRfc3339("2026-11-27T10:00:00Z");
  status.SetCondition({.type = "Ready", .status = "False", .reason = "A"}, t0);
  status.SetCondition({.type = "Ready", .status = "False", .reason = "B"},
                      t0 + std::chrono::minutes(1));
  EXPECT_EQ(status.FindCondition("Ready")->last_transition_time, t0);
  EXPECT_EQ(status.FindCondition("Ready")->reason, "B");
  status.SetCondition({.type = "Ready", .status = "True", .reason = "C"},
                      t0 + std::chrono::minutes(2));
  EXPECT_EQ(status.FindCondition("Ready")->last_transition_time, t0 + std::chrono::minutes(2));
  EXPECT_EQ(status.FindCondition("Stalled"), nullptr);
}

// Verifies that history keeps only the newest 20 entries.
TEST(ModelStatusTest, HistoryIsBounded) {
  ModelStatus status;
  for (int i = 0; i < 25; ++i) status.AddHistory({.operation = std::to_string(i)});
  ASSERT_EQ(status.history.size(), kHistoryLimit);
  EXPECT_EQ(status.history.front().operation, "5");
  EXPECT_EQ(status.history.back().operation, "24");
}

}  // namespace
}  // namespace cmlr::controllers
