#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace cmlr::e2e {

// A child process of the test (the real cml-emulator or cml-reconciler), with its output in
// files. Killed (SIGKILL) when destroyed if still running.
class Process {
 public:
  Process(std::string program, std::vector<std::string> args,
          std::map<std::string, std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal);
  // The exit code, or nullopt when it did not exit within `timeout` (or died by a signal: then
  // 128 + signal).
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path out_, err_;
};

// A fresh temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct HttpResult {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;
};

// One blocking HTTP/1.1 request to 127.0.0.1:port with a 10 s deadline.
HttpResult Http(const std::string& method, int port, const std::string& target,
                const std::string& body = "", const std::string& bearer = "");

// Polls `done` every 20 ms until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// Reads a port written by --port-file, waiting for the file up to `timeout`; 0 on failure.
int ReadPortFile(const std::filesystem::path& file, std::chrono::milliseconds timeout);

void WriteFile(const std::filesystem::path& file, const std::string& text);
std::string ReadFile(const std::filesystem::path& file);

// Paths of the built binaries and the source tree.
std::string DaemonBinary();
std::string EmulatorBinary();
std::filesystem::path SourceDir();

// A running emulator on a free loopback port with a fresh API key (fast timings by default).
class Emulator {
 public:
  explicit Emulator(std::vector<std::string> extra_args = {"--build-seconds", "0.3",
                                                           "--deploy-seconds", "0.3"});
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& key_file() const { return key_file_; }
  // Number of CML writes the emulator has served (GET /_emulator/calls).
  int Writes();
  Process& process() { return *process_; }

 private:
  TempDir dir_;
  std::filesystem::path key_file_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

}  // namespace cmlr::e2e
