#include "controllers/verifier.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_model_service.h"

namespace cmlr::controllers {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeModelService;

config::VerifySpec Spec(int requests = 1) {
  return {.request_json = R"({"dataframe_split":{"data":[[1]]}})",
          .response_has = {"predictions"},
          .requests = requests,
          .timeout = seconds(30)};
}

class VerifierTest : public ::testing::Test {
 protected:
  Verification Verify(config::VerifySpec spec, bool authenticate = true) {
    std::optional<Verification> result;
    net::co_spawn(
        io_,
        [&]() -> net::awaitable<void> {
          result = co_await verifier_.Verify(spec, "access-1", authenticate);
        },
        net::detached);
    // Sleeps (429 pauses) complete as the fake clock advances.
    for (int i = 0; i < 2000 && !result; ++i) {
      io_.poll();
      if (!result) clock_.Advance(milliseconds(50));
    }
    EXPECT_TRUE(result) << "verification never finished";
    return result.value_or(Verification{});
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  testing::FakeClock clock_;
  FakeModelService service_;
  Verifier verifier_{service_, clock_};
};

// Verifies a passing verification: every request sent with the access key, the bearer flag
// and the canonical request, each answered 200 with the expected key.
TEST_F(VerifierTest, PassesWhenEveryAnswerHasTheKeys) {
  const Verification v = Verify(Spec(3));
  EXPECT_EQ(v.result, VerificationResult::kPassed) << v.message;
  ASSERT_EQ(service_.calls().size(), 3u);
  EXPECT_EQ(service_.calls()[0].access_key, "access-1");
  EXPECT_TRUE(service_.calls()[0].authenticate);
  EXPECT_EQ(service_.calls()[0].request_json, R"({"dataframe_split":{"data":[[1]]}})");
  EXPECT_EQ(v.message, "3 request(s) answered 200 with predictions");
}

// Verifies failures: a 500, an answer without the key, no "response" at all, and a transport
// failure, each named in the message with the request's number.
TEST_F(VerifierTest, FailsNamingWhatWasWrong) {
  service_.AnswerAlways(FakeModelService::Broken());
  Verification v = Verify(Spec(3));
  EXPECT_EQ(v.result, VerificationResult::kFailed);
  EXPECT_EQ(v.message, "request 1 of 3: HTTP 500 (expected 200): model.error: boom");
  EXPECT_EQ(service_.calls().size(), 1u);  // the first failure decides

  service_.AnswerAlways(
      {.http_status = 200, .body = {{"response", {{"error", "feature mismatch"}}}}});
  v = Verify(Spec());
  EXPECT_NE(v.message.find("response lacks \"predictions\""), std::string::npos) << v.message;

  service_.AnswerAlways({.http_status = 200, .body = {{"success", true}}});
  EXPECT_NE(Verify(Spec()).message.find("no \"response\""), std::string::npos);

  service_.Queue(common::UnavailableError("connection refused"));
  v = Verify(Spec());
  EXPECT_EQ(v.result, VerificationResult::kFailed);
  EXPECT_NE(v.message.find("connection refused"), std::string::npos) << v.message;
}

// Verifies that the second of three requests failing fails the whole.
TEST_F(VerifierTest, EveryRequestMustPass) {
  service_.Queue(FakeModelService::Good());
  service_.Queue(FakeModelService::Broken());
  const Verification v = Verify(Spec(3));
  EXPECT_EQ(v.result, VerificationResult::kFailed);
  EXPECT_TRUE(v.message.starts_with("request 2 of 3:")) << v.message;
}

// Verifies that 429 model.busy is retried within the request's timeout (honouring
// Retry-After), and fails once the timeout has passed.
TEST_F(VerifierTest, RetriesBusyWithinTheTimeout) {
  api::ModelAnswer busy = FakeModelService::Busy();
  busy.retry_after = seconds(1);
  service_.Queue(busy);
  service_.Queue(busy);
  const common::TimePoint start = clock_.Now();
  Verification v = Verify(Spec());
  EXPECT_EQ(v.result, VerificationResult::kPassed) << v.message;
  EXPECT_EQ(service_.calls().size(), 3u);
  EXPECT_GE(clock_.Now() - start, seconds(2));

  service_.AnswerAlways(FakeModelService::Busy());
  config::VerifySpec short_timeout = Spec();
  short_timeout.timeout = seconds(3);
  v = Verify(short_timeout);
  EXPECT_EQ(v.result, VerificationResult::kFailed);
  EXPECT_NE(v.message.find("429 model.busy"), std::string::npos) << v.message;
}

// Verifies the pure judgement: dotted paths under "response", and the expected status.
TEST(JudgeAnswerTest, DottedPathsAndStatus) {
  config::VerifySpec spec{.response_has = {"scores.fraud", "model"}};
  api::ModelAnswer answer{.http_status = 200,
                          .body = {{"response", {{"scores", {{"fraud", 0.2}}}, {"model", "x"}}}}};
  EXPECT_EQ(JudgeAnswer(spec, answer), "");
  answer.body["response"]["scores"].erase("fraud");
  EXPECT_TRUE(JudgeAnswer(spec, answer).starts_with("response lacks \"scores.fraud\": "))
      << JudgeAnswer(spec, answer);
  spec = {.expect_status = 201};
  EXPECT_EQ(JudgeAnswer(spec, {.http_status = 200, .body = nullptr}), "HTTP 200 (expected 201)");
}

}  // namespace
}  // namespace cmlr::controllers
