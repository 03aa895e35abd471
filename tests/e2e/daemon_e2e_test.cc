// End-to-end: the real cml-reconciler against the real cml-emulator on loopback.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_support.h"

namespace cmlr::e2e {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

// Copies deploy/examples/ into `dir`.
void CopyExamples(const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(SourceDir() / "deploy" / "examples")) {
    fs::copy_file(entry.path(), dir / entry.path().filename());
  }
}

std::vector<std::string> ClientFlags(const Emulator& emulator) {
  return {"--cml-url", emulator.url(), "--api-key-file", emulator.key_file().string()};
}

class DaemonE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(DaemonBinary())) << DaemonBinary();
    ASSERT_TRUE(fs::exists(EmulatorBinary())) << EmulatorBinary();
    ASSERT_GT(emulator_.port(), 0) << emulator_.process().Stderr();
  }

  // Starts `cml-reconciler run` on `desired`; returns its HTTP port.
  int StartDaemon(const fs::path& desired, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run",
                                     "--desired",
                                     desired.string(),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     (dir_ / "daemon-port").string(),
                                     "--resync",
                                     "2s"};
    for (const std::string& flag : ClientFlags(emulator_)) args.push_back(flag);
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<Process>(DaemonBinary(), args);
    return ReadPortFile(dir_ / "daemon-port", std::chrono::seconds(20));
  }

  Emulator emulator_;
  TempDir dir_;
  std::unique_ptr<Process> daemon_;
};

// Verifies that apply converges the examples, plan right after is empty, and a change shows.
TEST_F(DaemonE2eTest, ApplyConvergesExamplesAndPlanShowsChanges) {
  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  std::vector<std::string> args = {"apply", "--desired", desired.string(), "--timeout", "60s"};
  for (const std::string& flag : ClientFlags(emulator_)) args.push_back(flag);
  Process apply(DaemonBinary(), args);
  ASSERT_EQ(apply.Wait(std::chrono::seconds(90)), 0) << apply.Stdout() << apply.Stderr();

  args = {"plan", "--desired", desired.string()};
  for (const std::string& flag : ClientFlags(emulator_)) args.push_back(flag);
  Process plan(DaemonBinary(), args);
  ASSERT_EQ(plan.Wait(std::chrono::seconds(30)), 0) << plan.Stdout() << plan.Stderr();

  std::string text = ReadFile(desired / "fraud-classifier.yaml");
  text = std::regex_replace(text, std::regex("cpu: 2\\b"), "cpu: 3");
  WriteFile(desired / "fraud-classifier.yaml", text);
  Process changed(DaemonBinary(), args);
  ASSERT_EQ(changed.Wait(std::chrono::seconds(30)), 2) << changed.Stdout() << changed.Stderr();
  EXPECT_NE(changed.Stdout().find("resources.cpu: 2 -> 3"), std::string::npos) << changed.Stdout();
  EXPECT_NE(changed.Stdout().find("create_deployment"), std::string::npos) << changed.Stdout();
}

// Verifies plan's machine and pull-request outputs (design 6): JSON with the revision and every
// model, markdown with a table, and under --prune the deployments of a removed model.
TEST_F(DaemonE2eTest, PlanSpeaksJsonMarkdownAndListsPrunes) {
  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  WriteFile(desired / "REVISION", "4f1c0de4f1c0de4f1c0de4f1c0de4f1c0de4f1c0\n");
  std::vector<std::string> args = {"apply", "--desired", desired.string(), "--timeout", "60s"};
  for (const std::string& flag : ClientFlags(emulator_)) args.push_back(flag);
  Process apply(DaemonBinary(), args);
  ASSERT_EQ(apply.Wait(seconds(90)), 0) << apply.Stdout() << apply.Stderr();

  args = {"plan", "--desired", desired.string(), "-o", "json"};
  for (const std::string& flag : ClientFlags(emulator_)) args.push_back(flag);
  Process plan(DaemonBinary(), args);
  ASSERT_EQ(plan.Wait(seconds(30)), 0) << plan.Stdout() << plan.Stderr();
  const nlohmann::json json = nlohmann::json::parse(plan.Stdout());
  EXPECT_EQ(json["revision"], "4f1c0de4f1c0de4f1c0de4f1c0de4f1c0de4f1c0");
  EXPECT_EQ(json["changes"], 0);
  EXPECT_EQ(json["models"].size(), 5u);

  // The plain example leaves the desired state; the examples share no CML model with it.
  fs::remove(desired / "fraud-classifier.yaml");
  Process unpruned(DaemonBinary(), args);
  EXPECT_EQ(unpruned.Wait(seconds(30)), 0) << unpruned.Stdout() << unpruned.Stderr();
  args.push_back("--prune");
  Process pruned(DaemonBinary(), args);
  ASSERT_EQ(pruned.Wait(seconds(30)), 2) << pruned.Stdout() << pruned.Stderr();
  const nlohmann::json with_prune = nlohmann::json::parse(pruned.Stdout());
  EXPECT_EQ(with_prune["changes"], 1);
  const nlohmann::json& row = with_prune["models"].back();
  EXPECT_EQ(row["name"], "fraud-classifier") << with_prune.dump(2);
  EXPECT_EQ(row["prune"], true);
  ASSERT_EQ(row["diffs"].size(), 1u);
  EXPECT_EQ(row["diffs"][0]["desired"], "stopped (pruned)");

  args[4] = "markdown";
  Process markdown(DaemonBinary(), args);
  ASSERT_EQ(markdown.Wait(seconds(30)), 2) << markdown.Stdout() << markdown.Stderr();
  EXPECT_NE(markdown.Stdout().find("| Model | Sync | Health | Next action | Differences |"),
            std::string::npos)
      << markdown.Stdout();
  EXPECT_NE(markdown.Stdout().find("**fraud-classifier** (prune)"), std::string::npos)
      << markdown.Stdout();
  EXPECT_NE(markdown.Stdout().find("`4f1c0de4f1c0de4f1c0de4f1c0de4f1c0de4f1c0`"),
            std::string::npos);
  // Nothing was written: plan only reads.
  const int writes = emulator_.Writes();
  Process again(DaemonBinary(), args);
  again.Wait(seconds(30));
  EXPECT_EQ(emulator_.Writes(), writes);
}

// Verifies the running daemon follows a git-sync style symlink swap, rejects an invalid edit
// without any CML write while staying ready, and applies a valid edit after it.
TEST_F(DaemonE2eTest, RunFollowsGitSyncSwapAndRejectsInvalidEdits) {
  const fs::path root = dir_ / "repo";
  CopyExamples(root / ".worktrees" / "a");
  fs::create_directory_symlink(".worktrees/a", root / "current");
  const int port = StartDaemon(root / "current");
  ASSERT_GT(port, 0) << daemon_->Stderr();
  const std::size_t models = DaemonStatus(port)["models"].size();
  ASSERT_GT(models, 0u);
  ASSERT_TRUE(WaitFor([&] { return AllSynced(port, models); }, std::chrono::seconds(60)))
      << DaemonStatus(port).dump(2) << daemon_->Stderr();

  // git-sync: a new worktree, the link swapped by rename, the old worktree deleted.
  CopyExamples(root / ".worktrees" / "b");
  std::string text = ReadFile(root / ".worktrees" / "b" / "fraud-classifier.yaml");
  text = std::regex_replace(text, std::regex("replicas: 1\\b"), "replicas: 2");
  WriteFile(root / ".worktrees" / "b" / "fraud-classifier.yaml", text);
  fs::create_directory_symlink(".worktrees/b", root / "current.tmp");
  fs::rename(root / "current.tmp", root / "current");
  fs::remove_all(root / ".worktrees" / "a");
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto status = Http("GET", port, "/api/v1/status/fraud-classifier");
        const auto json = nlohmann::json::parse(status.body, nullptr, false);
        return status.status == 200 && json["sync"] == "Synced" && json["live"]["replicas"] == 2;
      },
      std::chrono::seconds(60)))
      << DaemonStatus(port).dump(2);

  // An invalid edit: nothing is written, the daemon stays ready, the error is counted.
  ASSERT_TRUE(WaitFor([&] { return AllSynced(port, models); }, std::chrono::seconds(60)));
  const int writes = emulator_.Writes();
  WriteFile(root / ".worktrees" / "b" / "fraud-classifier.yaml",
            ReadFile(root / ".worktrees" / "b" / "fraud-classifier.yaml") + "\n  bogus: [\n");
  ASSERT_TRUE(WaitFor(
      [&] {
        return MetricValue(Http("GET", port, "/metrics").body,
                           "cml_reconciler_desired_state_loads_total{result=\"error\"}") >= 1;
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(Http("GET", port, "/readyz").status, 200);
  EXPECT_EQ(emulator_.Writes(), writes);

  // A valid edit after it is applied.
  text = std::regex_replace(text, std::regex("replicas: 2\\b"), "replicas: 3");
  WriteFile(root / ".worktrees" / "b" / "fraud-classifier.yaml", text);
  EXPECT_TRUE(WaitFor(
      [&] {
        const auto json = nlohmann::json::parse(
            Http("GET", port, "/api/v1/status/fraud-classifier").body, nullptr, false);
        return json.is_object() && json["sync"] == "Synced" && json["live"]["replicas"] == 3;
      },
      std::chrono::seconds(60)));
}

// Verifies the endpoints of design section 7: status fields, every metric family, 404/405.
TEST_F(DaemonE2eTest, ServesStatusMetricsAndErrors) {
  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  const int port = StartDaemon(desired);
  ASSERT_GT(port, 0) << daemon_->Stderr();
  ASSERT_TRUE(WaitFor([&] { return AllSynced(port, DaemonStatus(port)["models"].size()); },
                      std::chrono::seconds(60)));
  const nlohmann::json entry = DaemonStatus(port)["models"][0];
  for (const char* key : {"name", "sync", "health", "conditions", "live", "history", "lastSyncedAt",
                          "nextReconcileAt", "desiredDigest", "resolvedRuntime", "plannedAction"}) {
    EXPECT_TRUE(entry.contains(key)) << key;
  }
  EXPECT_EQ(Http("GET", port, "/api/v1/status/no-such-model").status, 404);
  EXPECT_EQ(Http("GET", port, "/nope").status, 404);
  EXPECT_EQ(Http("DELETE", port, "/metrics").status, 405);
  EXPECT_EQ(Http("GET", port, "/healthz").status, 200);
  EXPECT_EQ(Http("POST", port, "/api/v1/reconcile?name=fraud-classifier").status, 202);
  EXPECT_EQ(Http("POST", port, "/api/v1/models/fraud-classifier/retry").status, 202);
  EXPECT_EQ(Http("POST", port, "/api/v1/models/nobody/retry").status, 404);
  EXPECT_EQ(Http("POST", port, "/api/v1/reconcile", std::string(100 * 1024, 'x')).status, 413);

  const std::string metrics = Http("GET", port, "/metrics").body;
  for (const char* family : {"cml_reconciler_build_info",
                             "cml_reconciler_reconcile_total",
                             "cml_reconciler_reconcile_duration_seconds",
                             "cml_reconciler_model_info",
                             "cml_reconciler_model_condition",
                             "cml_reconciler_model_replicas",
                             "cml_reconciler_actions_total",
                             "cml_reconciler_convergence_seconds",
                             "cml_reconciler_last_sync_timestamp_seconds",
                             "cml_reconciler_api_requests_total",
                             "cml_reconciler_api_request_duration_seconds",
                             "cml_reconciler_api_throttled_seconds_total",
                             "cml_reconciler_desired_state_loads_total",
                             "cml_reconciler_desired_state_models",
                             "cml_reconciler_desired_state_last_success_timestamp_seconds",
                             "cml_reconciler_workqueue_depth",
                             "cml_reconciler_workqueue_retries_total",
                             "cml_reconciler_workqueue_queue_duration_seconds",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_open_fds",
                             "process_start_time_seconds"}) {
    EXPECT_NE(metrics.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  // The key never shows.
  const std::string key = ReadFile(emulator_.key_file());
  EXPECT_EQ(metrics.find(key.substr(0, key.size() - 1)), std::string::npos);
  // promtool agrees the exposition is well formed.
  WriteFile(dir_ / "metrics.txt", metrics);
  const std::string check = "promtool check metrics < " + (dir_ / "metrics.txt").string() +
                            " >/dev/null 2>" + (dir_ / "promtool.err").string();
  const int rc = std::system(check.c_str());
  // promtool exits 3 for lint warnings (e.g. counters without _total) that do not concern
  // the format; 1 is a parse error.
  EXPECT_NE(WEXITSTATUS(rc), 1) << ReadFile(dir_ / "promtool.err");
}

// Verifies that SIGTERM during work exits 0 within 10 s.
TEST_F(DaemonE2eTest, SigtermExitsPromptly) {
  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  const int port = StartDaemon(desired);
  ASSERT_GT(port, 0) << daemon_->Stderr();
  ASSERT_TRUE(WaitFor([&] { return Http("GET", port, "/readyz").status == 200; },
                      std::chrono::seconds(10)));
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(std::chrono::seconds(10)), 0) << daemon_->Stderr();
}

// Verifies fail-fast start-up: an invalid desired state or an unreadable key exits 1 at once.
TEST_F(DaemonE2eTest, FailsFastOnBadStartup) {
  WriteFile(dir_ / "bad" / "x.yaml", "apiVersion: cml-reconciler/v1\nkind: Nope\n");
  Process bad(DaemonBinary(), {"run", "--desired", (dir_ / "bad").string(), "--cml-url",
                               emulator_.url(), "--api-key-file", emulator_.key_file().string()});
  EXPECT_EQ(bad.Wait(std::chrono::seconds(10)), 1);
  EXPECT_NE(bad.Stderr().find("x.yaml:2:"), std::string::npos) << bad.Stderr();

  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  Process no_key(DaemonBinary(),
                 {"run", "--desired", desired.string(), "--cml-url", emulator_.url(),
                  "--api-key-file", (dir_ / "missing-key").string()});
  EXPECT_EQ(no_key.Wait(std::chrono::seconds(10)), 1);
  EXPECT_NE(no_key.Stderr().find("missing-key"), std::string::npos) << no_key.Stderr();
}

// Verifies `doctor` against the emulator: every check passes as it behaves today, the JSON form
// parses, nothing is written; with sparse list answers it FAILs (exit 1) naming the fields.
TEST_F(DaemonE2eTest, DoctorPassesOnTheEmulatorAndNamesSparseFields) {
  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  std::vector<std::string> args = {"doctor", "--desired", desired.string()};
  for (const std::string& flag : ClientFlags(emulator_)) args.push_back(flag);
  Process doctor(DaemonBinary(), args);
  EXPECT_EQ(doctor.Wait(std::chrono::seconds(60)), 0) << doctor.Stdout() << doctor.Stderr();
  EXPECT_NE(doctor.Stdout().find("PASS  api key"), std::string::npos) << doctor.Stdout();
  EXPECT_EQ(doctor.Stdout().find("FAIL"), std::string::npos) << doctor.Stdout();

  args.insert(args.end(), {"-o", "json"});
  Process as_json(DaemonBinary(), args);
  EXPECT_EQ(as_json.Wait(std::chrono::seconds(60)), 0) << as_json.Stderr();
  const nlohmann::json report = nlohmann::json::parse(as_json.Stdout(), nullptr, false);
  ASSERT_TRUE(report.is_object()) << as_json.Stdout();
  EXPECT_EQ(report["fail"], 0);
  EXPECT_GT(report["pass"].get<int>(), 5);

  ASSERT_EQ(
      Http("PUT", emulator_.port(), "/_emulator/quirks", R"({"quirks": "sparse-lists"})").status,
      200);
  Process sparse(DaemonBinary(), {args.begin(), args.end() - 2});
  EXPECT_EQ(sparse.Wait(std::chrono::seconds(60)), 1) << sparse.Stdout() << sparse.Stderr();
  EXPECT_NE(sparse.Stdout().find("FAIL  list fields"), std::string::npos) << sparse.Stdout();
  EXPECT_NE(sparse.Stdout().find("model_version_metadata.mlflow_metadata"), std::string::npos)
      << sparse.Stdout();
  EXPECT_EQ(emulator_.Calls().value("writes", -1), 0) << "doctor wrote to CML";
}

// Opens GET /api/v1/events on 127.0.0.1:port and hands `on_text` the decoded body each time more
// arrives, until it returns true, the stream ends or `deadline` passes. Returns how the reading
// ended ("" when on_text was satisfied) and the status code.
struct EventsRead {
  int status = 0;
  std::string content_type;
  std::string text;
  std::string end;        // "" when on_text returned true, else the error that ended the reading
  bool complete = false;  // the chunked body ended cleanly (last chunk seen)
};
EventsRead ReadEvents(int port, const std::function<bool(const std::string&)>& on_text,
                      std::chrono::steady_clock::time_point deadline) {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  net::io_context io;
  EventsRead out;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        beast::tcp_stream stream(io);
        stream.expires_at(deadline);
        const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"),
                                              static_cast<unsigned short>(port));
        co_await stream.async_connect(endpoint, net::use_awaitable);
        http::request<http::empty_body> request{http::verb::get, "/api/v1/events", 11};
        request.set(http::field::host, "127.0.0.1");
        request.set(http::field::accept, "text/event-stream");
        co_await http::async_write(stream, request, net::use_awaitable);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(boost::none);
        co_await http::async_read_header(stream, buffer, parser, net::use_awaitable);
        out.status = parser.get().result_int();
        out.content_type = std::string(parser.get()[http::field::content_type]);
        while (!parser.is_done()) {
          if (on_text(parser.get().body())) co_return;
          co_await http::async_read_some(stream, buffer, parser, net::use_awaitable);
        }
        out.complete = true;
        out.end = "end of stream";
      },
      [&](std::exception_ptr e) {
        try {
          if (e) std::rethrow_exception(e);
        } catch (const std::exception& error) {
          out.end = error.what();
        }
      });
  io.run();
  return out;
}

// The `event: model` ENTRYs in an SSE text, in order.
std::vector<nlohmann::json> ModelEvents(const std::string& text) {
  std::vector<nlohmann::json> entries;
  const std::string marker = "event: model\ndata: ";
  for (std::size_t at = text.find(marker); at != std::string::npos;
       at = text.find(marker, at + 1)) {
    const std::size_t start = at + marker.size();
    const std::size_t end = text.find("\n\n", start);
    if (end == std::string::npos) break;  // not complete yet
    entries.push_back(nlohmann::json::parse(text.substr(start, end - start), nullptr, false));
  }
  return entries;
}

// Verifies the admin token and the events stream of the real daemon (design 7): POSTs need the
// bearer token even from loopback; /api/v1/events first lists every model, then follows them
// while they converge; SIGTERM ends an open stream cleanly and the daemon exits 0 in time.
TEST_F(DaemonE2eTest, AdminTokenAndEventStream) {
  const fs::path desired = dir_ / "desired";
  CopyExamples(desired);
  WriteFile(dir_ / "admin-token", "  e2e-admin-token\n");
  const int port = StartDaemon(desired, {"--admin-token-file", (dir_ / "admin-token").string()});
  ASSERT_GT(port, 0) << daemon_->Stderr();

  const std::size_t models = DaemonStatus(port)["models"].size();
  ASSERT_GE(models, 2u);
  // The first `models` events are the snapshot: every model once. Then changes follow until
  // every model has been seen converged.
  std::set<std::string> snapshot, converged;
  std::size_t received = 0;
  const EventsRead events = ReadEvents(
      port,
      [&](const std::string& text) {
        const std::vector<nlohmann::json> entries = ModelEvents(text);
        received = entries.size();
        snapshot.clear();
        for (std::size_t i = 0; i < entries.size(); ++i) {
          const nlohmann::json& entry = entries[i];
          if (!entry.is_object()) continue;
          if (i < models) snapshot.insert(entry.value("name", ""));
          if (entry["health"] == "Suspended" ||
              (entry["sync"] == "Synced" && entry["health"] == "Healthy")) {
            converged.insert(entry.value("name", ""));
          }
        }
        return received > models && converged.size() == models;
      },
      std::chrono::steady_clock::now() + seconds(90));
  EXPECT_EQ(events.end, "") << events.text << daemon_->Stderr();
  EXPECT_EQ(events.status, 200);
  EXPECT_EQ(events.content_type, "text/event-stream");
  EXPECT_EQ(snapshot.size(), models);
  EXPECT_GT(received, models);
  const std::set<std::string>& names = snapshot;

  const std::string target = "/api/v1/reconcile?name=" + *names.begin();
  EXPECT_EQ(Http("POST", port, target).status, 401);
  EXPECT_EQ(Http("POST", port, target, "", "wrong-token").status, 401);
  EXPECT_EQ(Http("POST", port, target, "", "e2e-admin-token").status, 202);
  EXPECT_EQ(Http("POST", port, "/api/v1/models/" + *names.begin() + "/retry", "", "e2e-admin-token")
                .status,
            202);
  EXPECT_EQ(Http("GET", port, "/api/v1/status").status, 200);  // reads need no token

  // SIGTERM with a stream open: the stream ends cleanly and the daemon exits 0 in time.
  bool signalled = false;
  const auto sent = std::chrono::steady_clock::now();
  const EventsRead ended = ReadEvents(
      port,
      [&](const std::string& text) {
        if (!signalled && text.find("event: model") != std::string::npos) {
          daemon_->Signal(SIGTERM);
          signalled = true;
        }
        return false;
      },
      std::chrono::steady_clock::now() + seconds(10));
  EXPECT_TRUE(signalled);
  EXPECT_TRUE(ended.complete) << ended.end;
  EXPECT_EQ(daemon_->Wait(std::chrono::milliseconds(10000)), 0) << daemon_->Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, seconds(10));
}

}  // namespace
}  // namespace cmlr::e2e
