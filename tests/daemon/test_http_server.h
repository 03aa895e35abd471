#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>

#include "common/http_server.h"

namespace cmlr::daemon {

// A common::HttpServer on 127.0.0.1:0 and its own thread, answering every request with what
// `answer` returns, and keeping every request it saw (for the tests of the daemon's clients).
class TestHttpServer {
 public:
  using Answer = std::function<common::HttpResponse(const common::HttpRequest&)>;

  explicit TestHttpServer(Answer answer);
  // Always the same response.
  explicit TestHttpServer(common::HttpResponse response)
      : TestHttpServer([response](const common::HttpRequest&) { return response; }) {}
  ~TestHttpServer();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  // Copies of the requests answered so far, in order.
  std::vector<common::HttpRequest> requests() const;
  std::vector<std::string> targets() const;

 private:
  Answer answer_;
  boost::asio::io_context io_;
  std::unique_ptr<common::HttpServer> server_;
  mutable std::mutex mutex_;
  std::vector<common::HttpRequest> requests_;
  std::thread thread_;
};

// A response with a JSON content type.
common::HttpResponse JsonAnswer(boost::beast::http::status status, std::string body);

}  // namespace cmlr::daemon
