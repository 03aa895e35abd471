#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json.hpp>

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

// The same over TLS. The server's certificate must chain to `ca_file`; its host name is not
// checked (this is the test's own client for its own server, not the code under test).
HttpResult Https(const std::string& method, int port, const std::string& target,
                 const std::filesystem::path& ca_file, const std::string& body = "");

// Polls `done` every 20 ms until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// Reads a port written by --port-file, waiting for the file up to `timeout`; 0 on failure.
int ReadPortFile(const std::filesystem::path& file, std::chrono::milliseconds timeout);

void WriteFile(const std::filesystem::path& file, const std::string& text);
// Writes a hidden temporary file beside `file` and renames it over `file`, the way editors and
// git do, so a watcher never reads half a file (the loader skips names starting with a dot).
void WriteFileAtomically(const std::filesystem::path& file, const std::string& text);
std::string ReadFile(const std::filesystem::path& file);

// Paths of the built binaries and the source tree.
std::string DaemonBinary();
std::string EmulatorBinary();
std::filesystem::path SourceDir();

struct EmulatorOptions {
  // Extra flags (fast timings by default).
  std::vector<std::string> args = {"--build-seconds", "0.3", "--deploy-seconds", "0.3"};
  // The accepted API key; empty: a fresh one.
  std::string api_key;
  // With --state in the emulator's directory, so that Restart() keeps CML's objects.
  bool persist_state = false;
  // Both set: serve HTTPS with this certificate; the admin calls verify it against `ca_file`.
  std::filesystem::path tls_cert, tls_key, ca_file;
};

// A running emulator on a free loopback port. port() is 0 when it did not come up.
class Emulator {
 public:
  explicit Emulator(std::vector<std::string> extra_args = EmulatorOptions().args);
  explicit Emulator(EmulatorOptions options);

  int port() const { return port_; }
  // http://127.0.0.1:PORT, or https:// when it serves TLS.
  std::string url() const;
  // A file holding the key given at construction: what a client of this emulator uses.
  const std::filesystem::path& key_file() const { return key_file_; }

  // One request to the emulator (the admin API under /_emulator/), over TLS when it serves it.
  HttpResult Admin(const std::string& method, const std::string& target,
                   const std::string& body = "");
  // Number of CML writes the emulator has served (GET /_emulator/calls); -1 on failure.
  int Writes();
  // GET /_emulator/calls and GET /_emulator/state; a discarded value on failure.
  nlohmann::json Calls();
  nlohmann::json State();

  // Ends the process at once (SIGKILL), the way a crashed or unplugged server goes: open
  // connections die, new ones are refused.
  void Kill();
  // Starts it again on the same port with the same options, keeping its objects when
  // `persist_state` is set. A non-empty `api_key` becomes the only accepted key (key_file() is
  // left alone, so clients go on sending the old one). False when it did not come up.
  bool Restart(const std::string& api_key = "");

  Process& process() { return *process_; }

 private:
  // Starts the process listening on `port` (0: any) with `key_file`; false when it failed.
  bool Launch(int port, const std::filesystem::path& key_file);

  EmulatorOptions options_;
  TempDir dir_;
  std::filesystem::path key_file_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  int restarts_ = 0;
};

// `cml-reconciler run` listening on a free loopback port (written to --port-file). `args` come
// after `run --listen 127.0.0.1:0 --port-file FILE`. port() is 0 when it did not start serving.
class Daemon {
 public:
  explicit Daemon(std::vector<std::string> args, std::map<std::string, std::string> env = {});

  int port() const { return port_; }
  Process& process() { return *process_; }
  // Everything it logged so far (stdout and stderr), for failure messages.
  std::string Output() const;

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// GET /api/v1/status of the daemon on `port`; a null value when it did not answer 200.
nlohmann::json DaemonStatus(int port);

// True when the daemon reports `models` models, each Synced and Healthy (suspended ones only
// need to be reported: they are observed, never changed).
bool AllSynced(int port, std::size_t models);

// Metric value of a series whose line starts with `prefix` (name and labels), or -1.
double MetricValue(const std::string& metrics, const std::string& prefix);

// The invariants CML must satisfy whatever happened to the daemon (design section 11: "no
// duplicates, ever"), checked on a GET /_emulator/state dump. Returns one line per violation:
//   - no two CML models with one name in a project;
//   - no two builds of a model that have not failed ("build failed", "timedout") for one
//     (registered_model_version_id, runtime_identifier);
//   - no two versions of a registered model for one MLflow run (register-from-run);
//   - when `settled` (the daemon reports everything Synced and Healthy, nothing in flight): at
//     most one running deployment per model. Running means deployed or on its way in or out: every
//     status but "stopped" and "failed" (so pending, deploying, deployed, stopping and anything
//     new). While a rollout is in flight the new deployment legitimately runs beside the old one
//     until it is deployed, so this one is only checked once settled.
std::vector<std::string> CmlInvariantViolations(const nlohmann::json& state, bool settled);

}  // namespace cmlr::e2e
