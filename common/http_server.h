#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::common {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct HttpServerOptions {
  // "HOST:PORT"; port 0 picks a free port (see HttpServer::port()). IPv6 as "[::1]:0".
  std::string listen = "127.0.0.1:0";
  // Requests with a larger body are answered 413 without calling the handler.
  std::size_t max_body_bytes = 1 << 20;
  // A client must deliver a whole request (headers and body) within this time, and an idle
  // keep-alive connection is closed after it: slow or stuck clients are dropped.
  Duration read_timeout = std::chrono::seconds(30);
  // Each response must be written within this time.
  Duration write_timeout = std::chrono::seconds(30);
  // Both set: serve HTTPS (TLS 1.2 or later) with this PEM certificate chain and key.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Handles one request. Returns the response to send; the server sets the HTTP version,
// Content-Length and keep-alive. std::nullopt drops the connection without answering (a
// "connection reset" as a fault injector wants it). Exceptions escaping the handler become a
// 500 answer. Runs on the server's executor.
using HttpHandler = std::function<boost::asio::awaitable<std::optional<HttpResponse>>(HttpRequest)>;

// Builds the answer for errors the server detects itself (400 malformed request, 413 body too
// large). Defaults to a plain-text body.
using HttpErrorResponder = std::function<HttpResponse(unsigned status, const std::string& message)>;

// A small HTTP/1.1 server on Boost.Beast with keep-alive, deadlines on every read and write,
// optional TLS and a body limit. Used by cml-emulator and by the daemon's endpoints.
// All methods must be called on the executor's thread.
class HttpServer {
 public:
  // Binds the listening socket (so port() is known at once) and loads TLS material.
  // INVALID_ARGUMENT for a malformed listen address or unreadable TLS files, UNAVAILABLE when
  // the address cannot be bound.
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpServer>> Create(
      boost::asio::any_io_executor executor, HttpServerOptions options, HttpHandler handler,
      HttpErrorResponder error_responder = nullptr);

  virtual ~HttpServer() = default;

  // The bound port.
  virtual unsigned short port() const = 0;
  virtual bool tls() const = 0;

  // Starts accepting connections.
  virtual void Start() = 0;

  // Stops accepting, closes idle connections, and lets requests in progress finish (their
  // connections close after the response). Idempotent.
  virtual void Stop() = 0;

  // Connections currently open.
  virtual std::size_t connections() const = 0;
};

}  // namespace cmlr::common
