#include "controllers/verifier.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/duration.h"

namespace cmlr::controllers {

namespace net = boost::asio;

namespace {

constexpr auto kFirstBusyPause = std::chrono::milliseconds(250);
constexpr auto kMaxBusyPause = std::chrono::seconds(5);
constexpr std::size_t kMaxQuoted = 200;

// The answer's own words, short: its "error"/"message" text, else the start of the body.
std::string Quote(const nlohmann::json& body) {
  std::string text;
  if (body.is_object()) {
    for (const char* key : {"error", "message"}) {
      if (body.contains(key) && body[key].is_string()) text = body[key].get<std::string>();
      if (!text.empty()) break;
    }
  }
  if (text.empty() && !body.is_null()) {
    text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (text.size() > kMaxQuoted) text = text.substr(0, kMaxQuoted) + "...";
  return text;
}

const nlohmann::json* Find(const nlohmann::json& root, std::string_view path) {
  const nlohmann::json* node = &root;
  while (!path.empty()) {
    const std::size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return node;
}

}  // namespace

std::string JudgeAnswer(const config::VerifySpec& verify, const api::ModelAnswer& answer) {
  if (answer.http_status != verify.expect_status) {
    const std::string quoted = Quote(answer.body);
    return fmt::format("HTTP {} (expected {}){}", answer.http_status, verify.expect_status,
                       quoted.empty() ? "" : ": " + quoted);
  }
  if (verify.response_has.empty()) return "";
  const nlohmann::json* response =
      answer.body.is_object() ? Find(answer.body, "response") : nullptr;
  if (response == nullptr) return "the answer has no \"response\"";
  for (const std::string& path : verify.response_has) {
    if (Find(*response, path) == nullptr) {
      const std::string quoted = Quote(*response);
      return fmt::format("response lacks \"{}\"{}", path, quoted.empty() ? "" : ": " + quoted);
    }
  }
  return "";
}

net::awaitable<std::string> Verifier::VerifyOnce(const config::VerifySpec& verify,
                                                 const std::string& access_key, bool authenticate) {
  const common::TimePoint deadline = clock_.Now() + verify.timeout;
  common::Duration pause = kFirstBusyPause;
  for (;;) {
    const common::Duration left = deadline - clock_.Now();
    if (left <= common::Duration::zero()) {
      co_return fmt::format("no free replica (429 model.busy) within {}",
                            common::FormatDuration(verify.timeout));
    }
    auto answer = co_await service_.Call(access_key, verify.request_json, authenticate, left);
    if (!answer.ok()) co_return answer.status().message();
    if (answer->http_status != 429 || verify.expect_status == 429) {
      co_return JudgeAnswer(verify, *answer);
    }
    const common::Duration wait =
        std::min<common::Duration>(answer->retry_after.value_or(pause), kMaxBusyPause);
    pause = std::min<common::Duration>(pause * 2, kMaxBusyPause);
    if (clock_.Now() + wait >= deadline) {
      co_return fmt::format("no free replica (429 model.busy) within {}",
                            common::FormatDuration(verify.timeout));
    }
    if (!(co_await clock_.SleepFor(wait)).ok()) co_return "verification interrupted";
  }
}

net::awaitable<Verification> Verifier::Verify(config::VerifySpec verify, std::string access_key,
                                              bool authenticate) {
  for (int i = 1; i <= verify.requests; ++i) {
    const std::string failure = co_await VerifyOnce(verify, access_key, authenticate);
    if (!failure.empty()) {
      co_return Verification{
          .result = VerificationResult::kFailed,
          .at = clock_.Now(),
          .message = fmt::format("request {} of {}: {}", i, verify.requests, failure)};
    }
  }
  co_return Verification{
      .result = VerificationResult::kPassed,
      .at = clock_.Now(),
      .message = fmt::format("{} request(s) answered {}{}", verify.requests, verify.expect_status,
                             verify.response_has.empty()
                                 ? ""
                                 : fmt::format(" with {}", fmt::join(verify.response_has, ", ")))};
}

}  // namespace cmlr::controllers
