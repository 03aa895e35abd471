#include "api/error_mapping.h"

#include <algorithm>
#include <optional>
#include <string>

#include "api/wire_types.h"
#include "common/utf8.h"

namespace cmlr::api {

using common::Status;
using common::StatusCode;

namespace {

constexpr std::size_t kMaxMessageChars = 300;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

StatusCode CodeFromHttp(int http_status) {
  switch (http_status) {
    case 400:
    case 413:
    case 414:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 408:
    case 429:
    case 499:
      return StatusCode::kUnavailable;
    case 409:
      return StatusCode::kAborted;
    case 412:
      return StatusCode::kFailedPrecondition;
    case 501:
      return StatusCode::kUnimplemented;
    default:
      break;
  }
  if (http_status >= 500 && http_status <= 599) return StatusCode::kUnavailable;
  if (http_status >= 400 && http_status <= 499) return StatusCode::kInvalidArgument;
  return StatusCode::kUnknown;
}

// The HTTP statuses grpc-gateway sends for each gRPC code (index): v1's HTTPStatusFromCode,
// then v2's (../shared/cml-apiv2.md section 5). Later v1 releases moved DEADLINE_EXCEEDED to
// 504 and RESOURCE_EXHAUSTED to 429, which v2's column covers.
struct GatewayStatuses {
  int v1;
  int v2;
};
constexpr GatewayStatuses kGatewayStatuses[] = {
    {200, 200},  // OK
    {408, 499},  // CANCELLED
    {500, 500},  // UNKNOWN
    {400, 400},  // INVALID_ARGUMENT
    {408, 504},  // DEADLINE_EXCEEDED
    {404, 404},  // NOT_FOUND
    {409, 409},  // ALREADY_EXISTS
    {403, 403},  // PERMISSION_DENIED
    {403, 429},  // RESOURCE_EXHAUSTED
    {412, 400},  // FAILED_PRECONDITION
    {409, 409},  // ABORTED
    {400, 400},  // OUT_OF_RANGE
    {501, 501},  // UNIMPLEMENTED
    {500, 500},  // INTERNAL
    {503, 503},  // UNAVAILABLE
    {500, 500},  // DATA_LOSS
    {401, 401},  // UNAUTHENTICATED
};
constexpr int kResourceExhausted = 8;

// True when `grpc_code` is an error code that some grpc-gateway answers with `http_status`:
// only then is the body's code trusted over the status line.
bool GatewaySends(int grpc_code, int http_status) {
  if (grpc_code < 1 || grpc_code > 16) return false;
  const GatewayStatuses& statuses = kGatewayStatuses[grpc_code];
  return statuses.v1 == http_status || statuses.v2 == http_status;
}

// What the caller does next after a gRPC error code: the ones that mean "try again later"
// (cancelled, deadline, throttled, server faults) become UNAVAILABLE; the others keep their
// meaning, which StatusCode shares with gRPC.
StatusCode CodeFromGrpc(int grpc_code) {
  switch (static_cast<StatusCode>(grpc_code)) {
    case StatusCode::kCancelled:
    case StatusCode::kUnknown:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
    case StatusCode::kInternal:
    case StatusCode::kUnavailable:
    case StatusCode::kDataLoss:
      return StatusCode::kUnavailable;
    default:
      return static_cast<StatusCode>(grpc_code);
  }
}

// What an error body says: its text for the message, and the gRPC code of a runtimeError that
// a gateway would send with `http_status`.
struct ErrorBody {
  std::string detail;
  std::optional<int> grpc_code;
};

ErrorBody ReadErrorBody(int http_status, std::string_view body) {
  ErrorBody out;
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) {
    out.detail = std::string(body);
    return out;
  }
  auto error = DecodeRuntimeError(*parsed);
  if (!error.ok()) return out;
  out.detail = !error->message.empty() ? error->message : error->error;
  if (GatewaySends(error->code, http_status)) out.grpc_code = error->code;
  return out;
}

}  // namespace

std::string SanitizeServerText(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxMessageChars) + 3);
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = common::Utf8Length(text.substr(i));
    const std::string_view piece = length == 0 ? kReplacement : text.substr(i, length);
    if (out.size() + piece.size() > kMaxMessageChars) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(piece[0]);
    if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += piece;
    }
    i += length == 0 ? 1 : length;
  }
  return out;
}

bool IsRetryableHttpStatus(int http_status) {
  return http_status == 408 || http_status == 429 || http_status == 499 ||
         (http_status >= 500 && http_status <= 599 && http_status != 501);
}

bool IsThrottled(int http_status, std::string_view body) {
  if (http_status == 429) return true;
  // Parse only a body that can say so (a 403): success bodies may be megabytes.
  if (!GatewaySends(kResourceExhausted, http_status)) return false;
  return ReadErrorBody(http_status, body).grpc_code == kResourceExhausted;
}

Status StatusFromHttp(std::string_view operation, int http_status, std::string_view body) {
  if (http_status >= 200 && http_status <= 299) return common::OkStatus();
  const ErrorBody error = ReadErrorBody(http_status, body);
  const StatusCode code =
      error.grpc_code ? CodeFromGrpc(*error.grpc_code) : CodeFromHttp(http_status);
  std::string message = std::string(operation) + ": HTTP " + std::to_string(http_status);
  if (!error.detail.empty()) message += ": " + SanitizeServerText(error.detail);
  return Status(code, std::move(message)).WithHttpStatus(http_status);
}

}  // namespace cmlr::api
