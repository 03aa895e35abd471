#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::daemon {

// The flags of design section 6 (contract), shared by run, plan and apply.
struct DaemonOptions {
  std::vector<std::string> desired;  // --desired (env CMLR_DESIRED)
  std::string cml_url;               // --cml-url (env CML_URL; else https://$CDSW_DOMAIN)
  std::string api_key_file;          // --api-key-file (env CML_API_KEY_FILE; else $CDSW_APIV2_KEY)
  std::string ca_file;
  std::string model_service_url;   // --model-service-url (env CML_MODEL_SERVICE_URL)
  std::string model_api_key_file;  // --model-api-key-file (env CML_MODEL_API_KEY_FILE)
  bool insecure_http = false;
  std::string listen = "127.0.0.1:9464";
  std::string port_file;
  std::string resync = "60s";
  int concurrency = 8;
  double api_qps = 10;
  int api_burst = 20;
  bool dry_run = false;
  bool prune = false;
  std::string timeout = "30m";
  std::string log_format = "text";
  std::string log_level = "info";
  std::string output = "text";           // plan: text|json|markdown; doctor: text|json
  std::vector<std::string> notify_urls;  // --notify-url, repeatable (design 12)
  std::string notify_url_file;           // --notify-url-file: one URL per line (secrets)
  std::string notify_format = "json";    // --notify-format json|slack
  std::string admin_token_file;          // --admin-token-file (design 7)

  // Parsed forms, filled by Validate().
  common::Duration resync_duration{};
  common::Duration timeout_duration{};
};

enum class Command { kRun, kPlan, kApply, kDoctor };

// Registers the flags `command` takes on `app`, with their environment fallbacks.
void AddDaemonFlags(CLI::App& app, DaemonOptions& options, Command command);

// Checks values CLI11 cannot (durations, ranges, readable files) and parses durations.
// INVALID_ARGUMENT with a message naming the flag.
[[nodiscard]] common::Status ValidateOptions(DaemonOptions& options, Command command);

}  // namespace cmlr::daemon
