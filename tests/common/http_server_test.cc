#include "common/http_server.h"
#include "common/time_format.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
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

// ---- streamed bodies ---------------------------------------------------------------------------

// What the streaming handler saw and made: every stream it returned and every context.
struct StreamingState {
  HttpStreamOptions options;
  std::vector<std::shared_ptr<HttpStream>> streams;
  std::vector<HttpRequestContext> contexts;
};

// "/stream" answers a stream the test produces by hand; anything else a plain body.
net::awaitable<std::optional<HttpReply>> Streaming(StreamingState* state, HttpRequest request,
                                                   HttpRequestContext context) {
  state->contexts.push_back(context);
  HttpReply reply;
  reply.response = HttpResponse{http::status::ok, 11};
  if (request.target() == "/stream") {
    reply.response.set(http::field::content_type, "text/event-stream");
    reply.stream = std::make_shared<HttpStream>(co_await net::this_coro::executor, state->options);
    state->streams.push_back(reply.stream);
  } else {
    reply.response.body() = "plain " + std::string(request.target());
  }
  co_return reply;
}

// Connects and sends "GET target" in `version` ("1.1" or "1.0"). The string_view parameters
// are for literals: no temporary that needs destruction in the callers' co_await (GCC 12).
net::awaitable<void> OpenStream(tcp::socket& socket, unsigned short port, std::string_view target,
                                std::string_view version) {
  co_await socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                net::use_awaitable);
  const std::string request =
      "GET " + std::string(target) + " HTTP/" + std::string(version) + "\r\nHost: h\r\n\r\n";
  co_await net::async_write(socket, net::buffer(request), net::use_awaitable);
}

// Reads into `received` until it contains `needle` (true) or the connection ends (false; `ec`
// says how).
net::awaitable<bool> ReadUntil(tcp::socket& socket, std::string& received, std::string_view needle,
                               boost::system::error_code& ec) {
  char data[4096];
  while (received.find(needle) == std::string::npos) {
    const std::size_t n = co_await socket.async_read_some(
        net::buffer(data), net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return false;
    received.append(data, n);
  }
  co_return true;
}

// The body of a complete chunked response, decoded by Beast.
std::string DecodeChunked(const std::string& raw) {
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(net::buffer(raw), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser.is_done());
  return parser.get().body();
}

class HttpServerStreamTest : public HttpServerTest {
 protected:
  std::unique_ptr<HttpServer> StartStreamingServer(HttpServerOptions options = {}) {
    auto server = HttpServer::Create(io_.get_executor(), std::move(options),
                                     [this](HttpRequest request, HttpRequestContext context) {
                                       return Streaming(&state_, std::move(request), context);
                                     });
    EXPECT_TRUE(server.ok()) << server.status();
    (*server)->Start();
    return std::move(server).value();
  }

  // Runs the loop until its work is done; fails the test and stops the loop if that takes
  // longer than 10 s (a hang, not a slow test). The client's completion calls Done().
  void RunWithWatchdog() {
    watchdog_.expires_after(std::chrono::seconds(10));
    watchdog_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      ADD_FAILURE() << "watchdog fired";
      io_.stop();
    });
    io_.run();
  }
  void Done() { watchdog_.cancel(); }

  StreamingState state_;
  net::steady_timer watchdog_{io_};
};

// Verifies that chunks reach the client in order while the producer is still producing, with
// chunked encoding, and that Close() ends the body cleanly; the handler sees the peer address.
TEST_F(HttpServerStreamTest, StreamsChunksInOrderWhileProducing) {
  auto server = StartStreamingServer();
  std::string received;
  bool second_before_push = true;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await OpenStream(socket, server->port(), "/stream", "1.1");
        boost::system::error_code ec;
        EXPECT_TRUE(co_await ReadUntil(socket, received, "\r\n\r\n", ec));
        EXPECT_EQ(state_.streams.size(), 1u);
        EXPECT_TRUE(state_.streams[0]->Push("data: first\n\n"));
        EXPECT_TRUE(co_await ReadUntil(socket, received, "first", ec));
        second_before_push = received.find("second") != std::string::npos;
        EXPECT_TRUE(state_.streams[0]->Push("data: second\n\n"));
        EXPECT_TRUE(co_await ReadUntil(socket, received, "second", ec));
        state_.streams[0]->Close();
        co_await ReadUntil(socket, received, "no such text", ec);
        EXPECT_EQ(ec, net::error::eof);
      },
      [&](std::exception_ptr e) {
        Done();
        server->Stop();
        if (e) std::rethrow_exception(e);
      });
  RunWithWatchdog();
  EXPECT_FALSE(second_before_push);
  EXPECT_NE(received.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << received;
  EXPECT_NE(received.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_EQ(received.find("Content-Length"), std::string::npos);
  EXPECT_EQ(DecodeChunked(received), "data: first\n\ndata: second\n\n");
  ASSERT_EQ(state_.contexts.size(), 1u);
  EXPECT_EQ(state_.contexts[0].remote_address, net::ip::make_address("127.0.0.1"));
  EXPECT_TRUE(state_.streams[0]->finished());
}

// Verifies that an HTTP/1.0 client gets the stream as a plain body that ends with the
// connection.
TEST_F(HttpServerStreamTest, StreamsToHttp10UntilClose) {
  auto server = StartStreamingServer();
  std::string received;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await OpenStream(socket, server->port(), "/stream", "1.0");
        boost::system::error_code ec;
        EXPECT_TRUE(co_await ReadUntil(socket, received, "\r\n\r\n", ec));
        EXPECT_TRUE(state_.streams[0]->Push("abc"));
        state_.streams[0]->Close();
        co_await ReadUntil(socket, received, "no such text", ec);
        EXPECT_EQ(ec, net::error::eof);
      },
      [&](std::exception_ptr e) {
        Done();
        server->Stop();
        if (e) std::rethrow_exception(e);
      });
  RunWithWatchdog();
  EXPECT_EQ(received.rfind("HTTP/1.0 200", 0), 0u) << received;
  EXPECT_EQ(received.find("chunked"), std::string::npos);
  EXPECT_EQ(received.substr(received.size() - 5), "\r\nabc");
}

// Verifies that an idle stream gets the keep-alive chunk after its interval.
TEST_F(HttpServerStreamTest, WritesKeepaliveWhenIdle) {
  state_.options = {.keepalive_interval = std::chrono::milliseconds(20),
                    .keepalive_chunk = ": ping\n\n"};
  auto server = StartStreamingServer();
  std::string received;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await OpenStream(socket, server->port(), "/stream", "1.1");
        boost::system::error_code ec;
        EXPECT_TRUE(co_await ReadUntil(socket, received, ": ping\n\n", ec));
      },
      [&](std::exception_ptr e) {
        Done();
        server->Stop();
        if (e) std::rethrow_exception(e);
      });
  RunWithWatchdog();
  EXPECT_NE(received.find(": ping\n\n"), std::string::npos);
}

// Verifies that Stop() ends an open stream at once (with the last chunk) so that the
// io_context can finish, and that the producer sees the stream finished.
TEST_F(HttpServerStreamTest, StopEndsOpenStreams) {
  auto server = StartStreamingServer();
  std::string received;
  boost::system::error_code end;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await OpenStream(socket, server->port(), "/stream", "1.1");
        EXPECT_TRUE(co_await ReadUntil(socket, received, "\r\n\r\n", end));
        EXPECT_TRUE(state_.streams[0]->Push("hello"));
        EXPECT_TRUE(co_await ReadUntil(socket, received, "hello", end));
        EXPECT_EQ(server->connections(), 1u);
        server->Stop();
        co_await ReadUntil(socket, received, "no such text", end);
      },
      [&](std::exception_ptr e) {
        Done();
        if (e) std::rethrow_exception(e);
      });
  RunWithWatchdog();  // returns only when the server let go of the stream's connection
  EXPECT_EQ(end, net::error::eof);
  EXPECT_EQ(DecodeChunked(received), "hello");
  EXPECT_TRUE(state_.streams[0]->aborted());
  EXPECT_FALSE(state_.streams[0]->Push("late"));
  EXPECT_EQ(server->connections(), 0u);
}

// Verifies that a client that stops reading is disconnected once the queued bytes pass the
// bound, the producer never waiting: Push() fails and the stream reports the overflow.
TEST_F(HttpServerStreamTest, DropsSlowReaderOverBufferBound) {
  state_.options = {.max_buffered_bytes = 64 * 1024};
  auto server = StartStreamingServer();
  std::size_t pushed = 0, received_bytes = 0;
  bool overflowed = false;
  boost::system::error_code end;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        socket.open(tcp::v4());
        socket.set_option(net::socket_base::receive_buffer_size(4096));
        co_await OpenStream(socket, server->port(), "/stream", "1.1");
        std::string header;
        EXPECT_TRUE(co_await ReadUntil(socket, header, "\r\n\r\n", end));
        received_bytes = header.size();
        // The client reads nothing more; the kernel's buffers fill, then the stream's queue.
        const std::string chunk(16 * 1024, 'x');
        while (pushed < (256u << 20)) {
          if (!state_.streams[0]->Push(chunk)) break;
          pushed += chunk.size();
          co_await net::post(io_, net::use_awaitable);  // let the server write
        }
        overflowed = state_.streams[0]->overflowed();
        char data[65536];
        for (;;) {
          const std::size_t n = co_await socket.async_read_some(
              net::buffer(data), net::redirect_error(net::use_awaitable, end));
          if (end) break;
          received_bytes += n;
        }
      },
      [&](std::exception_ptr e) {
        Done();
        server->Stop();
        if (e) std::rethrow_exception(e);
      });
  RunWithWatchdog();
  EXPECT_TRUE(overflowed);
  EXPECT_TRUE(end == net::error::eof || end == net::error::connection_reset) << end.message();
  EXPECT_LT(received_bytes, pushed);  // the queued rest was dropped, not delivered
  EXPECT_EQ(server->connections(), 0u);
}

// Verifies that other connections are served while a stream is open, and that a plain
// answer from the streaming handler works as before.
TEST_F(HttpServerStreamTest, ServesOtherConnectionsWhileStreaming) {
  auto server = StartStreamingServer();
  Exchange exchange;
  net::co_spawn(
      io_,
      [&]() -> net::awaitable<void> {
        tcp::socket socket(io_);
        co_await OpenStream(socket, server->port(), "/stream", "1.1");
        std::string header;
        boost::system::error_code ec;
        EXPECT_TRUE(co_await ReadUntil(socket, header, "\r\n\r\n", ec));
        std::vector<HttpRequest> requests = {Get("/a"), Get("/b")};
        auto sending = Send(server->port(), std::move(requests), exchange);
        co_await std::move(sending);
        EXPECT_FALSE(state_.streams[0]->finished());
      },
      [&](std::exception_ptr e) {
        Done();
        server->Stop();
        if (e) std::rethrow_exception(e);
      });
  RunWithWatchdog();
  ASSERT_FALSE(exchange.ec) << exchange.ec.message();
  ASSERT_EQ(exchange.responses.size(), 2u);
  EXPECT_EQ(exchange.responses[0].body(), "plain /a");
  EXPECT_EQ(exchange.responses[1].body(), "plain /b");
  EXPECT_TRUE(exchange.responses[1].keep_alive());
}

}  // namespace
}  // namespace cmlr::common
