#include "api/error_mapping.h"

#include <algorithm>
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
  if (!detail.empty()) message += ": " + SanitizeServerText(detail);
  return Status(code, std::move(message)).WithHttpStatus(http_status);
}

}  // namespace cmlr::api
