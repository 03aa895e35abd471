#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
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

// What the server knows about an exchange besides the request itself.
struct HttpRequestContext {
  // The peer's IP address, from the socket (never from a header). An IPv4-mapped IPv6 address
  // (a dual-stack listener) is given as the IPv4 address.
  boost::asio::ip::address remote_address;
};

struct HttpStreamOptions {
  // Push() fails and aborts the stream when the bytes waiting would exceed this.
  std::size_t max_buffered_bytes = 1 << 20;
  // When nothing was pushed for this long, the server writes `keepalive_chunk` (zero: never),
  // so that idle streams survive proxies and dead peers are found by a failing write.
  Duration keepalive_interval{0};
  std::string keepalive_chunk;
};

// A response body produced over time (a Server-Sent Events stream): the producer Push()es
// chunks, the server writes them as they come (chunked for HTTP/1.1, up to the connection's
// close for HTTP/1.0), each within the server's write timeout, until the stream is closed. The
// bytes queued and not yet taken by the server are bounded: a reader too slow to keep up is
// dropped (the stream aborts and its connection closes), the producer never waits. Lives on the
// server's executor; all methods on its thread. Shared by the producer and the server.
class HttpStream {
 public:
  HttpStream(boost::asio::any_io_executor executor, HttpStreamOptions options = {});
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Queues a chunk. False when the stream is finished (closed or aborted: the producer should
  // drop it), or when the chunk would take the waiting bytes over the bound: then the stream
  // aborts and overflowed() is true.
  bool Push(std::string chunk);
  // Ends the body once the queued chunks are written.
  void Close();
  // Ends the stream now, dropping what is queued; the server closes the connection. Called by
  // the server when the peer goes away or the server stops.
  void Abort();

  // Closed or aborted: Push() is refused.
  bool finished() const { return closed_ || aborted_; }
  bool aborted() const { return aborted_; }
  bool overflowed() const { return overflowed_; }
  std::size_t buffered_bytes() const { return buffered_bytes_; }

  // For the server: waits for the next data (queued chunks joined, up to about `max_bytes`, or
  // the keep-alive chunk after an idle interval). nullopt when the stream is closed and drained,
  // or aborted.
  boost::asio::awaitable<std::optional<std::string>> Next(std::size_t max_bytes);
  // For the server: told when the stream aborts (to cancel a write blocked on a slow peer).
  void set_on_abort(std::function<void()> on_abort) { on_abort_ = std::move(on_abort); }

 private:
  HttpStreamOptions options_;
  boost::asio::steady_timer wake_;
  std::deque<std::string> queue_;
  std::size_t buffered_bytes_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
  bool overflowed_ = false;
  std::function<void()> on_abort_;
};

// A handler's answer: `response` alone, or, with `stream` set, the status and headers of
// `response` (its body and any Content-Length ignored) followed by the stream's chunks. A
// streamed response always ends its connection.
struct HttpReply {
  HttpResponse response;
  std::shared_ptr<HttpStream> stream;
};

// A handler that also sees the exchange's context and may stream its body. Otherwise as
// HttpHandler (nullopt resets the connection; exceptions become 500).
using HttpStreamHandler = std::function<boost::asio::awaitable<std::optional<HttpReply>>(
    HttpRequest, HttpRequestContext)>;

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
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpServer>> Create(
      boost::asio::any_io_executor executor, HttpServerOptions options, HttpStreamHandler handler,
      HttpErrorResponder error_responder = nullptr);

  virtual ~HttpServer() = default;

  // The bound port.
  virtual unsigned short port() const = 0;
  virtual bool tls() const = 0;

  // Starts accepting connections.
  virtual void Start() = 0;

  // Stops accepting, closes idle connections, and lets requests in progress finish (their
  // connections close after the response). Streams are aborted: an idle one ends at once (the
  // last chunk is written), one blocked writing to its peer is closed. Idempotent.
  virtual void Stop() = 0;

  // Connections currently open.
  virtual std::size_t connections() const = 0;
};

}  // namespace cmlr::common
