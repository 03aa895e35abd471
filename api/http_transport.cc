#include "api/http_transport.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <exception>
#include <utility>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/duration.h"

namespace cmlr::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using common::Status;
using common::StatusOr;

namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<TlsStream> tls;
  beast::flat_buffer buffer;
  common::TimePoint idle_since{};

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  void Close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }
};

bool IsConnectionClosed(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == ssl::error::stream_truncated ||
         ec == http::error::partial_message;
}

// The peer closed the connection, or sent something nobody asked for: do not reuse it.
bool LooksDead(Connection& conn) {
  if (conn.buffer.size() != 0) return true;
  char byte = 0;
  const ssize_t n =
      ::recv(conn.lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n > 0) return true;
  return !(errno == EAGAIN || errno == EWOULDBLOCK);
}

class HttpTransportImpl final : public HttpTransport {
 public:
  HttpTransportImpl(net::any_io_executor executor, common::Clock& clock, BaseUrl url,
                    HttpTransportOptions options, std::unique_ptr<ssl::context> tls_context)
      : executor_(std::move(executor)),
        clock_(clock),
        url_(std::move(url)),
        options_(std::move(options)),
        tls_context_(std::move(tls_context)),
        host_port_(url_.host + ":" + url_.port) {
    const bool default_port = (url_.tls && url_.port == "443") || (!url_.tls && url_.port == "80");
    const std::string host =
        url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    host_header_ = default_port ? host : host + ":" + url_.port;
  }

  ~HttpTransportImpl() override { CloseIdle(); }

  net::awaitable<TransportResult> Send(HttpRequest request,
                                       std::optional<common::Duration> timeout) override {
    std::string failure;
    try {
      co_return co_await SendOnce(std::move(request), timeout.value_or(options_.request_timeout));
    } catch (const std::exception& e) {
      failure = e.what();
    }
    co_return TransportResult{
        common::InternalError("HTTP exchange with " + host_port_ + " failed: " + failure), true};
  }

  void CloseIdle() override {
    for (auto& conn : idle_) conn->Close();
    idle_.clear();
  }

  std::size_t idle_connections() const override { return idle_.size(); }
  std::size_t connections_opened() const override { return connections_opened_; }

 private:
  net::awaitable<TransportResult> SendOnce(HttpRequest request, common::Duration timeout) {
    request.set(http::field::host, host_header_);
    request.keep_alive(true);
    request.prepare_payload();

    std::unique_ptr<Connection> conn = TakeIdle();
    if (conn != nullptr) {
      TransportResult result = co_await Exchange(*conn, request, timeout);
      // Nothing reached the server: a fresh connection may carry the request safely.
      if (result.response.ok() || result.request_sent) {
        co_return Finish(std::move(conn), std::move(result));
      }
      conn->Close();
    }
    StatusOr<std::unique_ptr<Connection>> fresh = co_await Connect();
    if (!fresh.ok()) co_return TransportResult{fresh.status(), false};
    conn = std::move(*fresh);
    TransportResult result = co_await Exchange(*conn, request, timeout);
    co_return Finish(std::move(conn), std::move(result));
  }

  TransportResult Finish(std::unique_ptr<Connection> conn, TransportResult result) {
    CloseStaleIdle();
    if (result.response.ok() && result.response->keep_alive() &&
        idle_.size() < options_.max_idle_connections) {
      conn->idle_since = clock_.Now();
      idle_.push_back(std::move(conn));
    } else {
      conn->Close();
    }
    return result;
  }

  // Closes the pooled connections idle for longer than idle_timeout. The pool is used last in,
  // first out, so after a burst of concurrent calls the oldest would otherwise stay open (an fd
  // each) for as long as fewer calls run at once.
  void CloseStaleIdle() {
    const common::TimePoint now = clock_.Now();
    const auto fresh = std::find_if(idle_.begin(), idle_.end(), [&](const auto& conn) {
      return now - conn->idle_since <= options_.idle_timeout;
    });
    for (auto it = idle_.begin(); it != fresh; ++it) (*it)->Close();
    idle_.erase(idle_.begin(), fresh);
  }

  std::unique_ptr<Connection> TakeIdle() {
    const common::TimePoint now = clock_.Now();
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (now - conn->idle_since <= options_.idle_timeout && !LooksDead(*conn)) return conn;
      conn->Close();
    }
    return nullptr;
  }

  net::awaitable<StatusOr<std::unique_ptr<Connection>>> Connect() {
    // Name resolution has no deadline of its own: a timer cancels it.
    auto resolver = std::make_shared<tcp::resolver>(executor_);
    net::steady_timer timer(executor_);
    timer.expires_after(options_.connect_timeout);
    timer.async_wait([resolver](const beast::error_code& ec) {
      if (!ec) resolver->cancel();
    });
    auto [resolve_ec, endpoints] =
        co_await resolver->async_resolve(url_.host, url_.port, kUseTuple);
    timer.cancel();
    if (resolve_ec == net::error::operation_aborted) {
      co_return common::UnavailableError("resolving " + url_.host + " timed out after " +
                                         common::FormatDuration(options_.connect_timeout));
    }
    if (resolve_ec) {
      co_return common::UnavailableError("cannot resolve " + url_.host + ": " +
                                         resolve_ec.message());
    }

    auto conn = std::make_unique<Connection>();
    if (url_.tls) {
      conn->tls = std::make_unique<TlsStream>(executor_, *tls_context_);
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(executor_);
    }
    beast::tcp_stream& lowest = conn->lowest();
    lowest.expires_after(options_.connect_timeout);
    auto [connect_ec, endpoint] = co_await lowest.async_connect(endpoints, kUseTuple);
    if (connect_ec == beast::error::timeout) {
      co_return common::UnavailableError("connecting to " + host_port_ + " timed out after " +
                                         common::FormatDuration(options_.connect_timeout));
    }
    if (connect_ec) {
      co_return common::UnavailableError("cannot connect to " + host_port_ + ": " +
                                         connect_ec.message());
    }
    ++connections_opened_;
    beast::error_code ignored;
    lowest.socket().set_option(tcp::no_delay(true), ignored);

    if (url_.tls) {
      SSL* ssl_handle = conn->tls->native_handle();
      beast::error_code address_ec;
      net::ip::make_address(url_.host, address_ec);
      if (address_ec) {
        // A name: send it as SNI and verify the certificate against it.
        SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(url_.host.c_str()));
        SSL_set1_host(ssl_handle, url_.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), url_.host.c_str());
      }
      lowest.expires_after(options_.tls_handshake_timeout);
      auto [handshake_ec] =
          co_await conn->tls->async_handshake(ssl::stream_base::client, kUseTuple);
      if (handshake_ec) {
        conn->Close();
        if (handshake_ec == beast::error::timeout) {
          co_return common::UnavailableError(
              "TLS handshake with " + host_port_ + " timed out after " +
              common::FormatDuration(options_.tls_handshake_timeout));
        }
        std::string message =
            "TLS handshake with " + host_port_ + " failed: " + handshake_ec.message();
        const long verify = SSL_get_verify_result(ssl_handle);
        if (verify != X509_V_OK) {
          message += std::string(" (certificate verification: ") +
                     X509_verify_cert_error_string(verify) + ")";
        }
        co_return common::UnavailableError(std::move(message));
      }
    }
    lowest.expires_never();
    co_return conn;
  }

  net::awaitable<TransportResult> Exchange(Connection& conn, HttpRequest& request,
                                           common::Duration timeout) {
    if (conn.tls) co_return co_await ExchangeOn(*conn.tls, conn, request, timeout);
    co_return co_await ExchangeOn(*conn.plain, conn, request, timeout);
  }

  template <typename Stream>
  net::awaitable<TransportResult> ExchangeOn(Stream& stream, Connection& conn, HttpRequest& request,
                                             common::Duration timeout) {
    beast::tcp_stream& lowest = conn.lowest();
    // One deadline covers writing the request and reading the whole answer.
    lowest.expires_after(timeout);
    auto [write_ec, written] = co_await http::async_write(stream, request, kUseTuple);
    if (write_ec) {
      conn.Close();
      const bool sent = written > 0;
      if (write_ec == beast::error::timeout) {
        co_return TransportResult{
            common::UnavailableError("sending the request to " + host_port_ + " timed out after " +
                                     common::FormatDuration(timeout)),
            sent};
      }
      co_return TransportResult{common::UnavailableError("sending the request to " + host_port_ +
                                                         " failed: " + write_ec.message()),
                                sent};
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(kMaxResponseHeaderBytes);
    auto [read_ec, read] = co_await http::async_read(stream, conn.buffer, parser, kUseTuple);
    (void)read;
    if (read_ec) {
      conn.Close();
      Status status;
      if (read_ec == beast::error::timeout) {
        status = common::UnavailableError("no complete response from " + host_port_ + " within " +
                                          common::FormatDuration(timeout));
      } else if (IsConnectionClosed(read_ec)) {
        status = common::UnavailableError("connection to " + host_port_ +
                                          " closed before the response was complete");
      } else if (read_ec == http::error::body_limit) {
        status = common::InternalError("response from " + host_port_ + " is larger than " +
                                       std::to_string(options_.max_response_bytes) + " bytes");
      } else if (read_ec == http::error::header_limit) {
        status = common::InternalError("response headers from " + host_port_ + " are larger than " +
                                       std::to_string(kMaxResponseHeaderBytes) + " bytes");
      } else if (read_ec.category() == http::make_error_code(http::error::bad_version).category()) {
        status = common::InternalError("malformed HTTP response from " + host_port_ + ": " +
                                       read_ec.message());
      } else {
        status = common::UnavailableError("reading the response from " + host_port_ +
                                          " failed: " + read_ec.message());
      }
      co_return TransportResult{std::move(status), true};
    }
    lowest.expires_never();
    co_return TransportResult{parser.release(), true};
  }

  net::any_io_executor executor_;
  common::Clock& clock_;
  BaseUrl url_;
  HttpTransportOptions options_;
  std::unique_ptr<ssl::context> tls_context_;
  std::string host_port_;
  std::string host_header_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t connections_opened_ = 0;
};

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

StatusOr<BaseUrl> ParseBaseUrl(std::string_view url) {
  const auto invalid = [&url](std::string_view why) {
    return common::InvalidArgumentError("invalid CML URL \"" + std::string(url) +
                                        "\": " + std::string(why));
  };
  BaseUrl out;
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    out.tls = false;
    rest = url.substr(7);
  } else {
    return invalid("expected http:// or https://");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return invalid("a query or fragment is not allowed");
  }
  if (authority.find('@') != std::string_view::npos) return invalid("user info is not allowed");
  std::string_view port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unterminated IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid("unexpected text after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return invalid("missing host");
  for (char c : out.host) {
    if (!(IsUnreserved(c) || c == ':')) return invalid("bad character in the host");
  }
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    unsigned value = 0;
    const auto result = std::from_chars(port.data(), port.data() + port.size(), value);
    if (result.ec != std::errc() || result.ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return invalid("bad port");
    }
    out.port = std::to_string(value);
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  out.path_prefix = std::string(path);
  return out;
}

StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(net::any_io_executor executor,
                                                               common::Clock& clock, BaseUrl url,
                                                               HttpTransportOptions options) {
  std::unique_ptr<ssl::context> tls_context;
  if (url.tls || !options.ca_file.empty()) {
    tls_context = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls_context->native_handle(), TLS1_2_VERSION);
    beast::error_code ec;
    tls_context->set_default_verify_paths(ec);
    if (ec) return common::InternalError("cannot load the system trust store: " + ec.message());
    if (!options.ca_file.empty()) {
      tls_context->load_verify_file(options.ca_file, ec);
      if (ec) {
        return common::InvalidArgumentError("cannot load CA file " + options.ca_file + ": " +
                                            ec.message());
      }
    }
    tls_context->set_verify_mode(ssl::verify_peer);
  }
  return std::unique_ptr<HttpTransport>(new HttpTransportImpl(
      std::move(executor), clock, std::move(url), std::move(options), std::move(tls_context)));
}

}  // namespace cmlr::api
