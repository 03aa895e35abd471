#include "api/error_mapping.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/wire_types.h"

namespace cmlr::api {
namespace {

using common::StatusCode;

struct Case {
  int http_status;
  std::string body;
  StatusCode code;
};

// Verifies the HTTP status and runtimeError mapping to Status codes, and that the HTTP status
// travels on the Status.
TEST(ErrorMappingTest, MapsHttpStatusAndBody) {
  const std::vector<Case> cases = {
      {200, "", StatusCode::kOk},
      {400, R"({"code": 3, "message": "bad cpu"})", StatusCode::kInvalidArgument},
      {400, "", StatusCode::kInvalidArgument},
      {401, "", StatusCode::kUnauthenticated},
      {403, R"({"code": 7, "message": "audience mismatch"})", StatusCode::kPermissionDenied},
      {404, R"({"code": 5, "message": "no such model"})", StatusCode::kNotFound},
      {409, "", StatusCode::kAborted},
      {409, R"({"code": 6, "message": "exists"})", StatusCode::kAlreadyExists},
      {409, R"({"code": 10, "message": "conflict"})", StatusCode::kAborted},
      {412, "", StatusCode::kFailedPrecondition},
      {400, R"({"code": 9, "message": "not built"})", StatusCode::kFailedPrecondition},
      {400, R"({"code": 11})", StatusCode::kOutOfRange},
      {429, R"({"code": 8})", StatusCode::kUnavailable},
      {500, R"({"code": 13, "message": "boom"})", StatusCode::kUnavailable},
      {502, "<html>bad gateway</html>", StatusCode::kUnavailable},
      {503, "", StatusCode::kUnavailable},
      {504, "", StatusCode::kUnavailable},
      {501, "", StatusCode::kUnimplemented},
      {501, R"({"code": 12})", StatusCode::kUnimplemented},
      {408, "", StatusCode::kUnavailable},
      {499, "", StatusCode::kUnavailable},
      {418, "", StatusCode::kInvalidArgument},
      {302, "", StatusCode::kUnknown},
      // A gRPC code that no gateway sends with this status does not override it: a 4xx does not
      // become a retry, nor a 5xx a permanent error; nonsense codes are ignored.
      {400, R"({"code": 14})", StatusCode::kInvalidArgument},
      {404, R"({"code": 9})", StatusCode::kNotFound},
      {403, R"({"code": 16})", StatusCode::kPermissionDenied},
      {503, R"({"code": 3})", StatusCode::kUnavailable},
      {500, R"({"code": 5})", StatusCode::kUnavailable},
      {404, R"({"code": 99})", StatusCode::kNotFound},
      {404, R"({"code": -5})", StatusCode::kNotFound},
      {404, R"({"code": "five"})", StatusCode::kNotFound},
  };
  for (const Case& c : cases) {
    common::Status status = StatusFromHttp("get_model", c.http_status, c.body);
    EXPECT_EQ(status.code(), c.code) << c.http_status << " " << c.body << " -> " << status;
    if (c.http_status != 200) {
      EXPECT_EQ(status.http_status(), c.http_status);
      EXPECT_FALSE(status.outcome_unknown());
    }
  }
}

// Verifies both grpc-gateway code sets (design 4a): each gRPC code under the HTTP status
// grpc-gateway v1 sends for it and under the one v2 sends, mapped to what to do next.
TEST(ErrorMappingTest, MapsBothGatewayCodeSets) {
  struct GatewayCase {
    int grpc_code;
    int v1_status;
    int v2_status;
    StatusCode code;
  };
  const std::vector<GatewayCase> cases = {
      {1, 408, 499, StatusCode::kUnavailable},         // CANCELLED
      {2, 500, 500, StatusCode::kUnavailable},         // UNKNOWN
      {3, 400, 400, StatusCode::kInvalidArgument},     // INVALID_ARGUMENT
      {4, 408, 504, StatusCode::kUnavailable},         // DEADLINE_EXCEEDED
      {5, 404, 404, StatusCode::kNotFound},            // NOT_FOUND
      {6, 409, 409, StatusCode::kAlreadyExists},       // ALREADY_EXISTS
      {7, 403, 403, StatusCode::kPermissionDenied},    // PERMISSION_DENIED
      {8, 403, 429, StatusCode::kUnavailable},         // RESOURCE_EXHAUSTED: throttled
      {9, 412, 400, StatusCode::kFailedPrecondition},  // FAILED_PRECONDITION
      {10, 409, 409, StatusCode::kAborted},            // ABORTED
      {11, 400, 400, StatusCode::kOutOfRange},         // OUT_OF_RANGE
      {12, 501, 501, StatusCode::kUnimplemented},      // UNIMPLEMENTED
      {13, 500, 500, StatusCode::kUnavailable},        // INTERNAL
      {14, 503, 503, StatusCode::kUnavailable},        // UNAVAILABLE
      {15, 500, 500, StatusCode::kUnavailable},        // DATA_LOSS
      {16, 401, 401, StatusCode::kUnauthenticated},    // UNAUTHENTICATED
  };
  for (const GatewayCase& c : cases) {
    const std::string body =
        R"({"error": "e", "message": "m", "code": )" + std::to_string(c.grpc_code) + "}";
    for (const int http_status : {c.v1_status, c.v2_status}) {
      const common::Status status = StatusFromHttp("create_model", http_status, body);
      EXPECT_EQ(status.code(), c.code) << "code " << c.grpc_code << " HTTP " << http_status;
      EXPECT_EQ(status.http_status(), http_status);
      EXPECT_EQ(status.message(), "create_model: HTTP " + std::to_string(http_status) + ": m");
    }
  }
}

// Verifies that throttling is recognised in both code sets, v1's 403 RESOURCE_EXHAUSTED as
// well as 429, and nothing else is taken for it.
TEST(ErrorMappingTest, RecognisesThrottling) {
  EXPECT_TRUE(IsThrottled(429, ""));
  EXPECT_TRUE(IsThrottled(429, R"({"code": 8})"));
  EXPECT_TRUE(IsThrottled(403, R"({"code": 8, "message": "rate limit exceeded"})"));
  EXPECT_TRUE(IsThrottled(403, R"({"code": "8"})"));
  EXPECT_FALSE(IsThrottled(403, R"({"code": 7, "message": "denied"})"));
  EXPECT_FALSE(IsThrottled(403, ""));
  EXPECT_FALSE(IsThrottled(403, "<html>forbidden</html>"));
  EXPECT_FALSE(IsThrottled(400, R"({"code": 8})"));
  EXPECT_FALSE(IsThrottled(503, R"({"code": 8})"));
  EXPECT_FALSE(IsThrottled(200, R"({"code": 8})"));
}

// Verifies that the message names the operation, the HTTP status and the server's message
// (falling back to `error`), on one short line.
TEST(ErrorMappingTest, MessageCarriesOperationAndServerMessage) {
  EXPECT_EQ(
      StatusFromHttp("get_model", 404, R"({"code": 5, "message": "model m1 not found"})").message(),
      "get_model: HTTP 404: model m1 not found");
  EXPECT_EQ(StatusFromHttp("list_models", 403, R"({"error": "denied"})").message(),
            "list_models: HTTP 403: denied");
  EXPECT_EQ(StatusFromHttp("list_models", 500, "").message(), "list_models: HTTP 500");
  const std::string long_body(5000, 'x');
  const std::string message = StatusFromHttp("list_models", 502, long_body + "\n").message();
  EXPECT_LT(message.size(), 400u);
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

// Verifies that server text becomes valid UTF-8 on one line: bad bytes are U+FFFD, control
// characters spaces, and the cut at 300 bytes never splits a character (text that was not
// UTF-8 made the daemon's status JSON throw; found by tests/fuzz).
TEST(ErrorMappingTest, SanitizesServerTextToUtf8) {
  EXPECT_EQ(SanitizeServerText("caf\xC3\xA9\tok\n"), "caf\xC3\xA9 ok ");
  EXPECT_EQ(SanitizeServerText("a\xFF"
                               "b\xC3"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeServerText("\xC0\xAF\xED\xA0\x80"),  // overlong '/', a surrogate
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  const std::string euros = std::string(299, 'x') + "\xE2\x82\xAC\xE2\x82\xAC";
  EXPECT_EQ(SanitizeServerText(euros), std::string(299, 'x') + "...");
  EXPECT_EQ(SanitizeServerText(std::string(300, 'x')), std::string(300, 'x'));

  const std::string message = StatusFromHttp("get_model", 500, "<html>\xFF\xFE</html>").message();
  EXPECT_EQ(message, "get_model: HTTP 500: <html>\xEF\xBF\xBD\xEF\xBF\xBD</html>");
  const auto parsed = ParseJson("{\"name\": \"\xFF\"}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NO_THROW((void)nlohmann::json(parsed.status().message()).dump());
}

// Verifies which statuses a read may be retried after.
TEST(ErrorMappingTest, RetryableStatuses) {
  for (int s : {408, 429, 499, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  for (int s : {200, 400, 401, 403, 404, 409, 501}) EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
}

}  // namespace
}  // namespace cmlr::api
