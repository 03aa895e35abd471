#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/status.h"
#include "daemon/wait_command.h"

namespace cmlr::daemon {

inline constexpr char kDefaultDaemonUrl[] = "http://127.0.0.1:9464";

// The flags of the commands that talk to a running daemon (design section 6): `status`,
// `wait`, `retry` and `reconcile`.
struct ClientCommandOptions {
  std::string url = kDefaultDaemonUrl;  // --url (env CMLR_URL)
  std::string admin_token_file;         // retry, reconcile: --admin-token-file (env
                                        // CMLR_ADMIN_TOKEN_FILE)
  std::string output = "table";         // status: -o table|json
  std::vector<std::string> names;       // status [NAME], wait [NAME...], retry NAME, reconcile
                                        // [NAME]
  std::string wait_for = "healthy";     // wait: --for synced|healthy
  std::string timeout = "10m";          // wait: --timeout
  std::string revision;                 // wait: --revision (empty: any)
};

enum class ClientCommand { kStatus, kWait, kRetry, kReconcile };

// Registers the flags and positionals `command` takes on `app`, with their environment
// fallbacks and value checks (a bad value is a CLI11 usage error).
void AddClientFlags(CLI::App& app, ClientCommandOptions& options, ClientCommand command);

// `cml-reconciler status [NAME] [-o table|json]`: GET /api/v1/status (or /status/NAME) and
// print the table (with NAME: one row and a detail block) or the daemon's JSON, pretty
// printed. Exit 0, or 1 when the daemon cannot be reached or does not know NAME.
int RunStatus(const ClientCommandOptions& options, std::ostream& out, std::ostream& err);

// `cml-reconciler wait [NAME...]`: RunWaitLoop against the daemon, polling every second.
// Exit 0 ready, 1 timeout, 3 stalled.
int RunWait(const ClientCommandOptions& options, std::ostream& out, std::ostream& err);

// `cml-reconciler retry NAME` (POST /api/v1/models/NAME/retry) and `cml-reconciler reconcile
// [NAME]` (POST /api/v1/reconcile[?name=NAME]), sending the admin token as a bearer key when
// --admin-token-file is given. Exit 0 when the daemon accepted (2xx), 1 otherwise, with the
// daemon's error and, on 401/403, what to do about it.
int RunRetry(const ClientCommandOptions& options, std::ostream& out, std::ostream& err);
int RunReconcile(const ClientCommandOptions& options, std::ostream& out, std::ostream& err);

// The token in an admin token file, without surrounding white space. INVALID_ARGUMENT when it
// cannot be read or is empty.
[[nodiscard]] common::StatusOr<std::string> ReadAdminToken(const std::string& path);

// Parses the command line with `app` and runs the chosen subcommand's callback. Returns the
// exit code the process should have: 0 after --help or --version (printed to `out`), 1 for a
// usage error (an unknown command or flag, a bad value, a missing required flag or
// positional), printed to `err` as "cml-reconciler plan: <problem>" and a hint naming the
// command's --help; otherwise `exit_code` as the callback left it. Unknown flags and arguments
// are reported before missing required ones (CLI11 checks requirements first), so that
// `plan --bogus` names --bogus rather than a missing --desired.
int ParseCommandLine(CLI::App& app, int argc, const char* const* argv, const int& exit_code,
                     std::ostream& out, std::ostream& err);

}  // namespace cmlr::daemon
