#include "daemon/event_stream.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace cmlr::daemon {
namespace {

namespace net = boost::asio;
using nlohmann::json;

// One parsed SSE event.
struct Event {
  std::string type;
  std::string data;
};

// Splits an SSE text into its events (comment lines skipped).
std::vector<Event> ParseEvents(const std::string& text) {
  std::vector<Event> events;
  Event current;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) break;
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) {
      if (!current.type.empty() || !current.data.empty()) events.push_back(current);
      current = {};
    } else if (line.rfind("event: ", 0) == 0) {
      current.type = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      current.data += line.substr(6);
    }
  }
  return events;
}

// A client of one stream: everything the server would write, collected as it comes.
struct Reader {
  std::shared_ptr<common::HttpStream> stream;
  std::string text;
};

net::awaitable<void> Drain(std::shared_ptr<Reader> reader) {
  for (;;) {
    std::optional<std::string> data = co_await reader->stream->Next(1 << 20);
    if (!data) co_return;
    reader->text += *data;
  }
}

class EventStreamTest : public ::testing::Test {
 protected:
  EventStreamTest() {
    Set("fraud", controllers::SyncState::kOutOfSync);
    Set("churn", controllers::SyncState::kSynced);
  }
  ~EventStreamTest() override {
    events_.CloseAll();
    io_.run();  // the readers see their streams end
  }

  const controllers::ModelStatus& Set(const std::string& name, controllers::SyncState sync) {
    controllers::ModelStatus& status = statuses_.Get(name);
    status.name = name;
    status.sync = sync;
    return status;
  }

  std::shared_ptr<Reader> Connect() {
    auto stream = events_.Subscribe(io_.get_executor());
    if (!stream) return nullptr;
    auto reader = std::make_shared<Reader>(Reader{.stream = stream});
    net::co_spawn(io_, Drain(reader), net::detached);
    io_.poll();
    return reader;
  }

  net::io_context io_;
  controllers::StatusStore statuses_;
  EventStream events_{statuses_, {.max_clients = 2, .max_buffered_bytes = 64 * 1024}};
};

// Verifies the wire format: "event: model", "data: " and the ENTRY on one line, a blank line.
TEST_F(EventStreamTest, FormatsModelEventsOnOneLine) {
  controllers::ModelStatus& status = statuses_.Get("multi");
  status.name = "multi";
  status.planned_action = "line one\nline two";
  const std::string line = EntryLine(status);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(line)["plannedAction"], "line one\nline two");
  EXPECT_EQ(FormatSseEvent("model", line), "event: model\ndata: " + line + "\n\n");
}

// Verifies that a new client first gets every model's current ENTRY, sorted by name.
TEST_F(EventStreamTest, SendsSnapshotOnConnect) {
  auto reader = Connect();
  ASSERT_NE(reader, nullptr);
  const std::vector<Event> events = ParseEvents(reader->text);
  ASSERT_EQ(events.size(), 2u) << reader->text;
  EXPECT_EQ(events[0].type, "model");
  EXPECT_EQ(json::parse(events[0].data), controllers::ToJson(*statuses_.Find("churn")));
  EXPECT_EQ(json::parse(events[1].data)["name"], "fraud");
  EXPECT_EQ(json::parse(events[1].data)["sync"], "OutOfSync");
}

// Verifies that only real changes are sent, to every client, and a model gone from the store
// is announced as removed.
TEST_F(EventStreamTest, SendsOnlyChangesAndRemovals) {
  auto first = Connect();
  auto second = Connect();
  first->text.clear();
  second->text.clear();
  events_.OnStatus(*statuses_.Find("fraud"));  // unchanged
  io_.poll();
  EXPECT_EQ(first->text, "");
  events_.OnStatus(Set("fraud", controllers::SyncState::kSynced));
  io_.poll();
  std::vector<Event> events = ParseEvents(first->text);
  ASSERT_EQ(events.size(), 1u) << first->text;
  EXPECT_EQ(events[0].type, "model");
  EXPECT_EQ(json::parse(events[0].data)["sync"], "Synced");
  EXPECT_EQ(second->text, first->text);

  first->text.clear();
  statuses_.Erase("churn");
  events_.OnStatus(*statuses_.Find("fraud"));
  io_.poll();
  events = ParseEvents(first->text);
  ASSERT_EQ(events.size(), 1u) << first->text;
  EXPECT_EQ(events[0].type, "removed");
  EXPECT_EQ(json::parse(events[0].data), json({{"name", "churn"}}));
}

// Verifies the limit on open streams, and that a finished stream frees its place.
TEST_F(EventStreamTest, RefusesClientsBeyondTheLimit) {
  auto first = Connect();
  auto second = Connect();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(Connect(), nullptr);
  EXPECT_EQ(events_.clients(), 2u);
  first->stream->Abort();  // the server saw the peer go
  io_.poll();
  EXPECT_EQ(events_.clients(), 1u);
  EXPECT_NE(Connect(), nullptr);
}

// Verifies that a client that does not read is dropped once its queue passes the bound,
// without holding up the others.
TEST_F(EventStreamTest, DropsClientThatFallsBehind) {
  auto stuck = events_.Subscribe(io_.get_executor());  // nobody takes its chunks
  auto reader = Connect();
  controllers::ModelStatus& status = statuses_.Get("fraud");
  for (int i = 0; i < 200; ++i) {
    status.planned_action = "step " + std::to_string(i) + std::string(1024, 'x');
    events_.OnStatus(status);
    io_.poll();
  }
  EXPECT_TRUE(stuck->overflowed());
  EXPECT_FALSE(reader->stream->finished());
  EXPECT_EQ(events_.clients(), 1u);
  EXPECT_NE(reader->text.find("step 199"), std::string::npos);
}

}  // namespace
}  // namespace cmlr::daemon
