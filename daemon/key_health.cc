#include "daemon/key_health.h"

#include <utility>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace cmlr::daemon {

namespace {

constexpr std::string_view kValidateOperation = "validate_api_key";

}  // namespace

void KeyHealth::OnAnswer(std::string_view operation, int http_status) {
  if (http_status == 0) return;  // no answer: says nothing about the key
  const bool success = http_status >= 200 && http_status <= 299;
  const bool refused = http_status == 401 || http_status == 403;
  if (operation == kValidateOperation) {
    // Its 2xx carries the verdict in the body: OnProbeResult.
    if (refused) {
      ++failure_run_;
      SetValid(false, /*by_probe=*/true);
    }
    return;
  }
  if (success) {
    failure_run_ = 0;
    SetValid(true, false);
    return;
  }
  if (!refused) return;
  ++failure_run_;
  if (http_status == 401 || failure_run_ >= options_.failure_run) SetValid(false, false);
}

void KeyHealth::OnProbeResult(bool valid) {
  if (valid) failure_run_ = 0;
  SetValid(valid, /*by_probe=*/true);
}

bool KeyHealth::ShouldProbe(common::TimePoint now, std::uint64_t key_generation) const {
  if (probed_generation_ != key_generation) return true;
  if (valid_) return false;
  return !last_probe_.has_value() || now - *last_probe_ >= options_.probe_interval;
}

void KeyHealth::ProbeStarted(common::TimePoint now, std::uint64_t key_generation) {
  probed_generation_ = key_generation;
  last_probe_ = now;
}

void KeyHealth::SetValid(bool valid, bool by_probe) {
  // A call's answer makes the key invalid: ask validate_key at once rather than at the interval.
  if (valid_ && !valid && !by_probe) last_probe_.reset();
  valid_ = valid;
}

KeyHealthMonitor::KeyHealthMonitor(common::Clock& clock, api::CmlClient& client,
                                   std::shared_ptr<api::ApiKeySource> key, Readiness& readiness,
                                   std::shared_ptr<spdlog::logger> logger, KeyHealthOptions options,
                                   common::Duration tick)
    : clock_(clock),
      client_(client),
      key_(std::move(key)),
      readiness_(readiness),
      logger_(std::move(logger)),
      tick_(tick),
      health_(options) {
  client_.SetCallObserver(
      [this](const api::CallRecord& call) { Observe(call.operation, call.http_status); });
  Publish();
}

void KeyHealthMonitor::Start(boost::asio::any_io_executor executor) {
  boost::asio::co_spawn(std::move(executor), Loop(),
                        boost::asio::bind_cancellation_slot(stop_.slot(), boost::asio::detached));
}

void KeyHealthMonitor::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_.emit(boost::asio::cancellation_type::all);
}

void KeyHealthMonitor::Observe(std::string_view operation, int http_status) {
  health_.OnAnswer(operation, http_status);
  Publish();
}

void KeyHealthMonitor::Publish() {
  const bool failed = !health_.valid();
  if (failed == readiness_.authentication_failed) return;
  readiness_.authentication_failed = failed;
  if (failed) {
    logger_->warn("CML refuses the API key; not ready until it accepts one failure_run={}",
                  health_.failure_run());
  } else {
    logger_->info("CML accepts the API key; ready");
  }
}

boost::asio::awaitable<void> KeyHealthMonitor::Loop() {
  while (!stopped_) {
    key_->Current();  // re-reads a changed key file (at most once per its check interval)
    const std::uint64_t generation = key_->generation();
    if (health_.ShouldProbe(clock_.Now(), generation)) {
      health_.ProbeStarted(clock_.Now(), generation);
      api::ValidateApiKeyRequest request;
      auto answer = co_await client_.ValidateApiKey(std::move(request));
      if (stopped_) co_return;
      if (answer.ok()) {
        health_.OnProbeResult(answer->valid);
        Publish();
      }
      // Otherwise the observer saw a 401/403, or there was no verdict (network, 5xx): the next
      // probe decides.
    }
    const common::Status slept = co_await clock_.SleepFor(tick_);
    if (!slept.ok()) co_return;
  }
}

}  // namespace cmlr::daemon
