// Figure E1: list requests per second that cml-emulator serves over keep-alive on loopback.
// Starts the emulator in-process on its own thread (one io_context, as the binary runs it),
// creates some models, then hammers GET /api/v2/projects/{id}/models from a client thread over
// several keep-alive connections for a fixed time. Prints the rate (requests/s) on stdout.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/clock.h"
#include "common/http_server.h"
#include "emulator/emulator.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr char kKey[] = "bench-key";
constexpr char kProject[] = "abcd-1234-efgh-5678";

struct Counters {
  std::atomic<long> ok{0};
  std::atomic<long> failed{0};
};

net::awaitable<void> Hammer(unsigned short port, std::string target,
                            std::chrono::steady_clock::time_point until, Counters& counters) {
  beast::tcp_stream stream(co_await net::this_coro::executor);
  boost::system::error_code ec;
  co_await stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    ++counters.failed;
    co_return;
  }
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::authorization, std::string("Bearer ") + kKey);
  request.keep_alive(true);
  while (std::chrono::steady_clock::now() < until) {
    stream.expires_after(std::chrono::seconds(10));
    co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    http::response<http::string_body> response;
    co_await http::async_read(stream, buffer, response,
                              net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    if (response.result_int() == 200) {
      ++counters.ok;
    } else {
      ++counters.failed;
    }
  }
  if (ec) ++counters.failed;
}

net::awaitable<void> Post(unsigned short port, std::string target, std::string body) {
  beast::tcp_stream stream(co_await net::this_coro::executor);
  co_await stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                net::use_awaitable);
  http::request<http::string_body> request{http::verb::post, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::authorization, std::string("Bearer ") + kKey);
  request.body() = std::move(body);
  request.prepare_payload();
  co_await http::async_write(stream, request, net::use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  co_await http::async_read(stream, buffer, response, net::use_awaitable);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emulator_bench: list requests/s served by cml-emulator over keep-alive"};
  double seconds = 3;
  int connections = 4;
  int models = 10;
  app.add_option("--seconds", seconds, "how long to measure")->capture_default_str();
  app.add_option("--connections", connections, "keep-alive connections")->capture_default_str();
  app.add_option("--models", models, "models in the listed project")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  cmlr::common::RealClock clock;
  cmlr::emulator::EmulatorOptions options;
  options.api_keys = {kKey};
  auto emulator = cmlr::emulator::Emulator::Create(options, clock);
  if (!emulator.ok()) {
    std::fprintf(stderr, "emulator: %s\n", emulator.status().ToString().c_str());
    return 1;
  }
  net::io_context server_io(1);
  cmlr::emulator::Emulator* target = emulator->get();
  auto server = cmlr::common::HttpServer::Create(
      server_io.get_executor(), cmlr::common::HttpServerOptions{},
      [target](cmlr::common::HttpRequest r) { return target->Handle(std::move(r)); },
      &cmlr::emulator::Emulator::ErrorResponse);
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->Start();
  const unsigned short port = (*server)->port();
  auto guard = net::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });

  const std::string path = fmt::format("/api/v2/projects/{}/models", kProject);
  {
    net::io_context setup;
    for (int i = 0; i < models; ++i) {
      net::co_spawn(setup, Post(port, path, fmt::format(R"({{"name":"bench-model-{}"}})", i)),
                    net::detached);
    }
    setup.run();
  }

  Counters counters;
  net::io_context client_io(1);
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(seconds));
  for (int i = 0; i < connections; ++i) {
    net::co_spawn(client_io, Hammer(port, path + "?page_size=10", until, counters), net::detached);
  }
  client_io.run();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  net::post(server_io, [&] { (*server)->Stop(); });
  guard.reset();
  server_io.stop();
  server_thread.join();

  const double rate = counters.ok.load() / elapsed;
  std::fprintf(stderr, "ok=%ld failed=%ld elapsed=%.2fs connections=%d models=%d\n",
               counters.ok.load(), counters.failed.load(), elapsed, connections, models);
  std::printf("%.0f\n", counters.failed.load() == 0 ? rate : 0.0);
  return counters.failed.load() == 0 ? 0 : 1;
}
