#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/model_service_client.h"
#include "common/clock.h"
#include "config/model_deployment.h"
#include "controllers/model_status.h"

namespace cmlr::controllers {

// Post-deploy verification (design 4b): sends the spec's verify.request `requests` times to the
// deployed model and passes only when every answer has the expected HTTP status and every
// `responseHas` key (a dotted path) exists under the answer's "response". A 429 (model.busy:
// no replica free) is retried, after its Retry-After or a growing pause, until the request's
// `timeout` has passed since it was first sent. Never throws; the message says what failed
// ("request 2 of 3: HTTP 500: model.error: ..."). Runs on the client's executor; `service` and
// `clock` must outlive it.
class Verifier {
 public:
  Verifier(api::ModelServiceClient& service, common::Clock& clock)
      : service_(service), clock_(clock) {}

  boost::asio::awaitable<Verification> Verify(config::VerifySpec verify, std::string access_key,
                                              bool authenticate);

 private:
  // One request, 429s retried within its timeout: "" when it passed, else why not.
  boost::asio::awaitable<std::string> VerifyOnce(const config::VerifySpec& verify,
                                                 const std::string& access_key, bool authenticate);

  api::ModelServiceClient& service_;
  common::Clock& clock_;
};

// What an answer lacks against `verify` ("HTTP 500: ...", "response lacks \"predictions\""), or
// "" when it passes. Pure.
std::string JudgeAnswer(const config::VerifySpec& verify, const api::ModelAnswer& answer);

}  // namespace cmlr::controllers
