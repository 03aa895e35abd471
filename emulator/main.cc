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

Status WritePortFile(const std::string& path, unsigned short port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) return cmlr::common::InvalidArgumentError(fmt::format("cannot write {}", temp));
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return cmlr::common::InvalidArgumentError(fmt::format("cannot write {}", path));
  return cmlr::common::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cml-emulator: a local Cloudera Machine Learning API v2 server"};
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
  double build_seconds = 3;
  double deploy_seconds = 2;
  double error_rate = 0;
  double reset_rate = 0;
  double ambiguous_rate = 0;
  double throttle_rate = 0;
  std::uint64_t seed = 1;
  std::size_t history_limit = 0;
  bool strict = true;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--api-key", api_key, "accepted API v2 key (Authorization: Bearer)");
  app.add_option("--api-key-file", api_key_file, "file holding an accepted API v2 key");
  app.add_option("--fixture", fixture_file, "fixture YAML replacing the built-in default");
  app.add_option("--state", state_file, "persist the state in this file (atomic writes)");
  app.add_option("--seed", seed, "seed for ids and faults")->capture_default_str();
  app.add_option("--history-limit", history_limit,
                 "keep at most N stopped or failed deployments per model, dropping the ones that "
                 "ended first (0: keep all, as CML does)")
      ->capture_default_str();
  app.add_flag("--strict,!--no-strict", strict,
               "reject request body fields not in the request's definition")
      ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve HTTPS");
  app.add_option("--tls-key", tls_key, "PEM private key for --tls-cert");
  app.add_option("--build-seconds", build_seconds, "duration of a model build")
      ->capture_default_str();
  app.add_option("--deploy-seconds", deploy_seconds, "duration of a model deployment")
      ->capture_default_str();
  app.add_option("--latency", latency, "latency added to every API call (e.g. 5ms)")
      ->capture_default_str();
  app.add_option("--error-rate", error_rate, "fraction of calls answered 500 or 503");
  app.add_option("--reset-rate", reset_rate, "fraction of calls whose connection is reset");
  app.add_option("--ambiguous-rate", ambiguous_rate,
                 "fraction of writes applied and then answered 500");
  app.add_option("--throttle-rate", throttle_rate,
                 "fraction of calls answered 429 with Retry-After");
  app.add_option("--client-timeout", client_timeout,
                 "drop a client that takes longer to send a request, or idles longer")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Catch SIGINT/SIGTERM from here on (asio queues them until the wait below), so a signal sent
  // during start-up still ends in a clean exit.
  net::io_context ioc(1);
  net::signal_set signals(ioc, SIGINT, SIGTERM);

  auto logger = spdlog::stderr_color_mt("cml-emulator");
  logger->set_level(spdlog::level::from_str(log_level));
  auto fail = [&](const Status& status) {
    logger->error("Failed to start error={}", status.ToString());
    return 1;
  };

  cmlr::emulator::EmulatorOptions options;
  options.strict = strict;
  options.seed = seed;
  options.state_file = state_file;
  options.history_limit = history_limit;
  if (!api_key.empty()) options.api_keys.push_back(api_key);
  if (!api_key_file.empty()) {
    auto key = ReadFile(api_key_file);
    if (!key.ok()) return fail(key.status());
    std::string text = *key;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.empty()) return fail(cmlr::common::InvalidArgumentError(api_key_file + " is empty"));
    options.api_keys.push_back(text);
  }
  if (!fixture_file.empty()) {
    auto yaml = ReadFile(fixture_file);
    if (!yaml.ok()) return fail(yaml.status());
    options.fixture_yaml = *yaml;
    options.fixture_name = fixture_file;
  }
  auto build = Seconds(build_seconds, "--build-seconds");
  auto deploy = Seconds(deploy_seconds, "--deploy-seconds");
  auto parsed_latency = cmlr::common::ParseDuration(latency);
  if (!build.ok()) return fail(build.status());
  if (!deploy.ok()) return fail(deploy.status());
  if (!parsed_latency.ok()) return fail(parsed_latency.status().Annotate("--latency"));
  auto parsed_timeout = cmlr::common::ParseDuration(client_timeout);
  if (!parsed_timeout.ok()) return fail(parsed_timeout.status().Annotate("--client-timeout"));
  options.timings = {.build = *build, .deploy = *deploy};
  options.faults.latency = *parsed_latency;
  options.faults.error_rate = error_rate;
  options.faults.reset_rate = reset_rate;
  options.faults.ambiguous_rate = ambiguous_rate;
  options.faults.throttle_rate = throttle_rate;
  options.access_log = [logger](std::string_view method, std::string_view target, int status) {
    logger->debug("Served request method={} target={} status={}", method, target, status);
  };

  cmlr::common::RealClock clock;
  auto emulator = cmlr::emulator::Emulator::Create(std::move(options), clock);
  if (!emulator.ok()) return fail(emulator.status());
  if (api_key.empty() && api_key_file.empty()) {
    logger->warn("Started without --api-key or --api-key-file; only fixture keys are accepted");
  }

  cmlr::common::HttpServerOptions server_options{.listen = listen,
                                                 .read_timeout = *parsed_timeout,
                                                 .tls_cert_file = tls_cert,
                                                 .tls_key_file = tls_key};
  cmlr::emulator::Emulator* handler_target = emulator->get();
  auto server = cmlr::common::HttpServer::Create(
      ioc.get_executor(), server_options,
      [handler_target](cmlr::common::HttpRequest request) {
        return handler_target->Handle(std::move(request));
      },
      &cmlr::emulator::Emulator::ErrorResponse);
  if (!server.ok()) return fail(server.status());
  (*server)->Start();
  if (!port_file.empty()) {
    const Status written = WritePortFile(port_file, (*server)->port());
    if (!written.ok()) return fail(written);
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << fmt::format("cml-emulator listening on {}://{}:{}",
                           (*server)->tls() ? "https" : "http", host, (*server)->port())
            << std::endl;

  net::steady_timer drain(ioc);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // After Stop(), requests in progress may finish (up to 5 s); then the loop ends.
  std::function<void()> wait_for_drain = [&] {
    if ((*server)->connections() == 0 || std::chrono::steady_clock::now() >= give_up) {
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
    (*server)->Stop();
    wait_for_drain();
  });
  ioc.run();
  logger->info("Stopped");
  return 0;
}
