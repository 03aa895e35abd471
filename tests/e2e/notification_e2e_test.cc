// Notifications (design 12), end to end: the real daemon against the real emulator, posting to
// a receiver this test runs on loopback.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "tests/e2e/e2e_support.h"

namespace cmlr::e2e {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kRevision = "4f2c1e9a7b3d5c8e0f1a2b3c4d5e6f708192a3b4";

// A webhook receiver on 127.0.0.1 with its own thread: records every POST body, and answers
// 200 after `delay` (a slow receiver). Requests still waiting are released on destruction.
class Receiver {
 public:
  explicit Receiver(int port = 0, std::chrono::milliseconds delay = {}) : delay_(delay) {
    auto server = common::HttpServer::Create(
        io_.get_executor(), {.listen = "127.0.0.1:" + std::to_string(port)},
        [this](common::HttpRequest request) -> net::awaitable<std::optional<common::HttpResponse>> {
          {
            std::lock_guard lock(mutex_);
            bodies_.push_back(json::parse(request.body(), nullptr, false));
            targets_.emplace_back(request.target());
          }
          if (delay_.count() > 0) {
            net::steady_timer timer(co_await net::this_coro::executor, delay_);
            waiting_.insert(&timer);
            boost::system::error_code ec;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
            waiting_.erase(&timer);
          }
          ++answered_;
          common::HttpResponse response{http::status::ok, 11};
          response.body() = "ok";
          co_return response;
        });
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = std::move(server).value();
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Receiver() {
    if (!server_) return;
    net::post(io_, [this] {
      for (net::steady_timer* timer : waiting_) timer->cancel();
      server_->Stop();
    });
    thread_.join();
  }

  int port() const { return server_ ? server_->port() : 0; }
  std::vector<json> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::vector<std::string> targets() const {
    std::lock_guard lock(mutex_);
    return targets_;
  }
  int answered() const { return answered_; }

  // The first body with this event and model (null: the model is null), or null.
  json Find(const std::string& event, const json& model) const {
    for (const json& body : bodies()) {
      if (body.is_object() && body.value("event", "") == event && body.contains("model") &&
          body["model"] == model) {
        return body;
      }
    }
    return json();
  }

 private:
  std::chrono::milliseconds delay_;
  net::io_context io_;
  std::unique_ptr<common::HttpServer> server_;
  std::set<net::steady_timer*> waiting_;  // used on the server's thread only
  mutable std::mutex mutex_;
  std::vector<json> bodies_;
  std::vector<std::string> targets_;
  std::atomic<int> answered_ = 0;
  std::thread thread_;
};

// A loopback port that nobody listens on (for now).
int FreePort() {
  net::io_context io;
  net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

class NotificationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(DaemonBinary())) << DaemonBinary();
    ASSERT_GT(emulator_.port(), 0) << emulator_.process().Stderr();
    fs::create_directories(desired_);
    fs::copy_file(SourceDir() / "deploy" / "examples" / "fraud-classifier.yaml",
                  desired_ / "fraud-classifier.yaml");
    WriteFile(desired_ / "REVISION", std::string(kRevision) + "\n");
  }

  void StartDaemon(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--desired",      desired_.string(),
                                     "--cml-url",      emulator_.url(),
                                     "--api-key-file", emulator_.key_file().string(),
                                     "--resync",       "2s",
                                     "--api-qps",      "200",
                                     "--api-burst",    "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<Daemon>(args);
    ASSERT_GT(daemon_->port(), 0) << daemon_->Output();
  }

  bool Synced(const std::string& model) {
    for (const json& m : DaemonStatus(daemon_->port()).value("models", json::array())) {
      if (m.value("name", "") == model) {
        return m.value("sync", "") == "Synced" && m.value("health", "") == "Healthy";
      }
    }
    return false;
  }

  double Notifications(const std::string& result) {
    return MetricValue(Http("GET", daemon_->port(), "/metrics").body,
                       "cml_reconciler_notifications_total{result=\"" + result + "\"}");
  }

  Emulator emulator_;
  TempDir dir_;
  const fs::path desired_ = dir_ / "desired";
  std::unique_ptr<Daemon> daemon_;
};

// Verifies that converging the example posts one "synced" json event carrying the desired
// state's revision to the URL's path and query, and that the daemon counts it as sent.
TEST_F(NotificationE2eTest, ConvergencePostsSyncedEvent) {
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0);
  StartDaemon(
      {"--notify-url", "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook?token=e2e"});

  ASSERT_TRUE(WaitFor([&] { return !receiver.Find("synced", "fraud-classifier").is_null(); },
                      std::chrono::seconds(90)))
      << daemon_->Output();
  const json event = receiver.Find("synced", "fraud-classifier");
  EXPECT_EQ(event["revision"], kRevision);
  EXPECT_EQ(event["sync"], "Synced");
  EXPECT_EQ(event["health"], "Healthy");
  EXPECT_EQ(event["reason"], "Synced");
  EXPECT_TRUE(event["time"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(receiver.targets().front(), "/hook?token=e2e");
  EXPECT_TRUE(WaitFor([&] { return Notifications("sent") >= 1; }, seconds(10)));
  EXPECT_EQ(Notifications("failed"), 0);
  EXPECT_EQ(daemon_->Output().find("token=e2e"), std::string::npos) << daemon_->Output();

  // A rejected desired state is told too, with model null.
  WriteFileAtomically(desired_ / "broken.yaml", "apiVersion: cml-reconciler/v1\nkind: Nope\n");
  ASSERT_TRUE(WaitFor([&] { return !receiver.Find("desired_state_rejected", nullptr).is_null(); },
                      seconds(30)))
      << daemon_->Output();
  const json rejected = receiver.Find("desired_state_rejected", nullptr);
  EXPECT_EQ(rejected["revision"], kRevision);
  EXPECT_NE(rejected["message"].get<std::string>().find("; first: "), std::string::npos)
      << rejected.dump();
  EXPECT_NE(rejected["message"].get<std::string>().find("broken.yaml"), std::string::npos)
      << rejected.dump();
  // Re-read at every resync (2 s), the same rejection is not told again; the model stays
  // Synced and is not told again either.
  ASSERT_TRUE(WaitFor(
      [&] {
        return MetricValue(Http("GET", daemon_->port(), "/metrics").body,
                           "cml_reconciler_desired_state_loads_total{result=\"error\"}") >= 3;
      },
      seconds(30)));
  EXPECT_EQ(receiver.bodies().size(), 2u) << receiver.bodies().back().dump();
}

// Verifies that a deployment stopped outside git (drift) and redeployed by selfHeal is told as
// drift_corrected, and the model serving again as synced.
TEST_F(NotificationE2eTest, SelfHealIsTold) {
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0);
  StartDaemon({"--notify-url", "http://127.0.0.1:" + std::to_string(receiver.port())});
  ASSERT_TRUE(
      WaitFor([&] { return !receiver.Find("synced", "fraud-classifier").is_null(); }, seconds(90)))
      << daemon_->Output();
  std::string deployment;
  for (const json& m : DaemonStatus(daemon_->port()).value("models", json::array())) {
    deployment = m["live"].value("deploymentId", "");
  }
  ASSERT_FALSE(deployment.empty());

  const HttpResult drift = emulator_.Admin("POST", "/_emulator/drift/stop_deployment",
                                           json{{"deployment_id", deployment}}.dump());
  ASSERT_EQ(drift.status, 200) << drift.body << drift.error;
  ASSERT_TRUE(WaitFor(
      [&] { return !receiver.Find("drift_corrected", "fraud-classifier").is_null(); }, seconds(60)))
      << daemon_->Output();
  const json corrected = receiver.Find("drift_corrected", "fraud-classifier");
  EXPECT_EQ(corrected["reason"], "UndoingDrift");
  EXPECT_EQ(corrected["revision"], kRevision);
  ASSERT_TRUE(WaitFor(
      [&] {
        int synced = 0;
        for (const json& body : receiver.bodies()) synced += body.value("event", "") == "synced";
        return synced == 2;
      },
      seconds(60)))
      << daemon_->Output();
  std::vector<std::string> events;
  for (const json& body : receiver.bodies()) events.push_back(body.value("event", ""));
  EXPECT_EQ(events, (std::vector<std::string>{"synced", "drift_corrected", "synced"}));
}

// Verifies that a receiver that is down when the event happens gets it once it comes up, by
// the daemon's retries, in the slack format.
TEST_F(NotificationE2eTest, DownReceiverGetsEventOnRetry) {
  const int port = FreePort();
  StartDaemon({"--notify-url", "http://127.0.0.1:" + std::to_string(port) + "/slack",
               "--notify-format", "slack"});
  ASSERT_TRUE(WaitFor([&] { return Synced("fraud-classifier"); }, seconds(90)))
      << daemon_->Output();
  EXPECT_EQ(Notifications("sent"), 0);

  Receiver receiver(port);
  ASSERT_EQ(receiver.port(), port);
  ASSERT_TRUE(WaitFor([&] { return !receiver.bodies().empty(); }, seconds(90)))
      << daemon_->Output();
  const std::string text = receiver.bodies().front().value("text", "");
  EXPECT_TRUE(
      text.starts_with(":white_check_mark: fraud-classifier is Synced and Healthy "
                       "(rev 4f2c1e9)"))
      << text;
  EXPECT_TRUE(WaitFor([&] { return Notifications("sent") == 1; }, seconds(10)));
  const std::string log = daemon_->Output();
  EXPECT_NE(log.find("receiver=#1"), std::string::npos) << log;
  EXPECT_EQ(log.find("/slack"), std::string::npos) << log;
  EXPECT_EQ(log.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << log;
}

// Verifies that a receiver that holds every request longer than the daemon's request timeout
// delays no reconcile: a stalled model's event hangs while the other model converges.
TEST_F(NotificationE2eTest, SlowReceiverDoesNotDelayConvergence) {
  WriteFile(desired_ / "lost.yaml", R"(apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata: {name: lost}
spec:
  projectId: abcd-1234-efgh-5678
  modelName: FraudCLF-lost
  registeredModel: {name: FraudCLF-alice, version: 99}
  runtime: docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:2024.02.1-b4
  resources: {cpu: 1, memory: 2Gi, replicas: 1}
)");
  Receiver receiver(0, std::chrono::seconds(30));
  ASSERT_GT(receiver.port(), 0);
  StartDaemon({"--notify-url", "http://127.0.0.1:" + std::to_string(receiver.port())});

  ASSERT_TRUE(WaitFor([&] { return !receiver.bodies().empty(); }, seconds(60)))
      << daemon_->Output();
  EXPECT_EQ(receiver.bodies().front().value("event", ""), "stalled");
  EXPECT_EQ(receiver.bodies().front().value("model", ""), "lost");
  ASSERT_TRUE(WaitFor([&] { return Synced("fraud-classifier"); }, seconds(90)))
      << daemon_->Output();
  // Converged while the receiver still held the first request (and answered nothing).
  EXPECT_EQ(receiver.answered(), 0);
  EXPECT_EQ(Notifications("sent"), 0);
  EXPECT_TRUE(receiver.Find("synced", "fraud-classifier").is_null());
  // A request still in flight does not hold up a shutdown (design 11: exit 0 within 10 s).
  daemon_->process().Signal(SIGTERM);
  EXPECT_EQ(daemon_->process().Wait(std::chrono::seconds(10)), 0) << daemon_->Output();
}

// Verifies that a malformed receiver URL ends start-up with the flag and index, not the URL.
TEST_F(NotificationE2eTest, BadUrlFailsStartUp) {
  WriteFile(dir_ / "urls", "# receivers\nhttps://hooks.example/ok\nftp://hooks.example/SECRET\n");
  Process run(DaemonBinary(), {"run", "--desired", desired_.string(), "--cml-url", emulator_.url(),
                               "--api-key-file", emulator_.key_file().string(), "--notify-url-file",
                               (dir_ / "urls").string()});
  ASSERT_EQ(run.Wait(std::chrono::seconds(30)), 1) << run.Stderr();
  EXPECT_NE(run.Stderr().find("--notify-url-file: receiver #2: invalid URL"), std::string::npos)
      << run.Stderr();
  EXPECT_EQ((run.Stdout() + run.Stderr()).find("SECRET"), std::string::npos) << run.Stderr();
}

}  // namespace
}  // namespace cmlr::e2e
