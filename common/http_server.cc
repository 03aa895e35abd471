#include "common/http_server.h"

#include <exception>
#include <list>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/time_format.h"

namespace cmlr::common {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
// A stream's queued chunks are written in pieces of about this size, each within the write
// timeout.
constexpr std::size_t kStreamWriteBytes = 64 * 1024;
// After Stop(), an aborted stream's last chunk gets this long.
constexpr auto kStreamEndTimeout = std::chrono::seconds(1);

// The handler's context is passed by value into a coroutine call inside co_await: keep it free
// of members that need destruction (GCC 12 may destroy such temporaries twice).
static_assert(std::is_trivially_destructible_v<HttpRequestContext>);

HttpResponse PlainError(unsigned status, const std::string& message) {
  HttpResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = message + "\n";
  return response;
}

// One open connection, as Stop() sees it: idle ones are closed at once, busy ones after their
// response, streaming ones by aborting their stream.
struct Connection {
  tcp::socket* socket = nullptr;
  bool busy = false;
  bool writing = false;                // a write to the peer is in progress
  std::shared_ptr<HttpStream> stream;  // while a streamed body is being written
};

struct ServerState {
  ServerState(net::any_io_executor executor, HttpServerOptions opts, HttpHandler h,
              HttpStreamHandler sh, HttpErrorResponder e)
      : acceptor(executor),
        options(std::move(opts)),
        handler(std::move(h)),
        stream_handler(std::move(sh)),
        error_responder(e ? std::move(e) : HttpErrorResponder(PlainError)) {}

  tcp::acceptor acceptor;
  HttpServerOptions options;
  HttpHandler handler;  // one of these two is set
  HttpStreamHandler stream_handler;
  HttpErrorResponder error_responder;
  std::optional<ssl::context> tls;
  std::list<Connection> connections;
  bool stopping = false;
  RealClock clock;  // for the Date header only
};

std::chrono::steady_clock::duration Steady(Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

void ResetConnection(tcp::socket& socket) {
  error_code ignored;
  socket.set_option(net::socket_base::linger(true, 0), ignored);  // RST, not FIN
  socket.close(ignored);
}

HttpRequestContext ContextOf(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  HttpRequestContext context;
  if (ec) return context;
  context.remote_address = peer.address();
  if (context.remote_address.is_v6() && context.remote_address.to_v6().is_v4_mapped()) {
    context.remote_address = net::ip::make_address_v4(net::ip::v4_mapped, peer.address().to_v6());
  }
  return context;
}

// Writes a streamed reply: the header, then every chunk the stream yields, each within the
// write timeout, then the last chunk. The connection ends afterwards.
template <typename Stream>
net::awaitable<void> WriteStreamed(ServerState& server, Stream& stream, Connection& connection,
                                   HttpReply& reply, unsigned version) {
  auto& lowest = beast::get_lowest_layer(stream);
  const std::shared_ptr<HttpStream> body = reply.stream;
  // Chunked encoding for HTTP/1.1; HTTP/1.0 knows only "the body ends with the connection".
  const bool chunked = version != 10;
  http::response<http::empty_body> head(std::move(reply.response.base()));
  head.version(chunked ? 11 : 10);
  head.keep_alive(false);
  head.erase(http::field::content_length);
  head.chunked(chunked);
  if (head.find(http::field::date) == head.end()) {
    head.set(http::field::date, FormatHttpDate(server.clock.Now()));
  }
  connection.stream = body;
  struct Finish {
    Connection& connection;
    const std::shared_ptr<HttpStream>& body;
    ~Finish() {
      body->set_on_abort(nullptr);
      if (!body->finished()) body->Abort();  // the producer learns that nobody reads it
      connection.stream.reset();
    }
  } finish{connection, body};
  body->set_on_abort([&connection] {
    // A write blocked on a slow or stuck peer would hold the stream until its deadline.
    if (connection.writing) {
      error_code ignored;
      connection.socket->close(ignored);
    }
  });

  error_code ec;
  http::response_serializer<http::empty_body> serializer(head);
  connection.writing = true;
  lowest.expires_after(Steady(server.options.write_timeout));
  co_await http::async_write_header(stream, serializer,
                                    net::redirect_error(net::use_awaitable, ec));
  connection.writing = false;
  if (ec) co_return;
  for (;;) {
    std::optional<std::string> data = co_await body->Next(kStreamWriteBytes);
    if (!data) break;
    connection.writing = true;
    lowest.expires_after(Steady(server.options.write_timeout));
    if (chunked) {
      const auto chunk = http::make_chunk(net::buffer(*data));
      co_await net::async_write(stream, chunk, net::redirect_error(net::use_awaitable, ec));
    } else {
      const auto raw = net::buffer(*data);
      co_await net::async_write(stream, raw, net::redirect_error(net::use_awaitable, ec));
    }
    connection.writing = false;
    if (ec) co_return;
  }
  if (!chunked || body->overflowed()) co_return;  // a dropped reader gets no clean end
  connection.writing = true;
  lowest.expires_after(server.stopping ? Steady(kStreamEndTimeout)
                                       : Steady(server.options.write_timeout));
  const auto last = http::make_chunk_last();
  co_await net::async_write(stream, last, net::redirect_error(net::use_awaitable, ec));
  connection.writing = false;
}

template <typename Stream>
net::awaitable<void> ServeRequests(std::shared_ptr<ServerState> state, Stream& stream,
                                   Connection& connection) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  error_code ec;
  const HttpRequestContext context = ContextOf(*connection.socket);
  while (!state->stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(state->options.max_body_bytes);
    connection.busy = false;
    lowest.expires_after(Steady(state->options.read_timeout));
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    connection.busy = true;
    if (ec) {
      std::optional<HttpResponse> error;
      if (ec == http::error::body_limit) {
        error = state->error_responder(413, "request body too large");
      } else if (ec.category() ==
                     beast::http::make_error_code(http::error::bad_method).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        error = state->error_responder(400, "malformed HTTP request");
      }
      if (error) {
        error->version(11);
        error->keep_alive(false);
        error->prepare_payload();
        lowest.expires_after(Steady(state->options.write_timeout));
        co_await http::async_write(stream, *error, net::redirect_error(net::use_awaitable, ec));
      }
      co_return;
    }
    HttpRequest request = parser.release();
    const bool keep_alive = request.keep_alive();
    const unsigned version = request.version();
    std::optional<HttpReply> reply;
    try {
      // The handler's arguments are consumed before co_await: GCC 12 may destroy temporaries
      // of a co_await expression twice.
      if (state->stream_handler) {
        auto handling = state->stream_handler(std::move(request), context);
        reply = co_await std::move(handling);
      } else {
        auto handling = state->handler(std::move(request));
        std::optional<HttpResponse> plain = co_await std::move(handling);
        if (plain) {
          reply.emplace();
          reply->response = std::move(*plain);
        }
      }
    } catch (const std::exception& e) {
      reply.emplace();
      reply->response = state->error_responder(500, "internal error");
    }
    if (!reply) {
      ResetConnection(*connection.socket);
      co_return;
    }
    if (reply->stream) {
      co_await WriteStreamed(*state, stream, connection, *reply, version);
      break;
    }
    HttpResponse* response = &reply->response;
    response->version(version == 10 ? 10 : 11);
    response->keep_alive(keep_alive && !state->stopping);
    if (response->find(http::field::date) == response->end()) {
      response->set(http::field::date, FormatHttpDate(state->clock.Now()));
    }
    response->prepare_payload();
    lowest.expires_after(Steady(state->options.write_timeout));
    co_await http::async_write(stream, *response, net::redirect_error(net::use_awaitable, ec));
    if (ec || !response->keep_alive()) break;
  }
  if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
    lowest.expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
  } else {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
}

net::awaitable<void> RunConnection(std::shared_ptr<ServerState> state, tcp::socket socket) {
  beast::tcp_stream tcp_stream(std::move(socket));
  state->connections.push_back({&tcp_stream.socket(), true});
  auto self = std::prev(state->connections.end());
  struct Unregister {
    ServerState& state;
    std::list<Connection>::iterator it;
    ~Unregister() { state.connections.erase(it); }
  } unregister{*state, self};

  if (!state->tls) {
    co_await ServeRequests(state, tcp_stream, *self);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *state->tls);
  self->socket = &beast::get_lowest_layer(tls_stream).socket();
  beast::get_lowest_layer(tls_stream).expires_after(Steady(state->options.read_timeout));
  error_code ec;
  co_await tls_stream.async_handshake(ssl::stream_base::server,
                                      net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return;
  co_await ServeRequests(state, tls_stream, *self);
}

net::awaitable<void> AcceptLoop(std::shared_ptr<ServerState> state) {
  while (!state->stopping) {
    error_code ec;
    tcp::socket socket =
        co_await state->acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted || !state->acceptor.is_open()) co_return;
      continue;  // e.g. too many open files: keep serving the connections we have
    }
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(state->acceptor.get_executor(), RunConnection(state, std::move(socket)),
                  net::detached);
  }
}

StatusOr<tcp::endpoint> ParseListenAddress(const net::any_io_executor& executor,
                                           const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return InvalidArgumentError(fmt::format("listen address \"{}\": expected HOST:PORT", listen));
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return InvalidArgumentError(fmt::format("listen address \"{}\": bad port", listen));
  }
  error_code ec;
  const auto address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(port));
  tcp::resolver resolver(executor);
  const auto results = resolver.resolve(host, port_text, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return InvalidArgumentError(
        fmt::format("listen address \"{}\": cannot resolve host: {}", listen, ec.message()));
  }
  return results.begin()->endpoint();
}

class HttpServerImpl final : public HttpServer {
 public:
  explicit HttpServerImpl(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}
  ~HttpServerImpl() override { Stop(); }

  unsigned short port() const override { return port_; }
  bool tls() const override { return state_->tls.has_value(); }
  std::size_t connections() const override { return state_->connections.size(); }

  void Start() override {
    port_ = state_->acceptor.local_endpoint().port();
    net::co_spawn(state_->acceptor.get_executor(), AcceptLoop(state_), net::detached);
  }

  void Stop() override {
    if (state_->stopping) return;
    state_->stopping = true;
    error_code ignored;
    state_->acceptor.close(ignored);
    for (Connection& connection : state_->connections) {
      if (connection.stream) {
        connection.stream->Abort();
      } else if (!connection.busy) {
        connection.socket->close(ignored);
      }
    }
  }

  void set_port(unsigned short port) { port_ = port; }

 private:
  std::shared_ptr<ServerState> state_;
  unsigned short port_ = 0;
};

}  // namespace

HttpStream::HttpStream(net::any_io_executor executor, HttpStreamOptions options)
    : options_(std::move(options)), wake_(std::move(executor)) {}

bool HttpStream::Push(std::string chunk) {
  if (finished()) return false;
  if (chunk.empty()) return true;
  if (buffered_bytes_ + chunk.size() > options_.max_buffered_bytes) {
    overflowed_ = true;
    Abort();
    return false;
  }
  buffered_bytes_ += chunk.size();
  queue_.push_back(std::move(chunk));
  wake_.cancel();
  return true;
}

void HttpStream::Close() {
  closed_ = true;
  wake_.cancel();
}

void HttpStream::Abort() {
  if (aborted_) return;
  aborted_ = true;
  queue_.clear();
  buffered_bytes_ = 0;
  wake_.cancel();
  if (on_abort_) {
    const std::function<void()> on_abort = on_abort_;
    on_abort();
  }
}

net::awaitable<std::optional<std::string>> HttpStream::Next(std::size_t max_bytes) {
  for (;;) {
    if (aborted_) co_return std::nullopt;
    if (!queue_.empty()) {
      std::string data = std::move(queue_.front());
      queue_.pop_front();
      while (!queue_.empty() && data.size() + queue_.front().size() <= max_bytes) {
        data += queue_.front();
        queue_.pop_front();
      }
      buffered_bytes_ -= data.size();
      co_return data;
    }
    if (closed_) co_return std::nullopt;
    const bool keepalive = options_.keepalive_interval > Duration::zero();
    if (keepalive) {
      wake_.expires_after(Steady(options_.keepalive_interval));
    } else {
      wake_.expires_at(net::steady_timer::time_point::max());
    }
    error_code ec;
    co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    // A Push() after the timer fired but before this resumed wins over the keep-alive.
    if (!ec && keepalive && queue_.empty() && !finished()) co_return options_.keepalive_chunk;
  }
}

static StatusOr<std::unique_ptr<HttpServer>> CreateServer(net::any_io_executor executor,
                                                          HttpServerOptions options,
                                                          HttpHandler handler,
                                                          HttpStreamHandler stream_handler,
                                                          HttpErrorResponder error_responder) {
  CMLR_ASSIGN_OR_RETURN(const tcp::endpoint endpoint, ParseListenAddress(executor, options.listen));
  auto state = std::make_shared<ServerState>(executor, std::move(options), std::move(handler),
                                             std::move(stream_handler), std::move(error_responder));
  const HttpServerOptions& opts = state->options;
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty()) {
    return InvalidArgumentError("TLS needs both a certificate and a key file");
  }
  if (!opts.tls_cert_file.empty()) {
    try {
      ssl::context context(ssl::context::tls_server);
      context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      context.use_certificate_chain_file(opts.tls_cert_file);
      context.use_private_key_file(opts.tls_key_file, ssl::context::pem);
      state->tls.emplace(std::move(context));
    } catch (const std::exception& e) {
      return InvalidArgumentError(fmt::format("TLS certificate {} or key {}: {}",
                                              opts.tls_cert_file, opts.tls_key_file, e.what()));
    }
  }
  error_code ec;
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError(fmt::format("cannot listen on {}: {}", opts.listen, ec.message()));
  }
  auto server = std::make_unique<HttpServerImpl>(state);
  server->set_port(state->acceptor.local_endpoint().port());
  return std::unique_ptr<HttpServer>(std::move(server));
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(net::any_io_executor executor,
                                                         HttpServerOptions options,
                                                         HttpHandler handler,
                                                         HttpErrorResponder error_responder) {
  if (!handler) return InvalidArgumentError("HTTP server needs a handler");
  return CreateServer(std::move(executor), std::move(options), std::move(handler), nullptr,
                      std::move(error_responder));
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(net::any_io_executor executor,
                                                         HttpServerOptions options,
                                                         HttpStreamHandler handler,
                                                         HttpErrorResponder error_responder) {
  if (!handler) return InvalidArgumentError("HTTP server needs a handler");
  return CreateServer(std::move(executor), std::move(options), nullptr, std::move(handler),
                      std::move(error_responder));
}

}  // namespace cmlr::common
