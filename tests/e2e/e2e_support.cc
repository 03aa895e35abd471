#include "tests/e2e/e2e_support.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

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

HttpResult Http(const std::string& method, int port, const std::string& target,
                const std::string& body, const std::string& bearer) {
  HttpResult result;
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                          static_cast<unsigned short>(port)));
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

std::string ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DaemonBinary() { return std::string(CMLR_BINARY_DIR) + "/daemon/cml-reconciler"; }
std::string EmulatorBinary() { return std::string(CMLR_BINARY_DIR) + "/emulator/cml-emulator"; }
std::filesystem::path SourceDir() { return CMLR_SOURCE_DIR; }

Emulator::Emulator(std::vector<std::string> extra_args) {
  key_file_ = dir_ / "api-key";
  WriteFile(key_file_, "e2e-key-" + std::to_string(::getpid()) + "\n");
  std::vector<std::string> args = {"--listen",       "127.0.0.1:0",
                                   "--port-file",    (dir_ / "port").string(),
                                   "--api-key-file", key_file_.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>(EmulatorBinary(), args);
  port_ = ReadPortFile(dir_ / "port", std::chrono::seconds(20));
}

int Emulator::Writes() {
  const HttpResult calls = Http("GET", port_, "/_emulator/calls");
  if (calls.status != 200) return -1;
  return nlohmann::json::parse(calls.body, nullptr, false).value("writes", -1);
}

}  // namespace cmlr::e2e
