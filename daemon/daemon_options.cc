#include "daemon/daemon_options.h"

#include <unistd.h>

#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::daemon {

void AddDaemonFlags(CLI::App& app, DaemonOptions& o, Command command) {
  auto* desired = app.add_option("--desired", o.desired, "desired-state file or directory")
                      ->envname("CMLR_DESIRED");
  if (command != Command::kDoctor) desired->required();
  app.add_option("--cml-url", o.cml_url, "https://<workspace domain> (else https://$CDSW_DOMAIN)")
      ->envname("CML_URL");
  app.add_option("--api-key-file", o.api_key_file,
                 "file holding the CML APIv2 key (else $CDSW_APIV2_KEY)")
      ->envname("CML_API_KEY_FILE");
  app.add_option("--ca-file", o.ca_file, "extra PEM trust anchors for TLS");
  app.add_flag("--insecure-http", o.insecure_http,
               "allow plain http:// to a non-loopback host (refused otherwise)");
  app.add_option("--api-qps", o.api_qps, "CML API calls per second (token bucket)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--api-burst", o.api_burst, "CML API burst")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--log-format", o.log_format, "text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  if (command == Command::kRun || command == Command::kApply) {
    app.add_option("--model-service-url", o.model_service_url,
                   "deployed models' endpoint for verification (else https://modelservice.<host "
                   "of --cml-url>, or --cml-url itself on loopback)")
        ->envname("CML_MODEL_SERVICE_URL");
    app.add_option("--model-api-key-file", o.model_api_key_file,
                   "bearer key for models with authentication on (else the API key)")
        ->envname("CML_MODEL_API_KEY_FILE");
  }
  if (command == Command::kRun) {
    app.add_option("--listen", o.listen, "HTTP endpoints (metrics, status)")->capture_default_str();
    app.add_option("--port-file", o.port_file, "write the bound HTTP port here (for --listen :0)");
    app.add_option("--resync", o.resync, "re-check synced models this often")
        ->capture_default_str();
    app.add_option("--concurrency", o.concurrency, "models reconciled at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    app.add_flag("--dry-run", o.dry_run, "observe and plan, never write");
    app.add_option("--notify-url", o.notify_urls,
                   "POST a notification here on status transitions (repeatable; a secret)");
    app.add_option("--notify-url-file", o.notify_url_file,
                   "file of notification URLs, one per line (# comments)")
        ->envname("CMLR_NOTIFY_URL_FILE");
    app.add_option("--notify-format", o.notify_format, "json or slack")
        ->capture_default_str()
        ->check(CLI::IsMember({"json", "slack"}));
    app.add_option("--admin-token-file", o.admin_token_file,
                   "bearer token the POST endpoints require (else loopback peers only)")
        ->envname("CMLR_ADMIN_TOKEN_FILE");
  }
  if (command != Command::kDoctor) {
    app.add_flag("--prune", o.prune,
                 "stop deployments of models removed from the desired state (never deletes)");
  }
  if (command == Command::kPlan || command == Command::kDoctor) {
    app.add_option("-o,--output", o.output, "output format")
        ->capture_default_str()
        ->check(command == Command::kPlan ? CLI::IsMember({"text", "json", "markdown"})
                                          : CLI::IsMember({"text", "json"}));
  }
  if (command == Command::kApply) {
    app.add_option("--timeout", o.timeout, "give up after this long")->capture_default_str();
  }
}

common::Status ValidateOptions(DaemonOptions& o, Command command) {
  auto resync = common::ParseDuration(o.resync);
  if (!resync.ok()) return resync.status().Annotate("--resync");
  if (*resync < std::chrono::seconds(1)) {
    return common::InvalidArgumentError("--resync: must be at least 1s");
  }
  o.resync_duration = *resync;
  auto timeout = common::ParseDuration(o.timeout);
  if (!timeout.ok()) return timeout.status().Annotate("--timeout");
  o.timeout_duration = *timeout;
  if (!o.ca_file.empty() && ::access(o.ca_file.c_str(), R_OK) != 0) {
    return common::InvalidArgumentError(fmt::format("--ca-file {}: cannot be read", o.ca_file));
  }
  const std::pair<std::string_view, const std::string*> files[] = {
      {"--notify-url-file", &o.notify_url_file}, {"--admin-token-file", &o.admin_token_file}};
  for (const auto& [flag, file] : files) {
    if (!file->empty() && ::access(file->c_str(), R_OK) != 0) {
      return common::InvalidArgumentError(fmt::format("{} {}: cannot be read", flag, *file));
    }
  }
  (void)command;
  return common::OkStatus();
}

}  // namespace cmlr::daemon
