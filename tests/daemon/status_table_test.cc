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

}  // namespace
}  // namespace cmlr::daemon
