#include "daemon/plan_report.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cmlr::daemon {
namespace {

using controllers::HealthState;
using controllers::SyncState;

PlanRow Synced(const std::string& name) {
  return {.name = name, .sync = "Synced", .health = "Healthy", .reason = "Synced"};
}

PlanRow Changing(const std::string& name) {
  return {.name = name,
          .sync = "OutOfSync",
          .health = "Healthy",
          .reason = "Deploying",
          .message = "resources changed",
          .action = "create_deployment: build b-1 with 4 cpu, 8 GiB, 1 replica",
          .diffs = {{.field = "resources.cpu", .live = "2", .desired = "4"}}};
}

// Verifies which rows count as changes: writes, differences, stalls and prunes do; a synced
// model, a suspended one and an error do not.
TEST(PlanReportTest, ChangesAndExitCodes) {
  EXPECT_FALSE(Synced("a").changes());
  EXPECT_TRUE(Changing("a").changes());
  PlanRow stalled = Synced("a");
  stalled.stalled = true;
  EXPECT_TRUE(stalled.changes());
  PlanRow suspended = Changing("a");
  suspended.suspended = true;
  EXPECT_FALSE(suspended.changes());
  PlanRow failed = RowFromError("a", common::UnavailableError("CML is down"));
  EXPECT_FALSE(failed.changes());
  EXPECT_EQ(failed.error, "UNAVAILABLE: CML is down");

  EXPECT_EQ(PlanExitCode({}), 0);
  EXPECT_EQ(PlanExitCode({.models = {Synced("a"), suspended}}), 0);
  EXPECT_EQ(PlanExitCode({.models = {Synced("a"), Changing("b")}}), 2);
  EXPECT_EQ(PlanExitCode({.models = {Changing("b"), failed}}), 1);
  EXPECT_EQ((PlanReport{.models = {Synced("a"), Changing("b"), stalled}}).changes(), 2);
}

// Verifies the row made from a plan: the vocabulary of the status, the next write, the diffs,
// and a suspended write shown as what would be done.
TEST(PlanReportTest, RowFromPlan) {
  controllers::Plan plan;
  plan.sync = SyncState::kOutOfSync;
  plan.health = HealthState::kProgressing;
  plan.reason = controllers::Reason::kBuildInProgress;
  plan.message = "build b-1 is building";
  plan.diffs = {{.field = "version", .live = "2", .desired = "3"}};
  plan.rollback_of = "verification failed: HTTP 500";
  controllers::PlannedAction action;
  action.kind = controllers::ActionKind::kCreateDeployment;
  action.summary = "build b-1";
  plan.action = action;
  PlanRow row = RowFromPlan("fraud", plan);
  EXPECT_EQ(row.sync, "OutOfSync");
  EXPECT_EQ(row.health, "Progressing");
  EXPECT_EQ(row.reason, "BuildInProgress");
  EXPECT_EQ(row.action, "create_deployment: build b-1");
  EXPECT_EQ(row.rolled_back, "verification failed: HTTP 500");
  EXPECT_FALSE(row.suspended);
  ASSERT_EQ(row.diffs.size(), 1u);

  plan.health = HealthState::kSuspended;
  plan.suppressed_by_suspend = true;
  EXPECT_TRUE(RowFromPlan("fraud", plan).suspended);
  plan.stalled = true;
  EXPECT_FALSE(RowFromPlan("fraud", plan).suspended);
}

// Verifies that prune candidates become one row per name, a diff per deployment.
TEST(PlanReportTest, RowsFromPruneCandidates) {
  const std::vector<controllers::PruneCandidate> candidates = {{.name = "old",
                                                                .model_id = "m-1",
                                                                .model_name = "old-endpoint",
                                                                .deployment_id = "d-1",
                                                                .deployment_status = "deployed"},
                                                               {.name = "old",
                                                                .model_id = "m-1",
                                                                .model_name = "old-endpoint",
                                                                .deployment_id = "d-2",
                                                                .deployment_status = "pending"},
                                                               {.name = "ancient",
                                                                .model_id = "m-2",
                                                                .model_name = "a",
                                                                .deployment_id = "d-3",
                                                                .deployment_status = "deployed"}};
  const std::vector<PlanRow> rows = RowsFromPruneCandidates(candidates);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "ancient");
  EXPECT_EQ(rows[1].name, "old");
  EXPECT_TRUE(rows[1].prune);
  EXPECT_TRUE(rows[1].changes());
  ASSERT_EQ(rows[1].diffs.size(), 2u);
  EXPECT_EQ(rows[1].diffs[1].field, "deployment d-2");
  EXPECT_EQ(rows[1].diffs[1].live, "pending");
  EXPECT_EQ(rows[1].diffs[1].desired, "stopped (pruned)");
  EXPECT_EQ(rows[1].action, "stop_deployment: deployment d-1 of model old-endpoint (m-1)");
}

// Verifies the text output: revision, a line per model, diffs, next action, the summary.
TEST(PlanReportTest, Text) {
  PlanRow suspended = Changing("s");
  suspended.suspended = true;
  suspended.message = "suspend: true";
  const std::string text =
      FormatPlanText({.revision = "abc123", .models = {Changing("a"), Synced("b"), suspended}});
  EXPECT_EQ(text,
            "Desired state revision: abc123\n"
            "a: changes\n"
            "  resources.cpu: 2 -> 4\n"
            "  next action: create_deployment: build b-1 with 4 cpu, 8 GiB, 1 replica\n"
            "b: no changes (Synced, Healthy)\n"
            "s: suspended, no changes applied (suspend: true)\n"
            "  would: create_deployment: build b-1 with 4 cpu, 8 GiB, 1 replica\n"
            "1 of 3 models change.\n");
  EXPECT_NE(FormatPlanText({}).find("revision: unknown"), std::string::npos);
}

// Verifies the JSON output has the contract keys (design 6) for every model.
TEST(PlanReportTest, Json) {
  PlanRow prune = RowsFromPruneCandidates({{.name = "old", .deployment_id = "d-1"}})[0];
  const nlohmann::json json =
      PlanToJson({.revision = "abc123", .models = {Changing("a"), Synced("b"), prune}});
  EXPECT_EQ(json["revision"], "abc123");
  EXPECT_EQ(json["changes"], 2);
  ASSERT_EQ(json["models"].size(), 3u);
  for (const nlohmann::json& model : json["models"]) {
    for (const char* key : {"name", "sync", "health", "action", "diffs", "prune"}) {
      EXPECT_TRUE(model.contains(key)) << key << " in " << model.dump();
    }
  }
  EXPECT_EQ(json["models"][0]["diffs"][0],
            (nlohmann::json{{"field", "resources.cpu"}, {"live", "2"}, {"desired", "4"}}));
  EXPECT_TRUE(json["models"][1]["action"].is_null());
  EXPECT_EQ(json["models"][2]["prune"], true);
  EXPECT_TRUE(PlanToJson({})["revision"].is_null());
}

// Verifies the markdown table: a heading that says how much changes, the revision, one row per
// model, and cells that cannot break the table (pipes, line breaks, HTML).
TEST(PlanReportTest, Markdown) {
  PlanRow tricky = Changing("t");
  tricky.diffs = {{.field = "description", .live = "a|b\nc", .desired = "<script>"}};
  const std::string md =
      FormatPlanMarkdown({.revision = "abc123", .models = {tricky, Synced("b")}});
  EXPECT_NE(md.find("### cml-reconciler plan: 1 of 2 models change"), std::string::npos) << md;
  EXPECT_NE(md.find("`abc123`"), std::string::npos) << md;
  EXPECT_NE(md.find("| Model | Sync | Health | Next action | Differences |"), std::string::npos);
  EXPECT_NE(md.find("| **t** | OutOfSync | Healthy | `create_deployment` build b-1"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("`description`: a\\|b c → &lt;script>"), std::string::npos) << md;
  EXPECT_NE(md.find("| b | Synced | Healthy | none |  |"), std::string::npos) << md;
  // Every table line has the same number of unescaped cell separators.
  std::size_t start = md.find("| Model");
  while (start != std::string::npos && start < md.size()) {
    const std::size_t end = md.find('\n', start);
    const std::string line = md.substr(start, end - start);
    int pipes = 0;
    for (std::size_t i = 0; i < line.size(); ++i)
      pipes += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(pipes, 6) << line;
    start = end + 1;
  }
  EXPECT_NE(FormatPlanMarkdown({}).find("no changes"), std::string::npos);
  EXPECT_NE(FormatPlanMarkdown({.models = {RowFromError("x", common::InternalError("boom"))}})
                .find("errors"),
            std::string::npos);
}

}  // namespace
}  // namespace cmlr::daemon
