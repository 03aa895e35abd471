#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/ssl.hpp>

#include "tests/emulator/emulator_test_base.h"

namespace cmlr::emulator::testing {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using nlohmann::json;

std::string ModelsPath() { return fmt::format("/api/v2/projects/{}/models", kProject); }

std::filesystem::path TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("cmlr-emulator-test-{}-{}", name, ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

class EmulatorOpsTest : public EmulatorTest {
 protected:
  void SetFaults(const json& settings) {
    auto reply = Call(http::verb::put, "/_emulator/faults", settings);
    ASSERT_EQ(reply.status, 200) << reply.body.dump();
  }
  json Calls() { return Call(http::verb::get, "/_emulator/calls").body; }
};

// Verifies that error_rate answers 500 INTERNAL or 503 UNAVAILABLE in the runtimeError shape.
TEST_F(EmulatorOpsTest, InjectsServerErrors) {
  SetFaults({{"error_rate", 1.0}});
  std::set<int> statuses;
  for (int i = 0; i < 20; ++i) {
    auto reply = Call(http::verb::get, "/api/v2/runtimes");
    statuses.insert(reply.status);
    EXPECT_EQ(reply.body["code"], reply.status == 500 ? 13 : 14);
  }
  EXPECT_EQ(statuses, (std::set<int>{500, 503}));
}

// Verifies that throttle_rate answers 429 RESOURCE_EXHAUSTED with Retry-After.
TEST_F(EmulatorOpsTest, InjectsThrottling) {
  SetFaults({{"throttle_rate", 1.0}, {"retry_after_seconds", 2}});
  auto reply = Call(http::verb::get, "/api/v2/runtimes");
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.body["code"], 8);
  EXPECT_EQ(reply.raw[http::field::retry_after], "2");
}

// Verifies that reset_rate drops the connection without an answer, and the call is counted.
TEST_F(EmulatorOpsTest, InjectsConnectionResets) {
  SetFaults({{"reset_rate", 1.0}, {"operations", {"list_runtimes"}}});
  common::HttpRequest request{http::verb::get, "/api/v2/runtimes", 11};
  request.set(http::field::authorization, std::string("Bearer ") + kKey);
  const auto result = SendRaw(request);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(Call(http::verb::get, "/api/v2/registry/models").status, 200);
  EXPECT_EQ(Calls()["by_operation"]["list_runtimes"], 1);
}

// Verifies that an ambiguous write is applied and then answered 500.
TEST_F(EmulatorOpsTest, InjectsAmbiguousWrites) {
  SetFaults({{"ambiguous_rate", 1.0}});
  auto reply = Call(http::verb::post, ModelsPath(), json{{"name", "ghost"}});
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.body["code"], 13);
  auto list = Call(http::verb::get, ModelsPath());
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["models"].size(), 1u);
  EXPECT_EQ(list.body["models"][0]["name"], "ghost");
}

// Verifies that a seed makes the sequence of injected faults repeatable.
TEST_F(EmulatorOpsTest, FaultsRepeatWithTheSameSeed) {
  auto run = [&] {
    std::vector<int> statuses;
    EXPECT_EQ(Call(http::verb::post, "/_emulator/reset").status, 200);
    for (int i = 0; i < 30; ++i)
      statuses.push_back(Call(http::verb::get, "/api/v2/runtimes").status);
    return statuses;
  };
  Stop();
  EmulatorOptions options = DefaultOptions();
  options.faults.error_rate = 0.3;
  options.faults.throttle_rate = 0.2;
  options.seed = 7;
  Start(options);
  const auto first = run();
  Stop();
  Start(options);
  const auto second = run();
  EXPECT_EQ(first, second);
  EXPECT_GT(std::count(first.begin(), first.end(), 200), 0);
  EXPECT_GT(std::count_if(first.begin(), first.end(), [](int s) { return s != 200; }), 0);
}

// Verifies that added latency holds the answer until the clock has moved by it.
TEST_F(EmulatorOpsTest, InjectsLatency) {
  SetFaults({{"latency", "250ms"}});
  common::HttpRequest request{http::verb::get, "/api/v2/runtimes", 11};
  request.set(http::field::authorization, std::string("Bearer ") + kKey);
  client_->Start(request);
  for (int i = 0; i < 500 && clock_.sleepers() == 0; ++i) {
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(clock_.sleepers(), 1u);
  io_.poll();
  EXPECT_FALSE(client_->Poll().has_value());
  clock_.Advance(std::chrono::milliseconds(250));
  for (int i = 0; i < 500 && !client_->Poll(); ++i) io_.run_one_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(client_->Poll().has_value());
  ASSERT_TRUE(client_->Poll()->ok());
  EXPECT_EQ((*client_->Poll())->result_int(), 200);
}

// Verifies that bad fault settings are refused.
TEST_F(EmulatorOpsTest, RejectsBadFaultSettings) {
  EXPECT_EQ(Call(http::verb::put, "/_emulator/faults", json{{"error_rate", 2}}).status, 400);
  EXPECT_EQ(Call(http::verb::put, "/_emulator/faults", json{{"colour", 1}}).status, 400);
  EXPECT_EQ(Call(http::verb::put, "/_emulator/faults", json{{"latency", "soon"}}).status, 400);
  EXPECT_EQ(Call(http::verb::get, "/_emulator/faults").body["error_rate"], 0.0);
}

// Verifies that calls are counted per operation, split into reads and writes, with the writes
// logged in order, and that reset restores the fixture and clears the counts.
TEST_F(EmulatorOpsTest, CountsCallsAndResets) {
  Call(http::verb::get, "/api/v2/runtimes");
  Call(http::verb::get, ModelsPath());
  const std::string model = CreateModel("m");
  CreateBuild(model);
  json calls = Calls();
  EXPECT_EQ(calls["reads"], 2);
  EXPECT_EQ(calls["writes"], 2);
  EXPECT_EQ(calls["by_operation"]["create_model_build"], 1);
  ASSERT_EQ(calls["writes_log"].size(), 2u);
  EXPECT_EQ(calls["writes_log"][0]["operation"], "create_model");
  EXPECT_EQ(calls["writes_log"][1]["operation"], "create_model_build");
  EXPECT_EQ(calls["writes_log"][0]["at"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(calls["writes_log"][0]["status"], 200);
  EXPECT_EQ(Call(http::verb::post, "/_emulator/reset").status, 200);
  calls = Calls();
  EXPECT_EQ(calls["writes"], 0);
  EXPECT_FALSE(Call(http::verb::get, ModelsPath()).body.contains("models"));
  EXPECT_EQ(Call(http::verb::delete_, "/_emulator/calls").status, 200);
  EXPECT_EQ(Calls()["reads"], 0);
  EXPECT_EQ(Call(http::verb::get, "/_emulator/nothing").status, 404);
}

// Verifies that the state dump and the drift injections work (stop, create by hand), which are not
// counted as client calls.
TEST_F(EmulatorOpsTest, InjectsDrift) {
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  const std::string deployment = CreateDeployment(model, build);
  clock_.Advance(std::chrono::seconds(5));
  auto stopped = Call(http::verb::post, "/_emulator/drift/stop_deployment",
                      json{{"deployment_id", deployment}});
  ASSERT_EQ(stopped.status, 200) << stopped.body.dump();
  EXPECT_EQ(stopped.body["status"], "stopped");
  EXPECT_EQ(GetDeployment(model, build, deployment)["status"], "stopped");
  auto created = Call(http::verb::post, "/_emulator/drift/create_deployment",
                      json{{"project_id", kProject},
                           {"model_id", model},
                           {"build_id", build},
                           {"cpu", 8},
                           {"memory", 16},
                           {"replicas", 3}});
  ASSERT_EQ(created.status, 200) << created.body.dump();
  EXPECT_EQ(created.body["cpu"], 8.0);
  const json state = Call(http::verb::get, "/_emulator/state").body;
  const auto& deployments = state["projects"][0]["models"][0]["builds"][0]["deployments"];
  EXPECT_EQ(deployments.size(), 2u);
  EXPECT_EQ(state["registered_models"][0]["model_versions"].size(), 5u);
  EXPECT_EQ(Calls()["writes"], 3);
  EXPECT_EQ(Call(http::verb::post, "/_emulator/drift/stop_deployment", json{{"deployment_id", "x"}})
                .status,
            404);
}

// Verifies that --state keeps models, builds and deployments across a restart.
TEST_F(EmulatorOpsTest, PersistsStateAcrossRestarts) {
  const auto dir = TempDir("state");
  const std::string file = (dir / "state.json").string();
  Stop();
  EmulatorOptions options = DefaultOptions();
  options.state_file = file;
  Start(options);
  const std::string model = CreateModel("persisted");
  const std::string build = CreateBuild(model);
  const std::string deployment = CreateDeployment(model, build);
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
  Stop();
  Start(options);
  auto got = Call(http::verb::get, ModelPath(model));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["name"], "persisted");
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(GetDeployment(model, build, deployment)["status"], "deployed");
  // New ids do not collide with restored ones.
  EXPECT_NE(CreateModel("second"), model);
  Stop();
  std::ofstream(file) << "{not json";
  EXPECT_FALSE(Emulator::Create(options, clock_).ok());
  std::filesystem::remove_all(dir);
}

// Verifies that --history-limit keeps the newest stopped deployments of a model and drops the
// ones that ended first, while running ones are never dropped.
TEST_F(EmulatorOpsTest, BoundsTheDeploymentHistory) {
  Stop();
  EmulatorOptions options = DefaultOptions();
  options.history_limit = 2;
  Start(options);
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  clock_.Advance(std::chrono::seconds(3));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(CreateDeployment(model, build));
    clock_.Advance(std::chrono::seconds(2));  // deployed; the previous one stopped
  }
  auto list = Call(http::verb::get, BuildPath(model, build) + "/deployments?page_size=50");
  ASSERT_EQ(list.status, 200);
  std::vector<std::string> kept;
  for (const auto& d : list.body["model_deployments"]) kept.push_back(d["id"]);
  EXPECT_EQ(kept, (std::vector<std::string>{ids[2], ids[3], ids[4]}));
  const std::string path = BuildPath(model, build) + "/deployments/";
  EXPECT_EQ(Call(http::verb::get, path + ids[0]).status, 404);
  // The deployment just stopped is the newest in the history, so :stop answers it.
  auto stopped = Call(http::verb::post, path + ids[4] + ":stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body.dump();
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(GetDeployment(model, build, ids[4])["status"], "stopped");
  EXPECT_EQ(Call(http::verb::get, path + ids[2]).status, 404);
  EXPECT_EQ(Call(http::verb::get, path + ids[3]).status, 200);
}

// Verifies that without --history-limit every stopped deployment is kept, as CML keeps them.
TEST_F(EmulatorOpsTest, KeepsTheWholeHistoryByDefault) {
  const std::string model = CreateModel("m");
  const std::string build = CreateBuild(model);
  for (int i = 0; i < 4; ++i) {
    CreateDeployment(model, build);
    clock_.Advance(std::chrono::seconds(5));
  }
  auto list = Call(http::verb::get, BuildPath(model, build) + "/deployments");
  EXPECT_EQ(list.body["model_deployments"].size(), 4u);
}

// Verifies that a malformed fixture is refused with its position.
TEST_F(EmulatorOpsTest, RejectsBadFixtures) {
  EmulatorOptions options = DefaultOptions();
  options.fixture_yaml = "users:\n  - username: a\n    colour: red\n";
  options.fixture_name = "f.yaml";
  const auto created = Emulator::Create(options, clock_);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("f.yaml:3:"), std::string::npos) << created.status();
}

// Verifies that the emulator serves HTTPS with --tls-cert/--tls-key.
TEST_F(EmulatorOpsTest, ServesTls) {
  const auto dir = TempDir("tls");
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const std::string command = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout {} -out {} -days 1 -subj /CN=localhost "
      ">/dev/null 2>&1",
      key, cert);
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
  Stop();
  Start(DefaultOptions(), common::HttpServerOptions{.tls_cert_file = cert, .tls_key_file = key});
  ASSERT_TRUE(server_->tls());
  net::ssl::context tls(net::ssl::context::tls_client);
  tls.set_verify_mode(net::ssl::verify_none);
  client_ = std::make_unique<TestClient>(io_, server_->port(), &tls);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/runtimes").status, 200);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/registry/models").status, 200);
  EXPECT_EQ(client_->connects(), 1);
  client_.reset();
  std::filesystem::remove_all(dir);
}

// Verifies that every response of a whole walkthrough (register, model, build, deploy, stop,
// errors) validates against the swagger excerpt's definitions.
TEST_F(EmulatorOpsTest, ResponsesConformToTheSwaggerExcerpt) {
  if (validator() == nullptr) {
    GTEST_SKIP() << "swagger excerpt not found at " << SwaggerExcerptPath()
                 << "; the conformance check needs ../shared/ beside the project";
  }
  Call(http::verb::post, "/api/v2/auth/validate_key", json{{"audience", "API"}});
  Call(http::verb::get, "/api/v2/runtimes?page_size=2");
  Call(http::verb::get, "/api/v2/registry/models");
  Call(http::verb::get, fmt::format("/api/v2/registry/models/{}", kRegisteredModel));
  Call(http::verb::get,
       fmt::format("/api/v2/registry/models/{}/versions/{}", kRegisteredModel, kVersion3));
  Call(http::verb::post, "/api/v2/registry/models",
       json{{"project_id", kProject},
            {"experiment_id", "3bmr-ju29-om6c-5aeo"},
            {"run_id", "8f2c1e0b7d9a4c6e9f3b2a1d0c8e7f6a"},
            {"model_path", "artifacts"},
            {"model_name", "FraudCLF-alice"}});
  const std::string model = CreateModel("FraudCLF-endpoint");
  Call(http::verb::patch, ModelPath(model),
       json{{"description", "d"},
            {"default_resources", {{"cpu_millicores", "1000"}, {"memory_mb", "2048"}}},
            {"default_replication_policy", {{"num_replicas", "2"}, {"type", "fixed"}}},
            {"accelerator_label_id", "3"}});
  Call(http::verb::get, ModelPath(model));
  Call(http::verb::get, ModelsPath());
  Call(http::verb::get, "/api/v2/models");
  const std::string build = CreateBuild(model);
  clock_.Advance(std::chrono::seconds(3));
  Call(http::verb::get, ModelPath(model) + "/builds");
  const std::string deployment = CreateDeployment(
      model, build, json{{"cpu", 2}, {"memory", 4}, {"environment", {{"A", "b"}}}});
  clock_.Advance(std::chrono::seconds(2));
  Call(http::verb::get, BuildPath(model, build) + "/deployments");
  Call(http::verb::post, BuildPath(model, build) + "/deployments/" + deployment + ":stop");
  Call(http::verb::post, BuildPath(model, build) + "/deployments/" + deployment + ":restart");
  Call(http::verb::get, ModelPath("missing"));
  Call(http::verb::post, ModelsPath(), json{{"cpu", 1}});
  Call(http::verb::delete_, BuildPath(model, build));
  Call(http::verb::delete_, ModelPath(model));
  EXPECT_GE(conformance_checks_, 20);
}

// Locates the built binary; skips when it is missing.
std::string EmulatorBinary() { return CMLR_BINARY_DIR "/emulator/cml-emulator"; }

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Child Spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return Child{pid, ::fdopen(fds[0], "r")};
}

int Terminate(Child& child) {
  ::kill(child.pid, SIGTERM);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  std::fclose(child.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Verifies that the CLI works: listening line, port file, key file, --state across a restart, and a
// clean exit 0 on SIGTERM.
TEST(EmulatorBinaryTest, RunsFromTheCommandLine) {
  if (!std::filesystem::exists(EmulatorBinary())) GTEST_SKIP() << "cml-emulator not built";
  const auto dir = TempDir("binary");
  const std::string port_file = (dir / "port").string();
  const std::string key_file = (dir / "key").string();
  const std::string state_file = (dir / "state.json").string();
  std::ofstream(key_file) << "file-key\n";
  const std::vector<std::string> args = {EmulatorBinary(),
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--port-file",
                                         port_file,
                                         "--api-key-file",
                                         key_file,
                                         "--build-seconds",
                                         "0",
                                         "--deploy-seconds",
                                         "0.5",
                                         "--state",
                                         state_file,
                                         "--log-level",
                                         "warn"};
  std::string model_id;
  for (int run = 0; run < 2; ++run) {
    Child child = Spawn(args);
    ASSERT_GT(child.pid, 0);
    char line[256] = {};
    ASSERT_NE(std::fgets(line, sizeof line, child.out), nullptr);
    std::string text(line);
    ASSERT_TRUE(text.starts_with("cml-emulator listening on http://127.0.0.1:")) << text;
    unsigned short port = 0;
    std::ifstream(port_file) >> port;
    EXPECT_EQ(text, fmt::format("cml-emulator listening on http://127.0.0.1:{}\n", port));
    {
      net::io_context io;
      TestClient client(io, port);
      common::HttpRequest request{run == 0 ? http::verb::post : http::verb::get,
                                  run == 0 ? ModelsPath() : ModelsPath() + "/" + model_id, 11};
      request.set(http::field::authorization, "Bearer file-key");
      if (run == 0) request.body() = R"({"name":"cli-model"})";
      auto response = client.Send(request);
      ASSERT_TRUE(response.ok()) << response.status();
      ASSERT_EQ(response->result_int(), 200) << response->body();
      const json body = json::parse(response->body());
      EXPECT_EQ(body["name"], "cli-model");
      model_id = body["id"];
      common::HttpRequest wrong{http::verb::get, "/api/v2/runtimes", 11};
      wrong.set(http::field::authorization, "Bearer other");
      EXPECT_EQ(client.Send(wrong)->result_int(), 401);
    }
    EXPECT_EQ(Terminate(child), 0);
  }
  std::filesystem::remove_all(dir);
}

// Verifies that --fixture, --no-strict, --quirks and the fault flags take effect in the binary.
TEST(EmulatorBinaryTest, AppliesFixtureStrictnessAndFaultFlags) {
  if (!std::filesystem::exists(EmulatorBinary())) GTEST_SKIP() << "cml-emulator not built";
  const auto dir = TempDir("flags");
  const std::string fixture = (dir / "fixture.yaml").string();
  std::ofstream(fixture) << "users:\n  - username: carol\n    api_keys: [fixture-key]\n"
                            "runtimes:\n  - image_identifier: img:1\n    kernel: Python 3.11\n";
  struct Case {
    std::vector<std::string> flags;
    int validate_status;
    int runtimes_status;
  };
  for (const Case& c : {Case{{"--no-strict"}, 200, 200}, Case{{"--strict"}, 400, 200},
                        Case{{"--throttle-rate", "1"}, 429, 429},
                        Case{{"--quirks", "lenient,zero-times"}, 200, 200},
                        Case{{"--quirks", "gateway-v1-codes", "--throttle-rate", "1"}, 403, 403}}) {
    std::vector<std::string> args = {EmulatorBinary(), "--listen",    "127.0.0.1:0", "--fixture",
                                     fixture,          "--log-level", "error"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    Child child = Spawn(args);
    ASSERT_GT(child.pid, 0);
    char line[256] = {};
    ASSERT_NE(std::fgets(line, sizeof line, child.out), nullptr);
    const std::string text(line);
    const auto port = static_cast<unsigned short>(std::stoi(text.substr(text.rfind(':') + 1)));
    {
      net::io_context io;
      TestClient client(io, port);
      common::HttpRequest validate{http::verb::post, "/api/v2/auth/validate_key", 11};
      validate.set(http::field::authorization, "Bearer fixture-key");
      validate.body() = R"({"audience":"API","extra":1})";
      auto validated = client.Send(validate);
      ASSERT_TRUE(validated.ok()) << validated.status();
      EXPECT_EQ(validated->result_int(), c.validate_status) << c.flags[0];
      common::HttpRequest runtimes{http::verb::get, "/api/v2/runtimes", 11};
      runtimes.set(http::field::authorization, "Bearer fixture-key");
      auto listed = client.Send(runtimes);
      ASSERT_TRUE(listed.ok()) << listed.status();
      EXPECT_EQ(listed->result_int(), c.runtimes_status) << c.flags[0];
      if (c.runtimes_status == 200) {
        EXPECT_EQ(json::parse(listed->body())["runtimes"][0]["image_identifier"], "img:1");
      } else {
        EXPECT_EQ((*listed)[http::field::retry_after], "1");
      }
    }
    EXPECT_EQ(Terminate(child), 0);
  }
  std::filesystem::remove_all(dir);
}

// Verifies that a bad --quirks list stops the binary before it listens, with exit status 1.
TEST(EmulatorBinaryTest, RefusesUnknownQuirks) {
  if (!std::filesystem::exists(EmulatorBinary())) GTEST_SKIP() << "cml-emulator not built";
  Child child = Spawn({EmulatorBinary(), "--listen", "127.0.0.1:0", "--quirks",
                       "sparse-lists,colourful", "--log-level", "off"});
  ASSERT_GT(child.pid, 0);
  char line[256] = {};
  EXPECT_EQ(std::fgets(line, sizeof line, child.out), nullptr) << line;
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  std::fclose(child.out);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

}  // namespace
}  // namespace cmlr::emulator::testing
