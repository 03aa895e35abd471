#include "daemon/status_table.h"

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>

#include "common/http_server.h"

namespace cmlr::daemon {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

json FullEntry() {
  return json::parse(R"({
    "name": "fraud-classifier",
    "sync": "Synced",
    "health": "Healthy",
    "conditions": [
      {"type": "Reconciling", "status": "False", "reason": "Done", "message": "nothing to do"},
      {"type": "Ready", "status": "True", "reason": "Deployed", "message": "deployment 42 serves version 3"}
    ],
    "live": {"version": 3, "replicas": 2, "desiredReplicas": 2, "modelId": "m-1"},
    "history": [
      {"time": "2026-01-01T00:00:00Z", "operation": "create_model_build", "httpStatus": 201,
       "error": false, "message": ""},
      {"time": "2026-01-01T00:01:00Z", "operation": "create_model_deployment", "httpStatus": 201,
       "error": false, "message": ""}
    ],
    "plannedAction": null
  })");
}

// Verifies that every column is filled from a full ENTRY and that columns line up.
TEST(FormatStatusTableTest, AlignsColumns) {
  json second = FullEntry();
  second["name"] = "churn";
  second["sync"] = "OutOfSync";
  second["health"] = "Progressing";
  second["live"]["replicas"] = 0;
  second["history"] =
      json::array({{{"operation", "create_model_build"}, {"httpStatus", 0}, {"error", true}}});
  second["conditions"][1]["message"] = "waiting for build b-7";
  const json response = {{"models", {second, FullEntry()}}};

  const std::vector<std::string> lines = Lines(FormatStatusTable(response));

  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "NAME               SYNC        HEALTH        VERSION   REPLICAS   LAST ACTION"
            "                   MESSAGE");
  EXPECT_EQ(
      lines[1],
      "churn              OutOfSync   Progressing   3         0/2        create_model_build failed"
      "     waiting for build b-7");
  EXPECT_EQ(lines[2],
            "fraud-classifier   Synced      Healthy       3         2/2        "
            "create_model_deployment 201"
            "   deployment 42 serves version 3");
}

// Verifies that missing, null and mistyped fields show as "-" instead of failing.
TEST(FormatStatusTableTest, ToleratesMissingFields) {
  const json response = {{"models",
                          {{{"name", "bare"}},
                           {{"name", "odd"},
                            {"sync", nullptr},
                            {"live", "not an object"},
                            {"history", json::array()},
                            {"conditions", {{{"type", "Ready"}}}}},
                           json::array()}}};

  const std::vector<std::string> lines = Lines(FormatStatusTable(response));

  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "bare   -      -        -         -          -");
  EXPECT_EQ(lines[2], "odd    -      -        -         -          -");
  EXPECT_EQ(lines[3], "-      -      -        -         -          -");
}

// Verifies that an empty model list, or an answer without one, prints a helpful line.
TEST(FormatStatusTableTest, SaysSoWhenThereAreNoModels) {
  const std::string empty = FormatStatusTable({{"models", json::array()}});
  EXPECT_NE(empty.find("No models"), std::string::npos) << empty;
  EXPECT_EQ(Lines(empty).size(), 1u);
  EXPECT_EQ(FormatStatusTable(json::object()), empty);
}

// Verifies that a long message is shortened with "..." so that lines stay within the limit.
TEST(FormatStatusTableTest, TruncatesLongMessages) {
  json entry = FullEntry();
  entry["conditions"][1]["message"] = std::string(400, 'x') + "\nsecond line";
  const std::vector<std::string> lines = Lines(FormatStatusTable({{"models", {entry}}}));

  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].size(), kMaxStatusLineWidth);
  EXPECT_TRUE(lines[1].ends_with("xxx...")) << lines[1];
}

// Verifies that truncation never cuts a UTF-8 character in half.
TEST(FormatStatusTableTest, TruncatesOnCharacterBoundaries) {
  json entry = FullEntry();
  std::string message;
  for (int i = 0; i < 200; ++i) message += "\xc3\xa9";  // é
  entry["conditions"][1]["message"] = message;
  const std::vector<std::string> lines = Lines(FormatStatusTable({{"models", {entry}}}));

  ASSERT_EQ(lines.size(), 2u);
  EXPECT_LE(lines[1].size(), kMaxStatusLineWidth);
  EXPECT_TRUE(json::accept(json(lines[1]).dump()));
  const std::string before_dots = lines[1].substr(0, lines[1].size() - 3);
  EXPECT_TRUE(before_dots.ends_with("\xc3\xa9")) << lines[1];
}

// Verifies that the source revision heads the table when the envelope has one, that a null or
// missing one adds nothing, and that a rejected desired state is said above the table.
TEST(FormatStatusTableTest, ShowsRevisionAndRejectedDesiredState) {
  const json without = {{"models", {FullEntry()}}};
  json with = without;
  with["revision"] = "4f2a9c1";
  const std::vector<std::string> lines = Lines(FormatStatusTable(with));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "Revision: 4f2a9c1");
  EXPECT_EQ(lines[1], "");
  EXPECT_TRUE(lines[2].starts_with("NAME"));
  with["revision"] = nullptr;
  EXPECT_EQ(FormatStatusTable(with), FormatStatusTable(without));

  with["desiredState"] = {{"result", "failure"},
                          {"at", "2026-01-01T00:00:00Z"},
                          {"errors", 2},
                          {"message", "fraud.yaml: spec.resources.cpu: expected a number"}};
  const std::string rejected = FormatStatusTable(with);
  EXPECT_TRUE(rejected.starts_with("Desired state: the latest was rejected")) << rejected;
  EXPECT_NE(rejected.find("spec.resources.cpu"), std::string::npos) << rejected;
  with["desiredState"]["result"] = "success";
  EXPECT_EQ(FormatStatusTable(with), FormatStatusTable(without));
}

// Verifies that the detail block of one model shows its conditions, planned action, diffs,
// live ids, times and the newest history entries, newest last.
TEST(FormatStatusDetailTest, ShowsEverythingAboutOneModel) {
  json entry = FullEntry();
  entry["plannedAction"] = "create_model_build: version 4 on runtime r";
  entry["diffs"] = {{{"field", "version"}, {"live", "3"}, {"desired", "4"}}};
  entry["live"]["buildId"] = "b-7";
  entry["live"]["buildStatus"] = "built";
  entry["revision"] = "4f2a9c1";
  entry["lastSyncedAt"] = "2026-01-01T00:02:00Z";
  entry["verification"] = {
      {"result", "Passed"}, {"at", "2026-01-01T00:03:00Z"}, {"message", "2 of 2 answered"}};
  for (int i = 0; i < 8; ++i) {
    entry["history"].push_back({{"time", "2026-01-01T00:1" + std::to_string(i) + ":00Z"},
                                {"operation", "op" + std::to_string(i)},
                                {"httpStatus", i == 7 ? 0 : 200},
                                {"error", i == 7},
                                {"message", i == 7 ? "connection reset" : ""}});
  }
  const std::string detail = FormatStatusDetail(entry);
  const std::vector<std::string> lines = Lines(detail);
  const auto has = [&detail](const std::string& part) {
    return detail.find(part) != std::string::npos;
  };
  EXPECT_TRUE(has("Conditions:\n  Reconciling   False   Done       since -   nothing to do\n"))
      << detail;
  EXPECT_TRUE(has("Planned action: create_model_build: version 4 on runtime r\n")) << detail;
  EXPECT_TRUE(has("  version: 3 -> 4\n")) << detail;
  EXPECT_TRUE(has("Live: model m-1, build b-7 (built), deployment -\n")) << detail;
  EXPECT_TRUE(has("Verification: Passed at 2026-01-01T00:03:00Z: 2 of 2 answered")) << detail;
  EXPECT_TRUE(has("Last synced: 2026-01-01T00:02:00Z, next reconcile: -")) << detail;
  EXPECT_TRUE(has("Revision: 4f2a9c1")) << detail;
  EXPECT_FALSE(has("op2")) << detail;
  EXPECT_TRUE(has("op3 200")) << detail;
  EXPECT_TRUE(lines.back().ends_with("op7 -   connection reset")) << detail;
  for (const std::string& line : lines) EXPECT_LE(line.size(), kMaxStatusLineWidth) << line;
}

// Verifies that an entry with nothing in it, or with mistyped fields, still renders.
TEST(FormatStatusDetailTest, ToleratesMissingFields) {
  for (const json& entry : {json::object(), json(nullptr), json{{"conditions", "x"}},
                            json{{"history", {1, "two"}}, {"live", 3}, {"diffs", {json()}}}}) {
    const std::string detail = FormatStatusDetail(entry);
    EXPECT_NE(detail.find("Planned action: none"), std::string::npos) << entry << detail;
    EXPECT_TRUE(detail.ends_with("\n"));
  }
}

}  // namespace
}  // namespace cmlr::daemon
