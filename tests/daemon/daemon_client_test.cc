#include "daemon/daemon_client.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "tests/daemon/test_http_server.h"

namespace cmlr::daemon {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using std::chrono::milliseconds;
using std::chrono::seconds;

common::StatusOr<nlohmann::json> GetStatus(const std::string& url, common::Duration timeout) {
  auto client = DaemonClient::Create(url, {.timeout = timeout});
  if (!client.ok()) return client.status();
  return (*client)->Get("/api/v1/status");
}

// Verifies that the client GETs under the URL's prefix too and parses the JSON answer.
TEST(DaemonClientTest, FetchesAndParsesStatus) {
  TestHttpServer server(JsonAnswer(http::status::ok, R"({"models": [{"name": "fraud"}]})"));

  const auto status = GetStatus(server.url(), seconds(5));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ((*status)["models"][0]["name"], "fraud");

  const auto prefixed = GetStatus(server.url() + "/reconciler/", seconds(5));
  ASSERT_TRUE(prefixed.ok()) << prefixed.status();
  EXPECT_EQ(server.targets(),
            (std::vector<std::string>{"/api/v1/status", "/reconciler/api/v1/status"}));
}

// Verifies that POST sends the admin token as a bearer key, and GET never does.
TEST(DaemonClientTest, SendsAdminTokenOnPostOnly) {
  TestHttpServer server(JsonAnswer(http::status::accepted, R"({"queued": ["fraud"]})"));
  auto client = DaemonClient::Create(server.url(), {.admin_token = "s3cret"});
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Post("/api/v1/reconcile?name=fraud").ok());
  ASSERT_TRUE((*client)->Get("/api/v1/status").ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method(), http::verb::post);
  EXPECT_EQ(requests[0][http::field::authorization], "Bearer s3cret");
  EXPECT_EQ(requests[1].count(http::field::authorization), 0u);
}

// Verifies that a refused connection is UNAVAILABLE with a message naming the daemon's URL.
TEST(DaemonClientTest, ReportsRefusedConnection) {
  net::io_context io;
  net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  const unsigned short port = acceptor.local_endpoint().port();
  acceptor.close();  // nobody listens there any more
  const std::string url = "http://127.0.0.1:" + std::to_string(port);

  const auto status = GetStatus(url, seconds(5));

  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), common::StatusCode::kUnavailable);
  EXPECT_TRUE(status.status().message().starts_with("cannot reach the daemon at " + url + ": "))
      << status.status();
  EXPECT_NE(status.status().message().find("refused"), std::string::npos) << status.status();
}

// Verifies that a daemon that accepts but never answers fails within the timeout.
TEST(DaemonClientTest, TimesOutOnSilentServer) {
  net::io_context io;
  // Connections complete in the kernel's backlog; nothing ever reads or answers them.
  net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  const std::string url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());

  const auto status = GetStatus(url, milliseconds(200));

  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), common::StatusCode::kUnavailable);
  EXPECT_NE(status.status().message().find("200ms"), std::string::npos) << status.status();
}

// Verifies that non-2xx answers and bodies that are not JSON are errors with clear codes, and
// that the daemon's own error text is the message.
TEST(DaemonClientTest, ReportsBadAnswers) {
  const struct {
    http::status status;
    std::string body;
    common::StatusCode code;
  } cases[] = {
      {http::status::service_unavailable, "starting", common::StatusCode::kUnavailable},
      {http::status::not_found, R"({"error": "unknown model nope"})",
       common::StatusCode::kNotFound},
      {http::status::unauthorized, R"({"error": "admin token required"})",
       common::StatusCode::kUnauthenticated},
      {http::status::forbidden, "{}", common::StatusCode::kPermissionDenied},
      {http::status::conflict, "{}", common::StatusCode::kFailedPrecondition},
  };
  for (const auto& c : cases) {
    TestHttpServer server(JsonAnswer(c.status, c.body));
    const auto status = GetStatus(server.url(), seconds(5));
    ASSERT_FALSE(status.ok()) << c.body;
    EXPECT_EQ(status.status().code(), c.code) << c.body;
    EXPECT_EQ(status.status().http_status(), static_cast<int>(c.status)) << c.body;
  }
  TestHttpServer not_found(JsonAnswer(http::status::not_found, R"({"error": "unknown model x"})"));
  EXPECT_NE(GetStatus(not_found.url(), seconds(5)).status().message().find("unknown model x"),
            std::string::npos);
  TestHttpServer html(JsonAnswer(http::status::ok, "<html>not json</html>"));
  EXPECT_EQ(GetStatus(html.url(), seconds(5)).status().code(), common::StatusCode::kInternal);
}

// Verifies that malformed URLs are rejected before any connection.
TEST(DaemonClientTest, RejectsBadUrls) {
  for (const char* url : {"127.0.0.1:9464", "http://", "http://:80", "http://host:0",
                          "http://host:99999", "http://host:12ab", "http://[::1", "ftp://host"}) {
    const auto client = DaemonClient::Create(url);
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.status().code(), common::StatusCode::kInvalidArgument) << url;
  }
}

}  // namespace
}  // namespace cmlr::daemon
