#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "api/model_service_client.h"
#include "common/clock.h"

namespace cmlr::testing {

// An in-memory model endpoint for the tests of verification (design 4b). Each call is answered
// by `answer` (by default 200 {"response": {"predictions": [0.1]}}), or by the next queued
// answer when there is one; every call is recorded. Completes without suspending.
class FakeModelService : public api::ModelServiceClient {
 public:
  struct Request {
    std::string access_key;
    std::string request_json;
    bool authenticate = false;
    common::Duration timeout{};
  };
  using Answerer = std::function<common::StatusOr<api::ModelAnswer>(const Request&)>;

  static api::ModelAnswer Good() {
    return {.http_status = 200,
            .body = {{"success", true}, {"response", {{"predictions", {0.1}}}}}};
  }
  static api::ModelAnswer Broken() {
    return {.http_status = 500, .body = {{"success", false}, {"error", "model.error: boom"}}};
  }
  static api::ModelAnswer Busy() {
    return {.http_status = 429, .body = {{"success", false}, {"error", "model.busy"}}};
  }

  void Answer(Answerer answerer) { answerer_ = std::move(answerer); }
  void AnswerAlways(api::ModelAnswer answer) {
    answerer_ = [answer](const Request&) { return answer; };
  }
  void Queue(common::StatusOr<api::ModelAnswer> answer) { queued_.push_back(std::move(answer)); }
  const std::vector<Request>& calls() const { return calls_; }

  boost::asio::awaitable<common::StatusOr<api::ModelAnswer>> Call(
      std::string access_key, std::string request_json, bool authenticate,
      common::Duration timeout) override {
    calls_.push_back({access_key, request_json, authenticate, timeout});
    if (!queued_.empty()) {
      auto answer = std::move(queued_.front());
      queued_.pop_front();
      co_return answer;
    }
    co_return answerer_(calls_.back());
  }

 private:
  Answerer answerer_ = [](const Request&) { return Good(); };
  std::deque<common::StatusOr<api::ModelAnswer>> queued_;
  std::vector<Request> calls_;
};

}  // namespace cmlr::testing
