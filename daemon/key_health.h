#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "api/api_key.h"
#include "api/cml_client.h"
#include "common/clock.h"
#include "daemon/http_endpoints.h"

namespace cmlr::daemon {

struct KeyHealthOptions {
  // Consecutive 401/403 answers, with no 2xx in between, that make the key invalid.
  int failure_run = 3;
  // How often validate_key is asked while the key is invalid.
  common::Duration probe_interval = std::chrono::seconds(30);
};

// Whether CML accepts the API key, from the answers the daemon gets (design section 7: /readyz).
// Pure: no I/O, time passed in. The rule:
// - a 2xx answer of any call but validate_key makes the key valid (and ends a run of failures);
// - a 401 (unauthenticated) of any call makes it invalid at once;
// - a 403 is also what CML answers for a project or object the key may not see (or a missing
//   one, design 4a): one 403 changes nothing; `failure_run` consecutive 401/403 answers with no
//   2xx in between make the key invalid;
// - validate_key decides on its own: valid=true makes the key valid, valid=false or a 401/403
//   makes it invalid;
// - no answer (network), 404, 409, 429, 5xx, ... tell nothing about the key.
// The key starts valid (no evidence yet). validate_key is due (ShouldProbe) at the start, after
// every change of the key (a rotated key file), and every `probe_interval` while invalid.
class KeyHealth {
 public:
  explicit KeyHealth(KeyHealthOptions options = {}) : options_(options) {}

  // One finished CML call (api::CallRecord): its operation and HTTP status (0: no answer).
  void OnAnswer(std::string_view operation, int http_status);
  // validate_key answered 2xx with this verdict.
  void OnProbeResult(bool valid);

  bool valid() const { return valid_; }
  // 401/403 answers since the last 2xx.
  int failure_run() const { return failure_run_; }

  // Whether to ask validate_key now, with the key's generation (api::ApiKeySource).
  bool ShouldProbe(common::TimePoint now, std::uint64_t key_generation) const;
  // A probe of that key generation starts now.
  void ProbeStarted(common::TimePoint now, std::uint64_t key_generation);

 private:
  // `by_probe`: validate_key's own answer (its probe time stands).
  void SetValid(bool valid, bool by_probe);

  KeyHealthOptions options_;
  bool valid_ = true;
  int failure_run_ = 0;
  std::optional<std::uint64_t> probed_generation_;
  // The last probe since the key last became invalid; nullopt: none yet.
  std::optional<common::TimePoint> last_probe_;
};

// Keeps Readiness::authentication_failed equal to !KeyHealth::valid() for the daemon: observes
// every call of `client` (it installs the client's only CallObserver), looks at `key` every
// `tick` (a rotated key file is seen within a tick), and asks validate_key when KeyHealth says
// so. Logs each change of validity. Everything runs on the executor's thread; `clock`,
// `client`, `readiness` must outlive the monitor, and Stop() must be called before the
// io_context stops for the loop to end by itself.
class KeyHealthMonitor {
 public:
  KeyHealthMonitor(common::Clock& clock, api::CmlClient& client,
                   std::shared_ptr<api::ApiKeySource> key, Readiness& readiness,
                   std::shared_ptr<spdlog::logger> logger, KeyHealthOptions options = {},
                   common::Duration tick = std::chrono::seconds(1));
  KeyHealthMonitor(const KeyHealthMonitor&) = delete;
  KeyHealthMonitor& operator=(const KeyHealthMonitor&) = delete;

  // Starts the probe loop on `executor` (a first validate_key right away).
  void Start(boost::asio::any_io_executor executor);
  // Ends the loop (its wait is cancelled; a probe in flight finishes within its deadline).
  void Stop();

  const KeyHealth& health() const { return health_; }

 private:
  boost::asio::awaitable<void> Loop();
  void Observe(std::string_view operation, int http_status);
  void Publish();

  common::Clock& clock_;
  api::CmlClient& client_;
  std::shared_ptr<api::ApiKeySource> key_;
  Readiness& readiness_;
  std::shared_ptr<spdlog::logger> logger_;
  common::Duration tick_;
  KeyHealth health_;
  bool stopped_ = false;
  boost::asio::cancellation_signal stop_;
};

}  // namespace cmlr::daemon
