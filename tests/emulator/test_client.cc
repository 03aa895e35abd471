#include "tests/emulator/test_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace cmlr::emulator::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct TestClient::Impl {
  net::io_context& io;
  unsigned short port;
  net::ssl::context* tls;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  int connects = 0;
  std::optional<common::StatusOr<common::HttpResponse>> result;

  beast::tcp_stream& Lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  net::awaitable<boost::system::error_code> Connect() {
    boost::system::error_code ec;
    plain.reset();
    secure.reset();
    buffer.clear();
    auto stream = std::make_unique<beast::tcp_stream>(io);
    stream->expires_after(std::chrono::seconds(30));
    co_await stream->async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                   net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ec;
    ++connects;
    if (tls == nullptr) {
      plain = std::move(stream);
      co_return ec;
    }
    secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *tls);
    co_await secure->async_handshake(net::ssl::stream_base::client,
                                     net::redirect_error(net::use_awaitable, ec));
    co_return ec;
  }

  template <typename Stream>
  net::awaitable<boost::system::error_code> Exchange(Stream& stream, common::HttpRequest& request,
                                                     common::HttpResponse& response) {
    boost::system::error_code ec;
    co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec) response = parser.release();
    co_return ec;
  }

  net::awaitable<common::StatusOr<common::HttpResponse>> Run(common::HttpRequest request) {
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(true);
    request.prepare_payload();
    // No retry: a dropped connection is what the fault tests look for.
    if (!plain && !secure) {
      const auto ec = co_await Connect();
      if (ec) co_return common::UnavailableError("connect: " + ec.message());
    }
    Lowest().expires_after(std::chrono::seconds(30));
    common::HttpResponse response;
    const auto ec = secure ? co_await Exchange(*secure, request, response)
                           : co_await Exchange(*plain, request, response);
    if (!ec && response.keep_alive()) co_return response;
    plain.reset();
    secure.reset();
    if (!ec) co_return response;
    co_return common::UnavailableError("exchange: " + ec.message());
  }
};

TestClient::TestClient(net::io_context& io, unsigned short port, net::ssl::context* tls)
    : impl_(std::make_shared<Impl>(io, port, tls)) {}

TestClient::~TestClient() = default;

void TestClient::Start(common::HttpRequest request) {
  impl_->result.reset();
  auto run = [](std::shared_ptr<Impl> impl, common::HttpRequest r) -> net::awaitable<void> {
    auto result = co_await impl->Run(std::move(r));
    impl->result = std::move(result);
  };
  net::co_spawn(impl_->io, run(impl_, std::move(request)), [impl = impl_](std::exception_ptr e) {
    if (e) impl->result = common::InternalError("client coroutine threw");
  });
}

std::optional<common::StatusOr<common::HttpResponse>> TestClient::Poll() { return impl_->result; }

common::StatusOr<common::HttpResponse> TestClient::Send(common::HttpRequest request) {
  Start(std::move(request));
  while (!impl_->result) {
    if (impl_->io.stopped()) impl_->io.restart();
    impl_->io.run_one();
  }
  return *impl_->result;
}

int TestClient::connects() const { return impl_->connects; }

}  // namespace cmlr::emulator::testing
