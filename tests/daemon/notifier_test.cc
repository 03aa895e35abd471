#include "daemon/notifier.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "tests/daemon/test_http_server.h"
#include "tests/fakes/fake_clock.h"

namespace cmlr::daemon {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using controllers::HealthState;
using controllers::ModelStatus;
using controllers::SyncState;
using std::chrono::milliseconds;
using std::chrono::seconds;

ModelStatus StatusOf(const std::string& name, SyncState sync, HealthState health) {
  ModelStatus status{.name = name, .sync = sync, .health = health};
  status.SetCondition({.type = "Ready",
                       .status = sync == SyncState::kSynced ? "True" : "False",
                       .reason = sync == SyncState::kSynced ? "Synced" : "BuildInProgress",
                       .message = "version 3 serving"},
                      {});
  return status;
}

std::shared_ptr<const config::Snapshot> Desired(std::vector<std::string> names,
                                                std::optional<std::string> revision) {
  std::vector<config::ModelDeploymentSpec> specs;
  for (std::string& name : names) specs.push_back({.name = std::move(name)});
  return *config::Snapshot::Create(std::move(specs), std::move(revision));
}

common::HttpResponse Answer(http::status status) {
  common::HttpResponse response{status, 11};
  if (status != http::status::no_content) response.body() = "{}";
  return response;
}

class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest() {
    logger_->set_level(spdlog::level::trace);
    logger_->set_pattern("%l %v");
  }

  std::unique_ptr<Notifier> Make(std::vector<std::string> urls, NotifierOptions options = {}) {
    auto notifier =
        Notifier::Create(io_.get_executor(), clock_, std::move(urls), options, &metrics_, logger_);
    EXPECT_TRUE(notifier.ok()) << notifier.status();
    return notifier.ok() ? std::move(notifier).value() : nullptr;
  }

  // Runs the io_context until `done` (real time bounds the wait; the fake clock moves only
  // when a test advances it).
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(milliseconds(10));
    }
    return true;
  }

  double Count(const std::string& result) {
    for (const prometheus::MetricFamily& family : registry_.Collect()) {
      if (family.name != "cml_reconciler_notifications_total") continue;
      for (const prometheus::ClientMetric& metric : family.metric) {
        if (metric.label.at(0).value == result) return metric.counter.value;
      }
    }
    return -1;
  }

  // A loopback port nobody listens on.
  static unsigned short ClosedPort() {
    net::io_context io;
    net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
  }

  net::io_context io_;
  testing::FakeClock clock_;
  prometheus::Registry registry_;
  DaemonMetrics metrics_{registry_};
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_ = std::make_shared<spdlog::logger>(
      "notifier-test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_));
};

// Verifies that a transition found in observed statuses becomes one json POST per receiver,
// to the URL's path and query, with the desired state's revision.
TEST_F(NotifierTest, PostsJsonToEveryReceiver) {
  TestHttpServer first(Answer(http::status::ok));
  TestHttpServer second(Answer(http::status::no_content));
  auto notifier = Make({first.url() + "/hooks/a?token=t1", second.url()});
  ASSERT_NE(notifier, nullptr);
  notifier->Start();
  const auto desired = Desired({"fraud-classifier"}, "0123abcd");

  notifier->Observe(StatusOf("fraud-classifier", SyncState::kOutOfSync, HealthState::kProgressing),
                    desired);
  notifier->Observe(StatusOf("fraud-classifier", SyncState::kSynced, HealthState::kHealthy),
                    desired);
  notifier->Observe(StatusOf("fraud-classifier", SyncState::kSynced, HealthState::kHealthy),
                    desired);
  ASSERT_TRUE(RunUntil([&] { return Count("sent") == 2; })) << log_.str();

  EXPECT_EQ(first.targets(), std::vector<std::string>{"/hooks/a?token=t1"});
  EXPECT_EQ(second.targets(), std::vector<std::string>{"/"});
  const common::HttpRequest request = first.requests().at(0);
  EXPECT_EQ(request.method(), http::verb::post);
  EXPECT_EQ(request[http::field::content_type], "application/json");
  const auto body = nlohmann::json::parse(request.body());
  EXPECT_EQ(body["event"], "synced");
  EXPECT_EQ(body["model"], "fraud-classifier");
  EXPECT_EQ(body["revision"], "0123abcd");
  EXPECT_EQ(body["time"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(nlohmann::json::parse(second.requests().at(0).body()), body);
  EXPECT_EQ(Count("failed"), 0);
}

// Verifies that a full queue drops its oldest notification, counts it, and sends the rest in
// order.
TEST_F(NotifierTest, FullQueueDropsOldest) {
  TestHttpServer server(Answer(http::status::ok));
  auto notifier = Make({server.url()}, {.queue_capacity = 3});
  for (int i = 1; i <= 5; ++i) {
    notifier->DesiredStateRejected(i, "", std::nullopt);
  }
  EXPECT_EQ(notifier->queued(0), 3u);
  EXPECT_EQ(Count("dropped"), 2);

  notifier->Start();
  ASSERT_TRUE(RunUntil([&] { return Count("sent") == 3; })) << log_.str();
  std::vector<std::string> messages;
  for (const common::HttpRequest& request : server.requests()) {
    messages.push_back(nlohmann::json::parse(request.body())["message"]);
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"3 errors", "4 errors", "5 errors"}));
}

// Verifies that the same rejection, re-read at every resync, is told once, and again after a
// good load or when it changes.
TEST_F(NotifierTest, TellsEachRejectionOnce) {
  auto notifier = Make({"http://127.0.0.1:9/hook"});
  notifier->DesiredStateRejected(2, "a.yaml:1:1: bad", "rev1");
  notifier->DesiredStateRejected(2, "a.yaml:1:1: bad", "rev1");
  EXPECT_EQ(notifier->queued(0), 1u);
  notifier->DesiredStateRejected(2, "a.yaml:1:1: bad", "rev2");
  notifier->DesiredStateRejected(1, "a.yaml:1:1: bad", "rev2");
  EXPECT_EQ(notifier->queued(0), 3u);
  notifier->DesiredStateAccepted();
  notifier->DesiredStateRejected(1, "a.yaml:1:1: bad", "rev2");
  EXPECT_EQ(notifier->queued(0), 4u);
}

// Verifies that a 503 is retried after a backoff on the clock, and then counted as sent.
TEST_F(NotifierTest, RetriesThenSends) {
  std::atomic<int> calls = 0;
  TestHttpServer server([&](const common::HttpRequest&) {
    return Answer(++calls == 1 ? http::status::service_unavailable : http::status::ok);
  });
  auto notifier = Make({server.url()}, {.format = NotificationFormat::kSlack});
  notifier->Start();
  notifier->DesiredStateRejected(1, "a.yaml:1:1: bad", std::nullopt);

  ASSERT_TRUE(RunUntil([&] { return clock_.sleepers() == 1; })) << log_.str();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Count("sent"), 0);
  clock_.Advance(seconds(1));  // the first backoff is at most backoff_initial
  ASSERT_TRUE(RunUntil([&] { return Count("sent") == 1; })) << log_.str();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Count("failed"), 0);
  const auto body = nlohmann::json::parse(server.requests().at(1).body());
  EXPECT_EQ(body, nlohmann::json::parse(server.requests().at(0).body()));
  EXPECT_TRUE(body["text"].get<std::string>().starts_with(":x: The desired state was rejected"));
}

// Verifies that a 4xx (but 408 and 429) fails at once, without a retry.
TEST_F(NotifierTest, ClientErrorFailsAtOnce) {
  TestHttpServer server(Answer(http::status::not_found));
  auto notifier = Make({server.url()});
  notifier->Start();
  notifier->DesiredStateRejected(1, "", std::nullopt);
  ASSERT_TRUE(RunUntil([&] { return Count("failed") == 1; })) << log_.str();
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(clock_.sleepers(), 0u);
  EXPECT_EQ(Count("sent"), 0);
}

// Verifies that 429 is retried, honouring Retry-After, and that retrying stops (failed) once
// the retry window has passed; the next notification is then sent.
TEST_F(NotifierTest, GivesUpAfterRetryWindow) {
  // The receiver takes the second notification only.
  TestHttpServer server([&](const common::HttpRequest& request) {
    if (nlohmann::json::parse(request.body())["message"] == "2 errors") {
      return Answer(http::status::ok);
    }
    common::HttpResponse busy = Answer(http::status::too_many_requests);
    busy.set(http::field::retry_after, "20");
    return busy;
  });
  auto notifier = Make({server.url()}, {.retry_for = seconds(50)});
  notifier->Start();
  notifier->DesiredStateRejected(1, "", std::nullopt);
  notifier->DesiredStateRejected(2, "", std::nullopt);

  // Attempts at 0 s, 20 s and 40 s; a fourth at 60 s would pass the 50 s window.
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_TRUE(RunUntil([&] { return clock_.sleepers() == 1; })) << log_.str();
    EXPECT_EQ(clock_.NextDeadline(), clock_.Now() + seconds(20));
    clock_.Advance(seconds(20));
  }
  ASSERT_TRUE(RunUntil([&] { return Count("failed") == 1 && Count("sent") == 1; })) << log_.str();
  std::vector<std::string> messages;
  for (const common::HttpRequest& request : server.requests()) {
    messages.push_back(nlohmann::json::parse(request.body())["message"]);
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"1 error", "1 error", "1 error", "2 errors"}));
}

// Verifies that neither the URL's path, query nor host:port ever reaches the log, whether the
// receiver answers an error or cannot be reached.
TEST_F(NotifierTest, NeverLogsUrls) {
  TestHttpServer server(Answer(http::status::bad_gateway));
  const std::string refused = "127.0.0.1:" + std::to_string(ClosedPort());
  auto notifier = Make({server.url() + "/services/T0/SECRETPATH?token=SECRETQUERY",
                        "http://" + refused + "/hooks/SECRETPATH"},
                       {.retry_for = seconds(1)});
  notifier->Start();
  notifier->DesiredStateRejected(1, "", std::nullopt);
  ASSERT_TRUE(RunUntil([&] { return clock_.sleepers() == 2; })) << log_.str();
  clock_.Advance(seconds(1));
  ASSERT_TRUE(RunUntil([&] { return Count("failed") == 2; })) << log_.str();

  const std::string log = log_.str();
  EXPECT_NE(log.find("receiver=#1"), std::string::npos) << log;
  EXPECT_NE(log.find("status=502"), std::string::npos) << log;
  EXPECT_NE(log.find("receiver=#2"), std::string::npos) << log;
  EXPECT_EQ(log.find("SECRET"), std::string::npos) << log;
  EXPECT_EQ(log.find(refused), std::string::npos) << log;
  EXPECT_EQ(log.find(server.url().substr(7)), std::string::npos) << log;
}

// Verifies that only changes are told, and that a model leaving the desired state is
// forgotten, so that it starts over when it comes back.
TEST_F(NotifierTest, ForgetsModelsLeavingTheDesiredState) {
  TestHttpServer server(Answer(http::status::ok));
  auto notifier = Make({server.url()});
  notifier->Start();
  const ModelStatus degraded =
      StatusOf("fraud-classifier", SyncState::kOutOfSync, HealthState::kDegraded);
  const auto both = Desired({"fraud-classifier", "churn"}, std::nullopt);
  notifier->Observe(degraded, both);
  notifier->Observe(degraded, both);
  notifier->Observe(StatusOf("churn", SyncState::kSynced, HealthState::kHealthy), both);
  EXPECT_EQ(notifier->models_known(), 2u);
  ASSERT_TRUE(RunUntil([&] { return Count("sent") == 1; })) << log_.str();

  const auto churn_only = Desired({"churn"}, std::nullopt);
  notifier->Observe(StatusOf("churn", SyncState::kSynced, HealthState::kHealthy), churn_only);
  EXPECT_EQ(notifier->models_known(), 1u);
  notifier->Observe(degraded, churn_only);  // a last pass of the removed model
  EXPECT_EQ(notifier->models_known(), 1u);

  notifier->Observe(degraded, both);  // back: a first pass again
  ASSERT_TRUE(RunUntil([&] { return Count("sent") == 2; })) << log_.str();
  EXPECT_EQ(server.requests().size(), 2u);
}

// Verifies that Stop() ends the sending coroutines, even one waiting to retry, so that the
// io_context runs out of work.
TEST_F(NotifierTest, StopEndsSending) {
  TestHttpServer server(Answer(http::status::service_unavailable));
  auto notifier = Make({server.url(), server.url()});
  notifier->Start();
  notifier->DesiredStateRejected(1, "", std::nullopt);
  ASSERT_TRUE(RunUntil([&] { return clock_.sleepers() == 2; })) << log_.str();
  notifier->Stop();
  io_.run_for(seconds(5));
  EXPECT_TRUE(io_.stopped());
  EXPECT_EQ(Count("sent"), 0);
}

// Verifies how receiver URLs split into what the transport takes and the request target.
TEST(ReceiverUrlTest, SplitsTargets) {
  const auto plain = ParseReceiverUrl("http://alerts.monitoring:9093", "--notify-url", 1);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->base.tls);
  EXPECT_EQ(plain->base.host, "alerts.monitoring");
  EXPECT_EQ(plain->base.port, "9093");
  EXPECT_EQ(plain->target, "/");

  const auto slack = ParseReceiverUrl("https://hooks.slack.com/services/T0/B0/xyz/", "f", 1);
  ASSERT_TRUE(slack.ok()) << slack.status();
  EXPECT_TRUE(slack->base.tls);
  EXPECT_EQ(slack->base.port, "443");
  EXPECT_EQ(slack->target, "/services/T0/B0/xyz/");

  EXPECT_EQ(ParseReceiverUrl("https://h.example/a/b?x=1&y=2", "f", 1)->target, "/a/b?x=1&y=2");
  EXPECT_EQ(ParseReceiverUrl("https://h.example?x=1", "f", 1)->target, "/?x=1");
  EXPECT_EQ(ParseReceiverUrl("http://[::1]:8080/p", "f", 1)->base.host, "::1");
}

// Verifies that a bad URL is refused with the flag and the receiver's index, never the URL.
TEST(ReceiverUrlTest, RejectsBadUrlsWithoutNamingThem) {
  for (const std::string url :
       {"ftp://secret.example/x", "https://user:secret@h.example/x", "https://h.example/x#secret",
        "https://h.example:99999/secret", "https:///secret", "secret", "https://h.example/a b"}) {
    const auto parsed = ParseReceiverUrl(url, "--notify-url-file", 3);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_EQ(parsed.status().code(), common::StatusCode::kInvalidArgument);
    EXPECT_TRUE(
        parsed.status().message().starts_with("--notify-url-file: receiver #3: invalid URL"))
        << parsed.status();
    EXPECT_EQ(parsed.status().message().find("secret"), std::string::npos) << parsed.status();
  }
}

// Verifies the URL file: one URL a line, blank lines and comments skipped, white space and
// CRLF trimmed.
TEST(ReceiverUrlTest, ParsesUrlFile) {
  EXPECT_EQ(
      ParseUrlFile("# receivers\n\nhttps://a.example/x\r\n  http://b.example  \n"
                   "   # indented comment\nhttps://c.example"),
      (std::vector<std::string>{"https://a.example/x", "http://b.example", "https://c.example"}));
  EXPECT_TRUE(ParseUrlFile("").empty());
}

// Verifies the daemon's wiring: flags first, then the file; a bad line of the file is named by
// flag and index; a missing file and a bad format are refused.
TEST(CreateNotifierTest, ReadsFlagsAndFile) {
  net::io_context io;
  testing::FakeClock clock;
  prometheus::Registry registry;
  DaemonMetrics metrics(registry);
  const std::filesystem::path file =
      std::filesystem::path(::testing::TempDir()) / "notify-urls.txt";
  std::ofstream(file) << "# team channel\nhttps://hooks.example/one\n\nhttps://hooks.example/two\n";

  DaemonOptions options{.notify_urls = {"http://127.0.0.1:9/x"}, .notify_url_file = file.string()};
  auto notifier = CreateNotifier(io.get_executor(), clock, options, metrics, nullptr);
  ASSERT_TRUE(notifier.ok()) << notifier.status();
  EXPECT_EQ((*notifier)->receivers(), 3u);
  (*notifier)->Stop();

  std::ofstream(file) << "https://hooks.example/one\nftp://hooks.example/SECRET\n";
  const auto bad = CreateNotifier(io.get_executor(), clock, options, metrics, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().message().starts_with("--notify-url-file: receiver #3: invalid URL"))
      << bad.status();
  EXPECT_EQ(bad.status().message().find("SECRET"), std::string::npos);

  options.notify_url_file = (std::filesystem::path(::testing::TempDir()) / "absent").string();
  EXPECT_FALSE(CreateNotifier(io.get_executor(), clock, options, metrics, nullptr).ok());
  options.notify_url_file.clear();
  options.notify_format = "xml";
  EXPECT_FALSE(CreateNotifier(io.get_executor(), clock, options, metrics, nullptr).ok());

  const auto none = CreateNotifier(io.get_executor(), clock, DaemonOptions{}, metrics, nullptr);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ((*none)->receivers(), 0u);
}

}  // namespace
}  // namespace cmlr::daemon
