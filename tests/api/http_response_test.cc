#include "api/http_response.h"

#include <chrono>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>

namespace cmlr::api {
namespace {

namespace http = boost::beast::http;
using common::StatusCode;
using std::chrono::seconds;

const common::TimePoint kNow{std::chrono::sys_days(std::chrono::year(2026) / 1 / 1)};

HttpResponse Response(unsigned status, std::string body) {
  HttpResponse response;
  response.result(status);
  response.body() = std::move(body);
  return response;
}

// Verifies that a 2xx body is parsed, an empty one being an empty object.
TEST(HttpResponseTest, ParsesSuccessBodies) {
  const ResponseReading model = ReadResponse("get_model", Response(200, R"({"id":"m-1"})"), kNow);
  EXPECT_EQ(model.http_status, 200);
  ASSERT_TRUE(model.body.ok()) << model.body.status();
  EXPECT_EQ((*model.body)["id"], "m-1");
  const ResponseReading empty = ReadResponse("delete_model", Response(204, ""), kNow);
  ASSERT_TRUE(empty.body.ok());
  EXPECT_EQ(*empty.body, nlohmann::json::object());
}

// Verifies that a 2xx body that is not JSON is INVALID_ARGUMENT.
TEST(HttpResponseTest, RejectsMalformedSuccessBody) {
  const ResponseReading reading = ReadResponse("get_model", Response(200, "{\"id\": "), kNow);
  ASSERT_FALSE(reading.body.ok());
  EXPECT_EQ(reading.body.status().code(), StatusCode::kInvalidArgument);
}

// Verifies that other statuses become the error of StatusFromHttp.
TEST(HttpResponseTest, MapsErrorStatuses) {
  const ResponseReading reading =
      ReadResponse("get_model", Response(404, R"({"code":5,"message":"no such model"})"), kNow);
  ASSERT_FALSE(reading.body.ok());
  EXPECT_EQ(reading.body.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reading.body.status().message(), "get_model: HTTP 404: no such model");
  EXPECT_EQ(reading.body.status().http_status(), 404);
  EXPECT_FALSE(reading.retry_after.has_value());
}

// Verifies that Retry-After is read on 429 and 503 only.
TEST(HttpResponseTest, ReadsRetryAfterOn429And503Only) {
  for (unsigned status : {429u, 503u, 500u}) {
    HttpResponse response = Response(status, "");
    response.set(http::field::retry_after, "7");
    const ResponseReading reading = ReadResponse("list_models", response, kNow);
    EXPECT_EQ(reading.body.status().code(), StatusCode::kUnavailable);
    if (status == 500) {
      EXPECT_FALSE(reading.retry_after.has_value());
    } else {
      EXPECT_EQ(reading.retry_after, seconds(7)) << status;
    }
  }
}

// Verifies that v1's throttling answer (403 with RESOURCE_EXHAUSTED) is throttled and has its
// Retry-After read, like a 429, while a real 403 is neither.
TEST(HttpResponseTest, ReadsThrottlingOfBothGatewayVersions) {
  for (const auto& [status, body, throttled] : std::vector<std::tuple<unsigned, std::string, bool>>{
           {429u, "", true},
           {403u, R"({"code": 8, "message": "too many requests"})", true},
           {403u, R"({"code": 7, "message": "denied"})", false},
           {503u, "", false}}) {
    HttpResponse response = Response(status, body);
    response.set(http::field::retry_after, "7");
    const ResponseReading reading = ReadResponse("list_models", response, kNow);
    EXPECT_EQ(reading.throttled, throttled) << status << " " << body;
    EXPECT_EQ(reading.retry_after.has_value(), throttled || status == 503) << status << body;
    EXPECT_EQ(reading.body.status().code(), throttled || status == 503
                                                ? StatusCode::kUnavailable
                                                : StatusCode::kPermissionDenied);
  }
}

// Verifies both forms of Retry-After, and that unreadable values are ignored.
TEST(HttpResponseTest, ParsesRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), seconds(120));
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", kNow), seconds(5));
  EXPECT_EQ(ParseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", kNow), common::Duration::zero());
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", kNow + std::chrono::milliseconds(1)),
            seconds(5) - std::chrono::milliseconds(1));
  EXPECT_FALSE(ParseRetryAfter("", kNow).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", kNow).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", kNow).has_value());
}

// Verifies that a date far ahead is cut to kMaxRetryAfter, also past the years TimePoint holds
// (found with tests/fuzz/http_response_fuzzer: no cap, and an overflow after 2262).
TEST(HttpResponseTest, CutsFarRetryAfterDates) {
  EXPECT_EQ(ParseRetryAfter("Fri, 01 Jan 2027 00:00:05 GMT", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("Fri, 01 Jan 2300 00:00:00 GMT", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", kNow), kMaxRetryAfter);
}

}  // namespace
}  // namespace cmlr::api
