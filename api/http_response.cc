#include "api/http_response.h"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>
#include <string>

#include <boost/beast/http/field.hpp>

#include "api/error_mapping.h"
#include "api/wire_types.h"

namespace cmlr::api {

namespace http = boost::beast::http;

ResponseReading ReadResponse(std::string_view operation, const HttpResponse& response,
                             common::TimePoint now) {
  ResponseReading reading;
  reading.http_status = static_cast<int>(response.result_int());
  reading.throttled = IsThrottled(reading.http_status, response.body());
  if (reading.throttled || reading.http_status == 503) {
    const auto found = response.find(http::field::retry_after);
    if (found != response.end()) {
      reading.retry_after = ParseRetryAfter(std::string_view(found->value()), now);
    }
  }
  if (reading.http_status >= 200 && reading.http_status <= 299) {
    if (!response.body().empty()) reading.body = ParseJson(response.body());
  } else {
    reading.body = StatusFromHttp(operation, reading.http_status, response.body());
  }
  return reading;
}

std::optional<common::Duration> ParseRetryAfter(std::string_view value, common::TimePoint now) {
  if (value.empty()) return std::nullopt;
  std::int64_t seconds = 0;
  bool digits = true;
  for (char c : value) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    seconds = std::min<std::int64_t>(seconds * 10 + (c - '0'), kMaxRetryAfter.count());
  }
  if (digits) return std::chrono::seconds(seconds);
  std::tm tm{};
  std::istringstream in{std::string(value)};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S");
  if (in.fail()) return std::nullopt;
  const std::time_t when = timegm(&tm);
  // Compared in seconds: TimePoint counts nanoseconds in 64 bits, and a date after 2262 (the
  // parser takes years up to 9999) would overflow it.
  const std::int64_t now_seconds =
      std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
  if (when <= now_seconds) return common::Duration::zero();
  if (when - now_seconds > kMaxRetryAfter.count()) return kMaxRetryAfter;
  return common::TimePoint(std::chrono::seconds(when)) - now;
}

}  // namespace cmlr::api
