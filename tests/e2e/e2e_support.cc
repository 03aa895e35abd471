#include "tests/e2e/e2e_support.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

extern char** environ;

namespace cmlr::e2e {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Process::Process(std::string program, std::vector<std::string> args,
                 std::map<std::string, std::string> env) {
  static int counter = 0;
  const auto base = std::filesystem::temp_directory_path() /
                    ("cmlr-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  out_ = base.string() + ".out";
  err_ = base.string() + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_strings = {program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::map<std::string, std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) environment[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (auto& [k, v] : env) environment[k] = v;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : environment) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) {
    pid_ = -1;
    exit_code_ = 127;
  }
  posix_spawn_file_actions_destroy(&actions);
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(5));
  }
  std::error_code ignored;
  std::filesystem::remove(out_, ignored);
  std::filesystem::remove(err_, ignored);
}

bool Process::running() {
  if (exit_code_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void Process::Signal(int signal) {
  if (running()) ::kill(pid_, signal);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([this] { return !running(); }, timeout);
  return exit_code_;
}

std::string Process::Stdout() const { return ReadFile(out_); }
std::string Process::Stderr() const { return ReadFile(err_); }

TempDir::TempDir() {
  std::random_device random;
  path_ = std::filesystem::temp_directory_path() /
          ("cmlr-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

namespace {

// Writes one request on a connected `stream` and reads the answer into `result`.
template <typename Stream>
void Exchange(Stream& stream, const std::string& method, const std::string& target,
              const std::string& body, const std::string& bearer, HttpResult& result) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) request.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(stream, buffer, parser);
  result.status = parser.get().result_int();
  result.body = parser.get().body();
}

net::ip::tcp::endpoint Loopback(int port) {
  return {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)};
}

}  // namespace

HttpResult Http(const std::string& method, int port, const std::string& target,
                const std::string& body, const std::string& bearer) {
  HttpResult result;
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(Loopback(port));
    Exchange(stream, method, target, body, bearer, result);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

HttpResult Https(const std::string& method, int port, const std::string& target,
                 const std::filesystem::path& ca_file, const std::string& body) {
  HttpResult result;
  try {
    net::io_context io;
    net::ssl::context tls(net::ssl::context::tls_client);
    tls.load_verify_file(ca_file.string());
    tls.set_verify_mode(net::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(Loopback(port));
    stream.handshake(net::ssl::stream_base::client);
    Exchange(stream, method, target, body, "", result);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int ReadPortFile(const std::filesystem::path& file, std::chrono::milliseconds timeout) {
  int port = 0;
  WaitFor(
      [&] {
        std::ifstream in(file);
        return static_cast<bool>(in >> port) && port > 0;
      },
      timeout);
  return port;
}

void WriteFile(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

void WriteFileAtomically(const std::filesystem::path& file, const std::string& text) {
  const auto temp = file.parent_path() / ("." + file.filename().string() + ".tmp");
  WriteFile(temp, text);
  std::filesystem::rename(temp, file);
}

std::string ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DaemonBinary() { return std::string(CMLR_BINARY_DIR) + "/daemon/cml-reconciler"; }
std::string EmulatorBinary() { return std::string(CMLR_BINARY_DIR) + "/emulator/cml-emulator"; }
std::filesystem::path SourceDir() { return CMLR_SOURCE_DIR; }

namespace {

// The port `process` wrote to `port_file`; 0 when it exited first or `timeout` passed.
int WaitForPort(Process& process, const std::filesystem::path& port_file,
                std::chrono::milliseconds timeout) {
  int port = 0;
  WaitFor(
      [&] {
        port = ReadPortFile(port_file, std::chrono::milliseconds(0));
        return port > 0 || !process.running();
      },
      timeout);
  return port;
}

}  // namespace

Emulator::Emulator(std::vector<std::string> extra_args)
    : Emulator(EmulatorOptions{.args = std::move(extra_args)}) {}

Emulator::Emulator(EmulatorOptions options) : options_(std::move(options)) {
  key_file_ = dir_ / "api-key";
  if (options_.api_key.empty()) options_.api_key = "e2e-key-" + std::to_string(::getpid());
  WriteFile(key_file_, options_.api_key + "\n");
  Launch(0, key_file_);
}

bool Emulator::Launch(int port, const std::filesystem::path& key_file) {
  const auto port_file = dir_ / "port";
  std::error_code ignored;
  std::filesystem::remove(port_file, ignored);
  std::vector<std::string> args = {"--listen",       "127.0.0.1:" + std::to_string(port),
                                   "--port-file",    port_file.string(),
                                   "--api-key-file", key_file.string()};
  if (options_.persist_state) {
    args.insert(args.end(), {"--state", (dir_ / "state.json").string()});
  }
  if (!options_.tls_cert.empty()) {
    args.insert(args.end(),
                {"--tls-cert", options_.tls_cert.string(), "--tls-key", options_.tls_key.string()});
  }
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  process_ = std::make_unique<Process>(EmulatorBinary(), args);
  port_ = WaitForPort(*process_, port_file, std::chrono::seconds(20));
  return port_ > 0 && (port == 0 || port_ == port);
}

std::string Emulator::url() const {
  return std::string(options_.tls_cert.empty() ? "http" : "https") +
         "://127.0.0.1:" + std::to_string(port_);
}

HttpResult Emulator::Admin(const std::string& method, const std::string& target,
                           const std::string& body) {
  if (options_.tls_cert.empty()) return Http(method, port_, target, body);
  return Https(method, port_, target, options_.ca_file, body);
}

int Emulator::Writes() {
  const nlohmann::json calls = Calls();
  return calls.is_object() ? calls.value("writes", -1) : -1;
}

nlohmann::json Emulator::Calls() {
  const HttpResult calls = Admin("GET", "/_emulator/calls");
  if (calls.status != 200) return nlohmann::json::value_t::discarded;
  return nlohmann::json::parse(calls.body, nullptr, false);
}

nlohmann::json Emulator::State() {
  const HttpResult state = Admin("GET", "/_emulator/state");
  if (state.status != 200) return nlohmann::json::value_t::discarded;
  return nlohmann::json::parse(state.body, nullptr, false);
}

void Emulator::Kill() {
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

bool Emulator::Restart(const std::string& api_key) {
  const int port = port_;
  Kill();
  std::filesystem::path key_file = key_file_;
  if (!api_key.empty()) {
    key_file = dir_ / ("api-key-" + std::to_string(++restarts_));
    WriteFile(key_file, api_key + "\n");
  }
  // The port is free again at once (the server sets SO_REUSEADDR); a few tries cover the rare
  // case of another socket holding it for a moment.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (Launch(port, key_file)) return true;
    Kill();
  }
  return false;
}

Daemon::Daemon(std::vector<std::string> args, std::map<std::string, std::string> env) {
  const auto port_file = dir_ / "port";
  std::vector<std::string> all = {"run", "--listen", "127.0.0.1:0", "--port-file",
                                  port_file.string()};
  all.insert(all.end(), args.begin(), args.end());
  process_ = std::make_unique<Process>(DaemonBinary(), all, std::move(env));
  port_ = WaitForPort(*process_, port_file, std::chrono::seconds(20));
}

std::string Daemon::Output() const { return process_->Stdout() + process_->Stderr(); }

nlohmann::json DaemonStatus(int port) {
  const HttpResult result = Http("GET", port, "/api/v1/status");
  return result.status == 200 ? nlohmann::json::parse(result.body, nullptr, false)
                              : nlohmann::json();
}

bool AllSynced(int port, std::size_t models) {
  const nlohmann::json status = DaemonStatus(port);
  if (!status.contains("models") || status["models"].size() != models) return false;
  for (const auto& m : status["models"]) {
    if (m["health"] == "Suspended") continue;  // observed and reported only
    if (m["sync"] != "Synced" || m["health"] != "Healthy") return false;
  }
  return true;
}

double MetricValue(const std::string& metrics, const std::string& prefix) {
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

std::vector<std::string> CmlInvariantViolations(const nlohmann::json& state, bool settled) {
  using nlohmann::json;
  std::vector<std::string> violations;
  if (!state.is_object() || !state.contains("projects")) return {"no state dump: " + state.dump()};
  const auto lower = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  for (const json& project : state["projects"]) {
    const std::string project_id = project.value("public_identifier", "");
    std::map<std::string, int> models_by_name;
    for (const json& model : project.value("models", json::array())) {
      const std::string name = model.value("name", "");
      const std::string where =
          "project " + project_id + " model " + name + " (" + model.value("id", "") + ")";
      if (++models_by_name[name] == 2) {
        violations.push_back("two CML models named " + name + " in project " + project_id);
      }
      std::map<std::pair<std::string, std::string>, std::vector<std::string>> builds_by_key;
      std::vector<std::string> running;
      for (const json& build : model.value("builds", json::array())) {
        const std::string status = lower(build.value("status", ""));
        if (status != "build failed" && status != "timedout") {
          builds_by_key[{build.value("registered_model_version_id", ""),
                         build.value("runtime_identifier", "")}]
              .push_back(build.value("id", "") + " (" + status + ")");
        }
        for (const json& deployment : build.value("deployments", json::array())) {
          const std::string d = lower(deployment.value("status", ""));
          if (d != "stopped" && d != "failed") {
            running.push_back(deployment.value("id", "") + " (" + d + ")");
          }
        }
      }
      for (const auto& [key, ids] : builds_by_key) {
        if (ids.size() < 2) continue;
        std::string text = where + ": " + std::to_string(ids.size()) +
                           " builds that have not failed for version " + key.first +
                           " and runtime " + key.second + ":";
        for (const std::string& id : ids) text += " " + id;
        violations.push_back(text);
      }
      if (settled && running.size() > 1) {
        std::string text = where + ": " + std::to_string(running.size()) + " running deployments:";
        for (const std::string& id : running) text += " " + id;
        violations.push_back(text);
      }
    }
  }
  for (const json& registered : state.value("registered_models", json::array())) {
    std::map<std::string, int> versions_by_run;
    for (const json& version : registered.value("model_versions", json::array())) {
      const std::string run =
          version.value(json::json_pointer("/model_version_metadata/mlflow_metadata/run_id"), "");
      if (!run.empty() && ++versions_by_run[run] == 2) {
        violations.push_back("registered model " + registered.value("name", "") +
                             " has two versions for MLflow run " + run);
      }
    }
  }
  return violations;
}

}  // namespace cmlr::e2e
