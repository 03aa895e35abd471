// cml-emulator: a local CML API v2 server for the demo, the tests and the benchmarks.

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/atomic_file.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/http_server.h"
#include "emulator/emulator.h"

namespace {

namespace net = boost::asio;
using cmlr::common::Status;
using cmlr::common::StatusOr;

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return cmlr::common::InvalidArgumentError(fmt::format("cannot read {}", path));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

StatusOr<cmlr::common::Duration> Seconds(double seconds, const char* flag) {
  if (!(seconds >= 0) || seconds > 1e6) {
    return cmlr::common::InvalidArgumentError(fmt::format("{}: must be >= 0", flag));
  }
  return std::chrono::duration_cast<cmlr::common::Duration>(std::chrono::duration<double>(seconds));
}

using cmlr::common::Duration;
using cmlr::emulator::EmulatorOptions;
using Logger = std::shared_ptr<spdlog::logger>;

struct Flags {
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  std::string api_key;
  std::string api_key_file;
  std::string fixture_file;
  std::string state_file;
  std::string tls_cert;
  std::string tls_key;
  std::string latency = "0s";
  std::string client_timeout = "30s";
  std::string log_level = "info";
  std::string quirks;
  double build_seconds = 3;
  double deploy_seconds = 2;
  double error_rate = 0;
  double reset_rate = 0;
  double ambiguous_rate = 0;
  double throttle_rate = 0;
  std::uint64_t seed = 1;
  std::size_t history_limit = 0;
  bool strict = true;
};

void AddServerFlags(CLI::App& app, Flags& f) {
  app.add_option("--listen", f.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--port-file", f.port_file, "write the bound port to this file once listening");
  app.add_option("--api-key", f.api_key, "accepted API v2 key (Authorization: Bearer)");
  app.add_option("--api-key-file", f.api_key_file, "file holding an accepted API v2 key");
  app.add_option("--fixture", f.fixture_file, "fixture YAML replacing the built-in default");
  app.add_option("--state", f.state_file, "persist the state in this file (atomic writes)");
  app.add_option("--seed", f.seed, "seed for ids and faults")->capture_default_str();
  app.add_option("--history-limit", f.history_limit,
                 "keep at most N stopped or failed deployments per model, dropping the ones that "
                 "ended first (0: keep all, as CML does)")
      ->capture_default_str();
  app.add_option("--tls-cert", f.tls_cert, "PEM certificate chain: serve HTTPS");
  app.add_option("--tls-key", f.tls_key, "PEM private key for --tls-cert");
  app.add_option("--client-timeout", f.client_timeout,
                 "drop a client that takes longer to send a request, or idles longer")
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
}

void AddBehaviourFlags(CLI::App& app, Flags& f) {
  app.add_flag("--strict,!--no-strict", f.strict,
               "reject request body fields not in the request's definition")
      ->capture_default_str();
  app.add_option("--quirks", f.quirks,
                 "comma-separated real-CML behaviours to turn on (design section 4a): "
                 "list-lag=DURATION, forbidden-for-missing, sparse-lists, patch-replaces, "
                 "nan-metrics, zero-times, lenient, gateway-v1-codes, registration=DURATION, "
                 "succeeded-phase; e.g. --quirks sparse-lists,list-lag=5s");
  app.add_option("--build-seconds", f.build_seconds, "duration of a model build")
      ->capture_default_str();
  app.add_option("--deploy-seconds", f.deploy_seconds, "duration of a model deployment")
      ->capture_default_str();
  app.add_option("--latency", f.latency, "latency added to every API call (e.g. 5ms)")
      ->capture_default_str();
  app.add_option("--error-rate", f.error_rate, "fraction of calls answered 500 or 503");
  app.add_option("--reset-rate", f.reset_rate, "fraction of calls whose connection is reset");
  app.add_option("--ambiguous-rate", f.ambiguous_rate,
                 "fraction of writes applied and then answered 500");
  app.add_option("--throttle-rate", f.throttle_rate,
                 "fraction of calls answered 429 with Retry-After");
}

StatusOr<std::string> ReadKeyFile(const std::string& path) {
  CMLR_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return cmlr::common::InvalidArgumentError(path + " is empty");
  return text;
}

// Everything of EmulatorOptions but the access log.
StatusOr<EmulatorOptions> OptionsFrom(const Flags& f) {
  EmulatorOptions options{.strict = f.strict,
                          .seed = f.seed,
                          .state_file = f.state_file,
                          .history_limit = f.history_limit};
  auto quirks = cmlr::emulator::ParseQuirks(f.quirks);
  if (!quirks.ok()) return quirks.status().Annotate("--quirks");
  options.quirks = *quirks;
  if (!f.api_key.empty()) options.api_keys.push_back(f.api_key);
  if (!f.api_key_file.empty()) {
    CMLR_ASSIGN_OR_RETURN(std::string key, ReadKeyFile(f.api_key_file));
    options.api_keys.push_back(std::move(key));
  }
  if (!f.fixture_file.empty()) {
    CMLR_ASSIGN_OR_RETURN(options.fixture_yaml, ReadFile(f.fixture_file));
    options.fixture_name = f.fixture_file;
  }
  CMLR_ASSIGN_OR_RETURN(const Duration build, Seconds(f.build_seconds, "--build-seconds"));
  CMLR_ASSIGN_OR_RETURN(const Duration deploy, Seconds(f.deploy_seconds, "--deploy-seconds"));
  auto latency = cmlr::common::ParseDuration(f.latency);
  if (!latency.ok()) return latency.status().Annotate("--latency");
  options.timings = {.build = build, .deploy = deploy};
  options.faults.latency = *latency;
  options.faults.error_rate = f.error_rate;
  options.faults.reset_rate = f.reset_rate;
  options.faults.ambiguous_rate = f.ambiguous_rate;
  options.faults.throttle_rate = f.throttle_rate;
  return options;
}

// Serves until SIGINT or SIGTERM; requests in progress then get up to 5 s to finish.
int Serve(const Flags& f, net::io_context& ioc, net::signal_set& signals,
          cmlr::common::HttpServer& server, const Logger& logger) {
  net::steady_timer drain(ioc);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::function<void()> wait_for_drain = [&] {
    if (server.connections() == 0 || std::chrono::steady_clock::now() >= give_up) {
      ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(10));
    drain.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) wait_for_drain();
    });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    logger->info("Stopping signal={}", signal);
    server.Stop();
    wait_for_drain();
  });
  const std::string host = f.listen.substr(0, f.listen.rfind(':'));
  std::cout << fmt::format("cml-emulator listening on {}://{}:{}", server.tls() ? "https" : "http",
                           host, server.port())
            << std::endl;
  ioc.run();
  logger->info("Stopped");
  return 0;
}

// Creates the emulator and its server, then serves; 1 when either cannot start.
int Run(const Flags& f, EmulatorOptions options, net::io_context& ioc, net::signal_set& signals,
        const Logger& logger) {
  auto fail = [&](const Status& status) {
    logger->error("Failed to start error={}", status.ToString());
    return 1;
  };
  auto timeout = cmlr::common::ParseDuration(f.client_timeout);
  if (!timeout.ok()) return fail(timeout.status().Annotate("--client-timeout"));
  cmlr::common::RealClock clock;
  auto emulator = cmlr::emulator::Emulator::Create(std::move(options), clock);
  if (!emulator.ok()) return fail(emulator.status());
  if (f.api_key.empty() && f.api_key_file.empty()) {
    logger->warn("Started without --api-key or --api-key-file; only fixture keys are accepted");
  }
  cmlr::common::HttpServerOptions server_options{.listen = f.listen,
                                                 .read_timeout = *timeout,
                                                 .tls_cert_file = f.tls_cert,
                                                 .tls_key_file = f.tls_key};
  cmlr::emulator::Emulator* handler_target = emulator->get();
  auto server = cmlr::common::HttpServer::Create(
      ioc.get_executor(), server_options,
      [handler_target](cmlr::common::HttpRequest request) {
        return handler_target->Handle(std::move(request));
      },
      &cmlr::emulator::Emulator::ErrorResponse);
  if (!server.ok()) return fail(server.status());
  (*server)->Start();
  if (!f.port_file.empty()) {
    const Status written =
        cmlr::common::WriteFileAtomically(f.port_file, std::to_string((*server)->port()) + "\n");
    if (!written.ok()) return fail(written);
  }
  return Serve(f, ioc, signals, **server, logger);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cml-emulator: a local Cloudera Machine Learning API v2 server"};
  Flags flags;
  AddServerFlags(app, flags);
  AddBehaviourFlags(app, flags);
  CLI11_PARSE(app, argc, argv);

  // Catch SIGINT/SIGTERM from here on (asio queues them until the wait in Serve), so a signal
  // sent during start-up still ends in a clean exit.
  net::io_context ioc(1);
  net::signal_set signals(ioc, SIGINT, SIGTERM);

  auto logger = spdlog::stderr_color_mt("cml-emulator");
  logger->set_level(spdlog::level::from_str(flags.log_level));
  auto options = OptionsFrom(flags);
  if (!options.ok()) {
    logger->error("Failed to start error={}", options.status().ToString());
    return 1;
  }
  options->access_log = [logger](std::string_view method, std::string_view target, int status) {
    logger->debug("Served request method={} target={} status={}", method, target, status);
  };
  return Run(flags, std::move(*options), ioc, signals, logger);
}
