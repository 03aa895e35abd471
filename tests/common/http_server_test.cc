#include "common/http_server.h"
#include "common/time_format.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace cmlr::common {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

net::awaitable<std::optional<HttpResponse>> Echo(HttpRequest request) {
  if (request.target() == "/reset") co_return std::nullopt;
  if (request.target() == "/throw") throw std::runtime_error("boom");
  HttpResponse response{http::status::ok, 11};
  response.body() = std::string(request.method_string()) + " " + std::string(request.target()) +
                    " " + request.body();
  co_return response;
}

struct Exchange {
  boost::system::error_code ec;
  std::vector<HttpResponse> responses;
};

// Sends `requests` one after another on one keep-alive connection and records the answers.
net::awaitable<void> Send(unsigned short port, std::vector<HttpRequest> requests, Exchange& out) {
  beast::tcp_stream stream(co_await net::this_coro::executor);
  stream.expires_after(std::chrono::seconds(10));
  co_await stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                net::redirect_error(net::use_awaitable, out.ec));
  if (out.ec) co_return;
  beast::flat_buffer buffer;
  for (HttpRequest& request : requests) {
    request.set(http::field::host, "127.0.0.1");
    request.prepare_payload();
    co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, out.ec));
    if (out.ec) co_return;
    HttpResponse response;
    co_await http::async_read(stream, buffer, response,
                              net::redirect_error(net::use_awaitable, out.ec));
    if (out.ec) co_return;
    out.responses.push_back(std::move(response));
  }
}

HttpRequest Get(std::string target) { return HttpRequest{http::verb::get, target, 11}; }

class HttpServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<HttpServer> StartServer(HttpServerOptions options = {}) {
    auto server = HttpServer::Create(io_.get_executor(), std::move(options), Echo);
    EXPECT_TRUE(server.ok()) << server.status();
    (*server)->Start();
    return std::move(server).value();
  }

  net::io_context io_;
};

// Verifies that several requests are answered on one keep-alive connection, on a port-0 bind.
TEST_F(HttpServerTest, ServesKeepAliveRequests) {
  auto server = StartServer();
  ASSERT_NE(server->port(), 0);
  Exchange exchange;
  HttpRequest post{http::verb::post, "/b", 11};
  post.body() = "payload";
  net::co_spawn(io_, Send(server->port(), {Get("/a"), post, Get("/c")}, exchange),
                [&](std::exception_ptr) { server->Stop(); });
  io_.run();
  ASSERT_FALSE(exchange.ec) << exchange.ec.message();
  ASSERT_EQ(exchange.responses.size(), 3u);
  EXPECT_EQ(exchange.responses[0].body(), "GET /a ");
  EXPECT_EQ(exchange.responses[1].body(), "POST /b payload");
  EXPECT_TRUE(exchange.responses[2].keep_alive());
  // Every answer carries a Date (clients such as `doctor` compare clocks with it).
  EXPECT_TRUE(ParseHttpDate(exchange.responses[0][http::field::date]).ok())
      << exchange.responses[0][http::field::date];
}

// Verifies that a body over the limit is refused with 413 before the handler sees it.
TEST_F(HttpServerTest, RefusesOversizedBody) {
  auto server = StartServer({.max_body_bytes = 16});
  Exchange exchange;
  HttpRequest post{http::verb::post, "/big", 11};
  post.body() = std::string(17, 'x');
  net::co_spawn(io_, Send(server->port(), {post}, exchange),
                [&](std::exception_ptr) { server->Stop(); });
  io_.run();
  ASSERT_EQ(exchange.responses.size(), 1u);
  EXPECT_EQ(exchange.responses[0].result_int(), 413);
  EXPECT_FALSE(exchange.responses[0].keep_alive());
}

// Verifies that a handler's nullopt resets the connection and an exception becomes a 500.
TEST_F(HttpServerTest, ResetsOnNulloptAndAnswers500OnException) {
  auto server = StartServer();
  Exchange reset, thrown;
  int done = 0;
  auto finish = [&](std::exception_ptr) {
    if (++done == 2) server->Stop();
  };
  net::co_spawn(io_, Send(server->port(), {Get("/reset")}, reset), finish);
  net::co_spawn(io_, Send(server->port(), {Get("/throw")}, thrown), finish);
  io_.run();
  EXPECT_TRUE(reset.ec);
  EXPECT_TRUE(reset.responses.empty());
  ASSERT_EQ(thrown.responses.size(), 1u);
  EXPECT_EQ(thrown.responses[0].result_int(), 500);
}

// Verifies that garbage instead of HTTP gets a 400 and the connection is closed.
TEST_F(HttpServerTest, AnswersMalformedRequestWith400) {
  auto server = StartServer();
  std::string answer;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await socket.async_connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()), net::use_awaitable);
        co_await net::async_write(socket, net::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")),
                                  net::use_awaitable);
        boost::system::error_code ec;
        co_await net::async_read(socket, net::dynamic_buffer(answer),
                                 net::redirect_error(net::use_awaitable, ec));
      },
      [&](std::exception_ptr) { server->Stop(); });
  io_.run();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
}

// Verifies that a client that sends nothing is dropped after the read deadline.
TEST_F(HttpServerTest, DropsStuckClientAfterReadTimeout) {
  auto server = StartServer({.read_timeout = std::chrono::milliseconds(50)});
  boost::system::error_code read_error;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await socket.async_connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()), net::use_awaitable);
        char byte;
        co_await socket.async_read_some(net::buffer(&byte, 1),
                                        net::redirect_error(net::use_awaitable, read_error));
      },
      [&](std::exception_ptr) { server->Stop(); });
  io_.run();
  EXPECT_TRUE(read_error);  // closed by the server, not answered
  EXPECT_EQ(server->connections(), 0u);
}

// Verifies that Stop() closes idle keep-alive connections so the io_context can finish.
TEST_F(HttpServerTest, StopClosesIdleConnections) {
  auto server = StartServer();
  Exchange exchange;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        beast::tcp_stream stream(io_);
        co_await stream.async_connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()), net::use_awaitable);
        HttpRequest request = Get("/x");
        request.set(http::field::host, "h");
        co_await http::async_write(stream, request, net::use_awaitable);
        beast::flat_buffer buffer;
        HttpResponse response;
        co_await http::async_read(stream, buffer, response, net::use_awaitable);
        EXPECT_EQ(server->connections(), 1u);
        server->Stop();
        char byte;
        co_await stream.async_read_some(net::buffer(&byte, 1),
                                        net::redirect_error(net::use_awaitable, exchange.ec));
      },
      net::detached);
  io_.run();  // returns only when the server let go of the idle connection
  EXPECT_TRUE(exchange.ec);
  EXPECT_EQ(server->connections(), 0u);
}

// Verifies that bad listen addresses and half-configured TLS are refused at Create().
TEST_F(HttpServerTest, RejectsBadConfiguration) {
  for (const char* listen : {"nocolon", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:abc"}) {
    auto server = HttpServer::Create(io_.get_executor(), {.listen = listen}, Echo);
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument) << listen;
  }
  auto half_tls = HttpServer::Create(io_.get_executor(), {.tls_cert_file = "/nonexistent"}, Echo);
  EXPECT_EQ(half_tls.status().code(), StatusCode::kInvalidArgument);
  auto missing = HttpServer::Create(
      io_.get_executor(), {.tls_cert_file = "/nonexistent", .tls_key_file = "/nonexistent"}, Echo);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
}

// Verifies HTTPS with a certificate generated for the test.
TEST_F(HttpServerTest, ServesTls) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("cmlr-tls-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl CLI is needed (scripts/install-deps)";
  auto server = StartServer({.tls_cert_file = cert, .tls_key_file = key});
  ASSERT_TRUE(server->tls());
  std::string body;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        net::ssl::context context(net::ssl::context::tls_client);
        context.load_verify_file(cert);
        context.set_verify_mode(net::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> stream(io_, context);
        co_await beast::get_lowest_layer(stream).async_connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()), net::use_awaitable);
        co_await stream.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
        HttpRequest request = Get("/secure");
        request.set(http::field::host, "localhost");
        co_await http::async_write(stream, request, net::use_awaitable);
        beast::flat_buffer buffer;
        HttpResponse response;
        co_await http::async_read(stream, buffer, response, net::use_awaitable);
        body = response.body();
      },
      [&](std::exception_ptr e) {
        server->Stop();
        if (e) std::rethrow_exception(e);
      });
  io_.run();
  std::filesystem::remove_all(dir);
  EXPECT_EQ(body, "GET /secure ");
}

}  // namespace
}  // namespace cmlr::common
