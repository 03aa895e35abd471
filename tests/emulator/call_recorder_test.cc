#include "emulator/call_recorder.h"

#include <gtest/gtest.h>

namespace cmlr::emulator {
namespace {

using nlohmann::json;

// Verifies that the write log keeps only the newest writes while the counts go on, and says how
// many it dropped.
TEST(CallRecorderTest, KeepsTheNewestWrites) {
  CallRecorder recorder(3);
  const common::TimePoint at{};
  recorder.Record("list_models", false, "/l", at);
  std::vector<std::uint64_t> handles;
  for (int i = 0; i < 5; ++i) {
    handles.push_back(recorder.Record("create_model", true, "/w" + std::to_string(i), at));
  }
  for (std::size_t i = 0; i < handles.size(); ++i) {
    recorder.SetStatus(handles[i], 200 + static_cast<int>(i));
  }
  const json calls = recorder.ToJson();
  EXPECT_EQ(calls["reads"], 1);
  EXPECT_EQ(calls["writes"], 5);
  EXPECT_EQ(calls["by_operation"]["create_model"], 5);
  EXPECT_EQ(calls["writes_log_dropped"], 2);
  ASSERT_EQ(calls["writes_log"].size(), 3u);
  EXPECT_EQ(calls["writes_log"][0]["path"], "/w2");
  EXPECT_EQ(calls["writes_log"][0]["status"], 202);
  EXPECT_EQ(calls["writes_log"][2]["path"], "/w4");
  EXPECT_EQ(calls["writes_log"][2]["status"], 204);
}

// Verifies that the answer to a call recorded before a Clear() does not land on a later write.
TEST(CallRecorderTest, IgnoresStaleHandles) {
  CallRecorder recorder;
  const auto stale = recorder.Record("create_model", true, "/old", common::TimePoint{});
  recorder.Clear();
  recorder.Record("create_model_build", true, "/new", common::TimePoint{});
  recorder.SetStatus(stale, 500);
  const json calls = recorder.ToJson();
  ASSERT_EQ(calls["writes_log"].size(), 1u);
  EXPECT_EQ(calls["writes_log"][0]["status"], 0);
  EXPECT_EQ(calls["writes_log_dropped"], 0);
}

}  // namespace
}  // namespace cmlr::emulator
