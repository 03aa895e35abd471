#include "api/error_mapping.h"

#include <algorithm>
#include <string>

#include "api/wire_types.h"

namespace cmlr::api {

using common::Status;
using common::StatusCode;

namespace {

constexpr std::size_t kMaxMessageChars = 300;

// Keeps a server-provided text short and on one line.
std::string Sanitize(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxMessageChars));
  for (char c : text) {
    if (out.size() >= kMaxMessageChars) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

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

}  // namespace

bool IsRetryableHttpStatus(int http_status) {
  return http_status == 408 || http_status == 429 ||
         (http_status >= 500 && http_status <= 599 && http_status != 501);
}

Status StatusFromHttp(std::string_view operation, int http_status, std::string_view body) {
  if (http_status >= 200 && http_status <= 299) return common::OkStatus();

  StatusCode code = CodeFromHttp(http_status);
  std::string detail;
  auto parsed = ParseJson(body);
  if (parsed.ok() && parsed->is_object()) {
    auto error = DecodeRuntimeError(*parsed);
    if (error.ok()) {
      detail = !error->message.empty() ? error->message : error->error;
      const bool valid_code = error->code > 0 && error->code <= 16;
      const auto body_code = static_cast<StatusCode>(error->code);
      const bool retry_code =
          body_code == StatusCode::kUnavailable || body_code == StatusCode::kDeadlineExceeded;
      if (valid_code && http_status >= 400 && http_status <= 499 && http_status != 429 &&
          http_status != 408 && !retry_code) {
        code = body_code;
      }
    }
  } else if (!body.empty()) {
    detail = std::string(body);
  }

  std::string message = std::string(operation) + ": HTTP " + std::to_string(http_status);
  if (!detail.empty()) message += ": " + Sanitize(detail);
  return Status(code, std::move(message)).WithHttpStatus(http_status);
}

}  // namespace cmlr::api
