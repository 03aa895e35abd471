#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>

#include "api/http_transport.h"
#include "common/clock.h"
#include "common/status.h"
#include "config/snapshot.h"
#include "controllers/controller.h"
#include "controllers/model_status.h"
#include "daemon/daemon_metrics.h"
#include "daemon/daemon_options.h"
#include "daemon/notification_events.h"

namespace cmlr::daemon {

// Notifications of design section 12 (contract): one POST per receiver URL for each event that
// DetectEvent() (notification_events.h) finds in a pass's status, and for each rejected desired
// state.
//
// Webhook URLs are secrets: they never appear in logs, metrics or error messages. Receivers
// are named by their 1-based index, flags first, then the lines of --notify-url-file.

// A receiver URL as the transport wants it: scheme, host and port, and the request target
// (path and query, "/" when the URL has no path).
struct ReceiverUrl {
  api::BaseUrl base;
  std::string target;
};

// Splits "http[s]://host[:port][/path][?query]". INVALID_ARGUMENT naming `source` and the
// receiver's index (never the URL) for anything else: another scheme, user info, a fragment,
// a bad host or port, spaces or control characters.
[[nodiscard]] common::StatusOr<ReceiverUrl> ParseReceiverUrl(std::string_view url,
                                                             std::string_view source,
                                                             std::size_t index);

// The URLs of a --notify-url-file: one per line, surrounding white space trimmed; blank lines
// and lines starting with '#' are skipped.
std::vector<std::string> ParseUrlFile(std::string_view text);

// Every receiver URL of the options: the --notify-url flags, then the file's lines.
// INVALID_ARGUMENT naming --notify-url-file when it cannot be read.
[[nodiscard]] common::StatusOr<std::vector<std::string>> ReceiverUrls(const DaemonOptions& options);

struct NotifierOptions {
  NotificationFormat format = NotificationFormat::kJson;
  // Per receiver. When full, the oldest waiting notification is dropped (counted "dropped").
  std::size_t queue_capacity = 256;
  // A notification is retried (5xx, 408, 429, network failure) with exponential backoff and
  // full jitter until this long after its first attempt, then counted "failed".
  common::Duration retry_for = std::chrono::minutes(5);
  common::Duration backoff_initial = std::chrono::seconds(1);
  common::Duration backoff_max = std::chrono::seconds(60);
  // Connect (and TLS handshake), and then writing the request and reading the answer, each.
  common::Duration request_timeout = std::chrono::seconds(10);
  std::string ca_file;  // extra trust anchors for https receivers (--ca-file)
  std::uint64_t jitter_seed = 0x6e6f74696679ULL;
};

// Watches the statuses the controller reports and sends the events they call for, without
// ever delaying a reconcile: Observe() and DesiredStateRejected() only enqueue (O(1), never
// blocking), and each receiver is served by its own coroutine on the executor, in order, one
// notification at a time. 2xx is "sent"; 4xx other than 408 and 429 is "failed" at once; 5xx,
// 408, 429 and network failures are retried (honouring Retry-After within the retry window).
//
// Everything runs on the executor's single thread. `clock` (waits between retries) and
// `metrics` (may be null) must outlive the notifier.
class Notifier {
 public:
  // INVALID_ARGUMENT naming the flag and receiver index for a malformed URL or a CA file the
  // transport cannot load. Plain http is allowed (in-cluster receivers often use it), with
  // one start-up warning per receiver outside loopback, naming its index only.
  [[nodiscard]] static common::StatusOr<std::unique_ptr<Notifier>> Create(
      boost::asio::any_io_executor executor, common::Clock& clock, std::vector<std::string> urls,
      NotifierOptions options, DaemonMetrics* metrics, std::shared_ptr<spdlog::logger> logger,
      std::string_view source = "--notify-url");

  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  std::size_t receivers() const { return receivers_.size(); }

  // Starts one sending coroutine per receiver. Stop() ends them (a request in flight is
  // cancelled) and drops what is still queued, uncounted; idempotent, also run on destruction.
  void Start();
  void Stop();

  // Registers Observe() as a status observer of `controller`, which must outlive the notifier
  // or stop calling it first.
  void Attach(controllers::Controller& controller);

  // One pass's status (a Controller status observer). `desired` is the desired state in force:
  // its revision goes into the notification, and the notifier forgets the models it no longer
  // holds (a model that comes back starts over as a first pass).
  void Observe(const controllers::ModelStatus& status,
               std::shared_ptr<const config::Snapshot> desired);

  // A rejected desired state: `errors` errors, the first one `first_error`. The watcher
  // re-reads a broken tree at every resync: the same rejection (errors, first error, revision)
  // is told once, until DesiredStateAccepted().
  void DesiredStateRejected(std::size_t errors, std::string_view first_error,
                            std::optional<std::string> revision);
  // A desired state loaded without error: the next rejection is told whatever it is.
  void DesiredStateAccepted() { last_rejection_.reset(); }

  // Queues `notification` for every receiver.
  void Enqueue(const Notification& notification);

  // Notifications waiting for `receiver` (0-based), not counting the one in flight.
  std::size_t queued(std::size_t receiver) const;
  // Models with a remembered summary.
  std::size_t models_known() const { return previous_.size(); }

  // One receiver's queue and connection (defined in notifier.cc).
  struct Receiver;

 private:
  Notifier(boost::asio::any_io_executor executor, common::Clock& clock, NotifierOptions options,
           DaemonMetrics* metrics, std::shared_ptr<spdlog::logger> logger);

  boost::asio::any_io_executor executor_;
  common::Clock& clock_;
  NotifierOptions options_;
  DaemonMetrics* metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  // Shared with each receiver's coroutine, so that a frame outliving the notifier (the
  // io_context stopped mid-send) never touches freed state.
  std::vector<std::shared_ptr<Receiver>> receivers_;
  std::map<std::string, ModelSummary, std::less<>> previous_;
  std::shared_ptr<const config::Snapshot> desired_;
  std::optional<std::string> last_rejection_;
  bool started_ = false;
};

// The notifier of `cml-reconciler run`: receivers from --notify-url and --notify-url-file,
// format from --notify-format, trust anchors from --ca-file; already started. Without any
// receiver it exists and does nothing. Errors name the flag and the receiver index, never a URL.
[[nodiscard]] common::StatusOr<std::unique_ptr<Notifier>> CreateNotifier(
    boost::asio::any_io_executor executor, common::Clock& clock, const DaemonOptions& options,
    DaemonMetrics& metrics, std::shared_ptr<spdlog::logger> logger);

}  // namespace cmlr::daemon
