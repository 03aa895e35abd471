#include "daemon/cli_commands.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "api/http_transport.h"
#include "common/duration.h"
#include "daemon/daemon_client.h"
#include "daemon/status_table.h"

namespace cmlr::daemon {

using nlohmann::json;

namespace {

constexpr std::string_view kProgram = "cml-reconciler";

// A CLI11 check that the value is a duration common::ParseDuration reads.
CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto parsed = common::ParseDuration(value);
        return parsed.ok() ? "" : parsed.status().message();
      },
      "DURATION");
}

std::string Join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) {
    if (!text.empty()) text += " ";
    text += item;
  }
  return text;
}

common::StatusOr<std::unique_ptr<DaemonClient>> Connect(const ClientCommandOptions& options,
                                                        bool with_token) {
  DaemonClientOptions client_options;
  if (with_token && !options.admin_token_file.empty()) {
    auto token = ReadAdminToken(options.admin_token_file);
    if (!token.ok()) return token.status();
    client_options.admin_token = std::move(token).value();
  }
  return DaemonClient::Create(options.url, std::move(client_options));
}

// The advice for a refused POST: what the daemon wants and how to give it.
std::string AuthAdvice(const common::Status& error, const ClientCommandOptions& options) {
  if (error.code() == common::StatusCode::kUnauthenticated) {
    return options.admin_token_file.empty()
               ? "The daemon requires an admin token: pass the file holding its "
                 "--admin-token-file token with --admin-token-file (or CMLR_ADMIN_TOKEN_FILE)."
               : fmt::format(
                     "The daemon rejected the token in {}: it must hold the same token "
                     "as the daemon's --admin-token-file.",
                     options.admin_token_file);
  }
  if (error.code() == common::StatusCode::kPermissionDenied) {
    return "Without --admin-token-file the daemon accepts these requests from loopback only: "
           "run this on the daemon's host (or through a port-forward), or start the daemon "
           "with --admin-token-file and pass the same token here with --admin-token-file.";
  }
  return "";
}

int Post(const ClientCommandOptions& options, std::string_view command, const std::string& path,
         const std::optional<std::string>& model, std::ostream& out, std::ostream& err) {
  auto client = Connect(options, /*with_token=*/true);
  if (!client.ok()) {
    err << kProgram << " " << command << ": " << client.status().message() << "\n";
    return 1;
  }
  auto answer = (*client)->Post(path);
  if (!answer.ok()) {
    const common::Status& error = answer.status();
    if (error.code() == common::StatusCode::kNotFound && model) {
      err << kProgram << " " << command << ": no model named " << *model << " at the daemon at "
          << options.url << "\n";
      return 1;
    }
    err << kProgram << " " << command << ": " << error.message() << "\n";
    if (const std::string advice = AuthAdvice(error, options); !advice.empty()) {
      err << advice << "\n";
    }
    return 1;
  }
  if (answer->is_object() && answer->contains("retrying")) {
    out << "Retrying " << answer->value("retrying", std::string()) << "\n";
  } else if (answer->is_object() && answer->contains("queued") && (*answer)["queued"].is_array()) {
    std::vector<std::string> queued;
    for (const json& name : (*answer)["queued"]) {
      if (name.is_string()) queued.push_back(name.get<std::string>());
    }
    out << "Queued for reconciliation: " << (queued.empty() ? "no models" : Join(queued)) << "\n";
  } else {
    out << "Accepted\n";
  }
  return 0;
}

}  // namespace

void AddClientFlags(CLI::App& app, ClientCommandOptions& o, ClientCommand command) {
  app.add_option("--url", o.url, "the daemon's HTTP endpoint")
      ->envname("CMLR_URL")
      ->capture_default_str();
  switch (command) {
    case ClientCommand::kStatus:
      app.add_option("NAME", o.names, "one model: its row and details")->expected(0, 1);
      app.add_option("-o,--output", o.output, "table or json (the daemon's JSON)")
          ->capture_default_str()
          ->check(CLI::IsMember({"table", "json"}));
      break;
    case ClientCommand::kWait:
      app.add_option("NAME", o.names, "the models to wait for (default: all)");
      app.add_option("--for", o.wait_for, "synced, or healthy (Synced and Healthy)")
          ->capture_default_str()
          ->check(CLI::IsMember({"synced", "healthy"}));
      app.add_option("--timeout", o.timeout, "give up (exit 1) after this long")
          ->capture_default_str()
          ->check(DurationValidator());
      app.add_option("--revision", o.revision,
                     "count only statuses computed from this source revision (a commit)");
      break;
    case ClientCommand::kRetry:
    case ClientCommand::kReconcile: {
      auto* name =
          app.add_option("NAME", o.names,
                         command == ClientCommand::kRetry ? "the stalled model to retry"
                                                          : "one model (default: all of them)");
      name->expected(command == ClientCommand::kRetry ? 1 : 0, 1);
      if (command == ClientCommand::kRetry) name->required();
      app.add_option("--admin-token-file", o.admin_token_file,
                     "file holding the daemon's admin token (sent as a bearer key)")
          ->envname("CMLR_ADMIN_TOKEN_FILE");
      break;
    }
  }
}

common::StatusOr<std::string> ReadAdminToken(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return common::InvalidArgumentError(fmt::format("{}: cannot be read", path));
  std::string token((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!token.empty() && blank(token.back())) token.pop_back();
  std::size_t start = 0;
  while (start < token.size() && blank(token[start])) ++start;
  token.erase(0, start);
  if (token.empty()) return common::InvalidArgumentError(fmt::format("{}: is empty", path));
  return token;
}

int RunStatus(const ClientCommandOptions& options, std::ostream& out, std::ostream& err) {
  auto client = Connect(options, /*with_token=*/false);
  if (!client.ok()) {
    err << kProgram << " status: " << client.status().message() << "\n";
    return 1;
  }
  const std::optional<std::string> name =
      options.names.empty() ? std::nullopt : std::optional(options.names.front());
  auto answer = (*client)->Get(name ? "/api/v1/status/" + api::PercentEncode(*name)
                                    : std::string("/api/v1/status"));
  if (!answer.ok()) {
    if (name && answer.status().code() == common::StatusCode::kNotFound) {
      err << kProgram << " status: no model named " << *name << " at the daemon at " << options.url
          << "\n";
    } else {
      err << kProgram << " status: " << answer.status().message() << "\n";
    }
    return 1;
  }
  if (options.output == "json") {
    out << answer->dump(2) << "\n";
  } else if (name) {
    out << FormatStatusTable(json{{"models", json::array({*answer})}}) << "\n"
        << FormatStatusDetail(*answer);
  } else {
    out << FormatStatusTable(*answer);
  }
  return 0;
}

int RunWait(const ClientCommandOptions& options, std::ostream& out, std::ostream& err) {
  auto timeout = common::ParseDuration(options.timeout);
  if (!timeout.ok()) {
    err << kProgram << " wait: --timeout: " << timeout.status().message() << "\n";
    return 1;
  }
  auto client = Connect(options, /*with_token=*/false);
  if (!client.ok()) {
    err << kProgram << " wait: " << client.status().message() << "\n";
    return 1;
  }
  common::RealClock clock;
  WaitLoopOptions loop{
      .request = {.names = options.names,
                  .mode = options.wait_for == "synced" ? WaitFor::kSynced : WaitFor::kHealthy,
                  .revision =
                      options.revision.empty() ? std::nullopt : std::optional(options.revision)},
      .timeout = *timeout,
      .interval = std::chrono::seconds(1)};
  return RunWaitLoop(loop, {.fetch = [&client] { return (*client)->Get("/api/v1/status"); },
                            .clock = &clock,
                            .sleep = [](common::Duration d) { std::this_thread::sleep_for(d); },
                            .out = &out,
                            .err = &err});
}

int RunRetry(const ClientCommandOptions& options, std::ostream& out, std::ostream& err) {
  const std::string& name = options.names.at(0);
  return Post(options, "retry", "/api/v1/models/" + api::PercentEncode(name) + "/retry", name, out,
              err);
}

int RunReconcile(const ClientCommandOptions& options, std::ostream& out, std::ostream& err) {
  if (options.names.empty()) return Post(options, "reconcile", "/api/v1/reconcile", {}, out, err);
  const std::string& name = options.names.front();
  return Post(options, "reconcile", "/api/v1/reconcile?name=" + api::PercentEncode(name), name, out,
              err);
}

int ParseCommandLine(CLI::App& app, int argc, const char* const* argv, const int& exit_code,
                     std::ostream& out, std::ostream& err) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(error, out, err);
    }
    // The command the user chose, for the message and the hint.
    const CLI::App* command = &app;
    while (!command->get_subcommands().empty()) command = command->get_subcommands().front();
    std::string prefix(kProgram);
    for (const CLI::App* at = command; at != &app && at != nullptr; at = at->get_parent()) {
      prefix.insert(kProgram.size(), " " + at->get_name());
    }
    // CLI11 reports a missing required flag before an unknown one; the unknown one is the
    // real mistake (a typo of the required flag, often), so it goes first.
    const std::vector<std::string> extras = app.remaining(/*recurse=*/true);
    std::string problem;
    if (!extras.empty() && command == &app && !extras.front().starts_with('-')) {
      problem = fmt::format("unknown command \"{}\"", extras.front());
    } else if (!extras.empty()) {
      const bool flag = extras.front().starts_with('-');
      problem = fmt::format("{}{} {}", flag ? "unknown flag" : "unexpected argument",
                            extras.size() > 1 ? "s" : "", Join(extras));
    } else {
      problem = error.what();
    }
    err << prefix << ": " << problem << "\nRun '" << prefix << " --help' for usage.\n";
    return 1;
  }
  return exit_code;
}

}  // namespace cmlr::daemon
