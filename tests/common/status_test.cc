#include "common/status.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace cmlr::common {
namespace {

StatusOr<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgumentError("odd");
  return n / 2;
}

StatusOr<int> Quarter(int n) {
  CMLR_ASSIGN_OR_RETURN(int half, Half(n));
  CMLR_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int n) {
  CMLR_RETURN_IF_ERROR(Half(n).status());
  return OkStatus();
}

// Verifies that a default status is OK and prints as such.
TEST(StatusTest, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_EQ(status.ToString(), "OK");
}

// Verifies that factories set the code and message, and ToString names the code.
TEST(StatusTest, FactoriesCarryCodeAndMessage) {
  const Status status = NotFoundError("model fraud");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "model fraud");
  EXPECT_EQ(status.ToString(), "NOT_FOUND: model fraud");
  EXPECT_EQ(UnavailableError("x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(UnauthenticatedError("x").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(AbortedError("x").code(), StatusCode::kAborted);
  EXPECT_EQ(FailedPreconditionError("x").code(), StatusCode::kFailedPrecondition);
}

// Verifies that code numbers match gRPC's, which CML's runtimeError bodies carry.
TEST(StatusTest, CodesMatchGrpcNumbers) {
  EXPECT_EQ(static_cast<int>(StatusCode::kInvalidArgument), 3);
  EXPECT_EQ(static_cast<int>(StatusCode::kNotFound), 5);
  EXPECT_EQ(static_cast<int>(StatusCode::kAlreadyExists), 6);
  EXPECT_EQ(static_cast<int>(StatusCode::kPermissionDenied), 7);
  EXPECT_EQ(static_cast<int>(StatusCode::kResourceExhausted), 8);
  EXPECT_EQ(static_cast<int>(StatusCode::kInternal), 13);
  EXPECT_EQ(static_cast<int>(StatusCode::kUnavailable), 14);
  EXPECT_EQ(static_cast<int>(StatusCode::kUnauthenticated), 16);
  EXPECT_EQ(StatusCodeName(StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(99)), "UNKNOWN");
}

// Verifies that an OK status drops any message given to it.
TEST(StatusTest, OkStatusHasNoMessage) {
  EXPECT_EQ(Status(StatusCode::kOk, "ignored").message(), "");
}

// Verifies that Annotate prefixes the message and leaves OK alone.
TEST(StatusTest, AnnotatePrefixesMessage) {
  EXPECT_EQ(InvalidArgumentError("expected a number").Annotate("spec.resources.cpu").message(),
            "spec.resources.cpu: expected a number");
  EXPECT_TRUE(OkStatus().Annotate("x").ok());
}

// Verifies the outcome-unknown and HTTP status annotations survive copies.
TEST(StatusTest, CarriesOutcomeUnknownAndHttpStatus) {
  Status status = UnavailableError("reset").WithOutcomeUnknown().WithHttpStatus(503);
  const Status copy = status;
  EXPECT_TRUE(copy.outcome_unknown());
  EXPECT_EQ(copy.http_status(), 503);
  EXPECT_FALSE(UnavailableError("reset").outcome_unknown());
}

// Verifies StatusOr holds a value or an error, and the macros propagate errors.
TEST(StatusOrTest, HoldsValueOrError) {
  StatusOr<int> good = Half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  StatusOr<int> bad = Half(3);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(1).ok());
}

// Verifies that constructing a StatusOr from an OK status is reported, not silently accepted.
TEST(StatusOrTest, OkStatusBecomesInternalError) {
  StatusOr<std::string> result(OkStatus());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInternal);
}

// Verifies that move-only values work.
TEST(StatusOrTest, SupportsMoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> result(std::make_unique<int>(7));
  ASSERT_TRUE(result.ok());
  std::unique_ptr<int> owned = std::move(result).value();
  EXPECT_EQ(*owned, 7);
}

}  // namespace
}  // namespace cmlr::common
