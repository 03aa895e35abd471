#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "api/http_transport.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::daemon {

struct DaemonClientOptions {
  // Bounds connecting, and then sending the request and reading the answer.
  common::Duration timeout = std::chrono::seconds(5);
  // Sent as `Authorization: Bearer` on POST requests when not empty (design section 7).
  std::string admin_token;
};

// The command line's client of a running daemon's HTTP API (`status`, `wait`, `retry`,
// `reconcile`): one request at a time over the api/ transport, blocking the calling thread on a
// private io_context (do not use it from an io_context thread).
//
// Errors: INVALID_ARGUMENT for a URL that is not http(s)://HOST[:PORT][/PREFIX];
// UNAVAILABLE when the daemon cannot be reached or does not answer in time ("cannot reach the
// daemon at http://127.0.0.1:9464: ...") or answers 5xx; NOT_FOUND for 404,
// UNAUTHENTICATED for 401, PERMISSION_DENIED for 403, FAILED_PRECONDITION for any other non-2xx
// answer (the daemon's {"error": ...} text is the message); INTERNAL for a body that is not
// JSON. Non-2xx answers carry their HTTP status (Status::http_status()).
class DaemonClient {
 public:
  [[nodiscard]] static common::StatusOr<std::unique_ptr<DaemonClient>> Create(
      std::string base_url, DaemonClientOptions options = {});

  // GET <base><path>, e.g. Get("/api/v1/status"): the JSON body.
  [[nodiscard]] common::StatusOr<nlohmann::json> Get(std::string_view path);
  // POST <base><path> with an empty body: the JSON body.
  [[nodiscard]] common::StatusOr<nlohmann::json> Post(std::string_view path);

  const std::string& base_url() const { return base_url_; }

 private:
  DaemonClient(std::string base_url, api::BaseUrl url, DaemonClientOptions options);
  common::StatusOr<nlohmann::json> Exchange(bool post, std::string_view path);

  std::string base_url_;
  api::BaseUrl url_;
  DaemonClientOptions options_;
  common::RealClock clock_;
  boost::asio::io_context io_{1};
  std::unique_ptr<api::HttpTransport> transport_;
};

}  // namespace cmlr::daemon
