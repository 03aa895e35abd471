#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "common/http_server.h"
#include "common/status.h"

namespace cmlr::emulator::testing {

// A small HTTP/1.1 client for tests: one keep-alive connection (reopened when the server closed
// it), on the caller's io_context, so the server under test can run on the same thread. Send()
// runs the io_context until the answer (or an error) arrives. TLS when `tls` is given (no
// certificate verification: the tests make their own certificate).
class TestClient {
 public:
  TestClient(boost::asio::io_context& io, unsigned short port,
             boost::asio::ssl::context* tls = nullptr);
  ~TestClient();

  // UNAVAILABLE when the connection failed or was dropped without an answer.
  common::StatusOr<common::HttpResponse> Send(common::HttpRequest request);

  // Starts a request without waiting; Poll() returns its result once there is one.
  void Start(common::HttpRequest request);
  std::optional<common::StatusOr<common::HttpResponse>> Poll();

  int connects() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cmlr::emulator::testing
