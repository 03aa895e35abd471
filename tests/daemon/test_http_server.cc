#include "tests/daemon/test_http_server.h"

#include <gtest/gtest.h>

namespace cmlr::daemon {

namespace net = boost::asio;
namespace http = boost::beast::http;

TestHttpServer::TestHttpServer(Answer answer) : answer_(std::move(answer)) {
  auto server = common::HttpServer::Create(
      io_.get_executor(), {},
      [this](common::HttpRequest request) -> net::awaitable<std::optional<common::HttpResponse>> {
        common::HttpResponse response = answer_(request);
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(std::move(request));
        }
        co_return response;
      });
  EXPECT_TRUE(server.ok()) << server.status();
  server_ = std::move(server).value();
  server_->Start();
  thread_ = std::thread([this] { io_.run(); });
}

TestHttpServer::~TestHttpServer() {
  net::post(io_, [this] { server_->Stop(); });
  thread_.join();
}

std::vector<common::HttpRequest> TestHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<std::string> TestHttpServer::targets() const {
  std::vector<std::string> targets;
  for (const common::HttpRequest& request : requests()) {
    targets.emplace_back(request.target());
  }
  return targets;
}

common::HttpResponse JsonAnswer(http::status status, std::string body) {
  common::HttpResponse response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

}  // namespace cmlr::daemon
