#include "daemon/notifier.h"

#include <deque>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "common/duration.h"
#include "common/jitter.h"

namespace cmlr::daemon {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxResponseBytes = 64 * 1024;

std::string_view Trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string ReplaceAll(std::string text, std::string_view what, std::string_view with) {
  if (what.empty()) return text;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

// Seconds of a Retry-After header in its delta-seconds form; nullopt for anything else.
std::optional<common::Duration> RetryAfter(const api::HttpResponse& response) {
  const auto field = response.find(http::field::retry_after);
  if (field == response.end()) return std::nullopt;
  const std::string value(Trim(std::string_view(field->value().data(), field->value().size())));
  if (value.empty() || value.size() > 6 ||
      value.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::chrono::seconds(std::stoi(value));
}

bool Retryable(unsigned status) { return status >= 500 || status == 408 || status == 429; }

}  // namespace

common::StatusOr<ReceiverUrl> ParseReceiverUrl(std::string_view url, std::string_view source,
                                               std::size_t index) {
  const auto invalid = [&](std::string_view why) {
    return common::InvalidArgumentError(
        fmt::format("{}: receiver #{}: invalid URL: {}", source, index, why));
  };
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return invalid("spaces and control characters are not allowed");
    }
  }
  if (url.find('#') != std::string_view::npos) return invalid("a fragment is not allowed");
  const std::size_t scheme_end = url.find("://");
  const std::size_t path_start =
      scheme_end == std::string_view::npos ? std::string_view::npos : url.find('/', scheme_end + 3);
  const std::size_t query_start = url.find('?');
  // The transport's parser takes no query: give it scheme://authority only, and keep path and
  // query as the request target.
  std::size_t authority_end = std::min(path_start, query_start);
  const std::string_view base = url.substr(0, authority_end);
  auto parsed = api::ParseBaseUrl(base);
  if (!parsed.ok()) {
    // Its message quotes the URL: keep only the explanation after it.
    const std::string& message = parsed.status().message();
    const std::string quoted = "\"" + std::string(base) + "\": ";
    const std::size_t at = message.find(quoted);
    return invalid(at == std::string::npos ? std::string_view("expected http[s]://host[:port]/path")
                                           : std::string_view(message).substr(at + quoted.size()));
  }
  ReceiverUrl out{.base = std::move(*parsed)};
  out.target =
      authority_end == std::string_view::npos ? "/" : std::string(url.substr(authority_end));
  if (out.target.starts_with("?")) out.target.insert(0, "/");
  return out;
}

std::vector<std::string> ParseUrlFile(std::string_view text) {
  std::vector<std::string> urls;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.starts_with('#')) continue;
    urls.emplace_back(line);
  }
  return urls;
}

common::StatusOr<std::vector<std::string>> ReceiverUrls(const DaemonOptions& options) {
  std::vector<std::string> urls = options.notify_urls;
  if (options.notify_url_file.empty()) return urls;
  std::ifstream file(options.notify_url_file, std::ios::binary);
  std::ostringstream text;
  if (file.is_open()) text << file.rdbuf();
  if (!file.is_open() || file.bad()) {
    return common::InvalidArgumentError("--notify-url-file: cannot read " +
                                        options.notify_url_file);
  }
  for (std::string& url : ParseUrlFile(text.str())) urls.push_back(std::move(url));
  return urls;
}

struct Notifier::Receiver {
  struct Pending {
    NotificationEvent event;
    std::string model;
    std::string payload;
  };

  Receiver(net::any_io_executor executor, std::size_t receiver_index, std::uint64_t seed)
      : index(receiver_index), wake(executor, net::steady_timer::time_point::max()), jitter(seed) {}

  // The transport's error messages name the host: name the receiver instead.
  std::string Redact(std::string message) const {
    message = ReplaceAll(std::move(message), host_port, fmt::format("receiver #{}", index));
    if (host.size() >= 3) message = ReplaceAll(std::move(message), host, "receiver");
    return message;
  }

  std::size_t index;  // 1-based, the only name logs use
  std::string target;
  std::string host;
  std::string host_port;
  std::unique_ptr<api::HttpTransport> transport;
  std::deque<Pending> queue;
  net::steady_timer wake;  // cancelled when something is queued or on Stop()
  net::cancellation_signal cancel;
  common::Jitter jitter;
  bool stopping = false;
  bool running = false;
};

namespace {

struct SendContext {
  common::Clock& clock;
  NotifierOptions options;
  DaemonMetrics* metrics;
  std::shared_ptr<spdlog::logger> logger;
};

void Count(DaemonMetrics* metrics, std::string_view result) {
  if (metrics != nullptr) metrics->CountNotification(result);
}

// One notification to one receiver, retried within options.retry_for.
net::awaitable<void> Deliver(std::shared_ptr<Notifier::Receiver> r,
                             Notifier::Receiver::Pending pending, SendContext& context) {
  const std::string_view event = EventName(pending.event);
  const common::TimePoint give_up_at = context.clock.Now() + context.options.retry_for;
  for (int attempt = 1;; ++attempt) {
    api::HttpRequest request{http::verb::post, r->target, 11};
    request.set(http::field::content_type, "application/json");
    request.set(http::field::user_agent, "cml-reconciler");
    request.body() = pending.payload;
    request.prepare_payload();
    api::TransportResult result =
        co_await r->transport->Send(std::move(request), context.options.request_timeout);
    if (r->stopping) co_return;
    std::string outcome;
    std::optional<common::Duration> retry_after;
    if (result.response.ok()) {
      const unsigned status = result.response->result_int();
      if (status >= 200 && status < 300) {
        Count(context.metrics, "sent");
        if (context.logger) {
          context.logger->debug("Sent notification receiver=#{} event={} model={} attempts={}",
                                r->index, event, pending.model, attempt);
        }
        co_return;
      }
      if (!Retryable(status)) {
        Count(context.metrics, "failed");
        if (context.logger) {
          context.logger->warn(
              "Failed notification receiver=#{} event={} model={} status={} retry=false", r->index,
              event, pending.model, status);
        }
        co_return;
      }
      outcome = fmt::format("status={}", status);
      retry_after = RetryAfter(*result.response);
    } else {
      outcome =
          fmt::format("status=error error=\"{}\"", r->Redact(result.response.status().message()));
    }
    common::Duration delay = r->jitter.Full(common::ExponentialBackoff(
        attempt - 1, context.options.backoff_initial, context.options.backoff_max));
    if (retry_after && *retry_after > delay) delay = *retry_after;
    if (context.clock.Now() + delay > give_up_at) {
      Count(context.metrics, "failed");
      if (context.logger) {
        context.logger->warn(
            "Failed notification receiver=#{} event={} model={} {} attempts={} retry=false",
            r->index, event, pending.model, outcome, attempt);
      }
      co_return;
    }
    if (context.logger) {
      context.logger->warn(
          "Failed notification receiver=#{} event={} model={} {} attempt={} "
          "retry_in={}",
          r->index, event, pending.model, outcome, attempt, common::FormatDuration(delay));
    }
    const common::Status slept = co_await context.clock.SleepFor(delay);
    if (!slept.ok() || r->stopping) co_return;
  }
}

// Works one receiver's queue, oldest first, until Stop().
net::awaitable<void> Serve(std::shared_ptr<Notifier::Receiver> r, SendContext context) {
  try {
    while (!r->stopping) {
      if (r->queue.empty()) {
        r->wake.expires_at(net::steady_timer::time_point::max());
        co_await r->wake.async_wait(net::as_tuple(net::use_awaitable));
        continue;
      }
      Notifier::Receiver::Pending pending = std::move(r->queue.front());
      r->queue.pop_front();
      co_await Deliver(r, std::move(pending), context);
    }
  } catch (const std::exception&) {
    // Cancelled by Stop() while waiting: nothing to report.
  }
}

}  // namespace

Notifier::Notifier(net::any_io_executor executor, common::Clock& clock, NotifierOptions options,
                   DaemonMetrics* metrics, std::shared_ptr<spdlog::logger> logger)
    : executor_(std::move(executor)),
      clock_(clock),
      options_(std::move(options)),
      metrics_(metrics),
      logger_(std::move(logger)) {}

common::StatusOr<std::unique_ptr<Notifier>> Notifier::Create(
    net::any_io_executor executor, common::Clock& clock, std::vector<std::string> urls,
    NotifierOptions options, DaemonMetrics* metrics, std::shared_ptr<spdlog::logger> logger,
    std::string_view source) {
  std::unique_ptr<Notifier> notifier(
      new Notifier(executor, clock, std::move(options), metrics, std::move(logger)));
  const NotifierOptions& o = notifier->options_;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const std::size_t index = i + 1;
    CMLR_ASSIGN_OR_RETURN(ReceiverUrl url, ParseReceiverUrl(urls[i], source, index));
    auto receiver = std::make_shared<Receiver>(executor, index, o.jitter_seed + index);
    receiver->target = url.target;
    receiver->host = url.base.host;
    receiver->host_port = url.base.host + ":" + url.base.port;
    const bool plain = !url.base.tls && !api::IsLoopbackHost(url.base.host);
    auto transport = api::HttpTransport::Create(executor, clock, std::move(url.base),
                                                {.connect_timeout = o.request_timeout,
                                                 .tls_handshake_timeout = o.request_timeout,
                                                 .request_timeout = o.request_timeout,
                                                 .max_response_bytes = kMaxResponseBytes,
                                                 .max_idle_connections = 1,
                                                 .ca_file = o.ca_file});
    if (!transport.ok()) {
      return common::InvalidArgumentError(
          fmt::format("{}: receiver #{}: {}", source, index, transport.status().message()));
    }
    receiver->transport = std::move(*transport);
    if (plain && notifier->logger_) {
      notifier->logger_->warn("Notification receiver uses plain http receiver=#{}", index);
    }
    notifier->receivers_.push_back(std::move(receiver));
  }
  return notifier;
}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  if (started_) return;
  started_ = true;
  for (const std::shared_ptr<Receiver>& r : receivers_) {
    r->running = true;
    net::co_spawn(executor_, Serve(r, SendContext{clock_, options_, metrics_, logger_}),
                  net::bind_cancellation_slot(r->cancel.slot(),
                                              [r](std::exception_ptr) { r->running = false; }));
  }
}

void Notifier::Stop() {
  for (const std::shared_ptr<Receiver>& r : receivers_) {
    if (r->stopping) continue;
    r->stopping = true;
    r->queue.clear();
    r->wake.cancel();
    if (r->running) r->cancel.emit(net::cancellation_type::terminal);
    r->transport->CloseIdle();
  }
}

void Notifier::Attach(controllers::Controller& controller) {
  controller.AddStatusObserver([this, &controller](const controllers::ModelStatus& status) {
    Observe(status, controller.desired_state());
  });
}

void Notifier::Observe(const controllers::ModelStatus& status,
                       std::shared_ptr<const config::Snapshot> desired) {
  if (receivers_.empty()) return;
  if (desired != desired_) {
    desired_ = std::move(desired);
    for (auto it = previous_.begin(); it != previous_.end();) {
      it = desired_ && desired_->Find(it->first) == nullptr ? previous_.erase(it) : std::next(it);
    }
  }
  if (status.removed || (desired_ && desired_->Find(status.name) == nullptr)) {
    previous_.erase(status.name);
    return;
  }
  const auto it = previous_.find(status.name);
  const std::optional<ModelSummary> previous =
      it == previous_.end() ? std::nullopt : std::optional<ModelSummary>(it->second);
  if (const std::optional<NotificationEvent> event = DetectEvent(previous, status)) {
    Enqueue(MakeModelNotification(*event, status,
                                  desired_ ? desired_->revision() : std::optional<std::string>(),
                                  clock_.Now()));
  }
  previous_.insert_or_assign(status.name, Summarize(status));
}

void Notifier::DesiredStateRejected(std::size_t errors, std::string_view first_error,
                                    std::optional<std::string> revision) {
  if (receivers_.empty()) return;
  std::string key = fmt::format("{}\n{}\n{}", errors, first_error, revision.value_or(""));
  if (key == last_rejection_) return;
  last_rejection_ = std::move(key);
  Enqueue(MakeRejectedNotification(errors, first_error, std::move(revision), clock_.Now()));
}

void Notifier::Enqueue(const Notification& notification) {
  if (receivers_.empty()) return;
  const std::string payload = RenderPayload(notification, options_.format);
  const std::string model = notification.model.value_or("");
  if (logger_) {
    logger_->info("Queued notification event={} model={} receivers={}",
                  EventName(notification.event), model.empty() ? "none" : model, receivers_.size());
  }
  for (const std::shared_ptr<Receiver>& r : receivers_) {
    if (r->stopping) continue;
    r->queue.push_back({notification.event, model, payload});
    if (r->queue.size() > std::max<std::size_t>(options_.queue_capacity, 1)) {
      const Receiver::Pending& dropped = r->queue.front();
      Count(metrics_, "dropped");
      if (logger_) {
        logger_->warn("Dropped notification receiver=#{} event={} model={} reason=queue_full",
                      r->index, EventName(dropped.event), dropped.model);
      }
      r->queue.pop_front();
    }
    r->wake.cancel();
  }
}

std::size_t Notifier::queued(std::size_t receiver) const {
  return receiver < receivers_.size() ? receivers_[receiver]->queue.size() : 0;
}

common::StatusOr<std::unique_ptr<Notifier>> CreateNotifier(net::any_io_executor executor,
                                                           common::Clock& clock,
                                                           const DaemonOptions& options,
                                                           DaemonMetrics& metrics,
                                                           std::shared_ptr<spdlog::logger> logger) {
  CMLR_ASSIGN_OR_RETURN(const NotificationFormat format,
                        ParseNotificationFormat(options.notify_format));
  CMLR_ASSIGN_OR_RETURN(std::vector<std::string> urls, ReceiverUrls(options));
  // Name the flag a bad URL came from; the index counts flags first, then the file's lines.
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const bool from_flag = i < options.notify_urls.size();
    CMLR_RETURN_IF_ERROR(
        ParseReceiverUrl(urls[i], from_flag ? "--notify-url" : "--notify-url-file", i + 1)
            .status());
  }
  auto notifier =
      Notifier::Create(executor, clock, std::move(urls),
                       {.format = format, .ca_file = options.ca_file}, &metrics, std::move(logger));
  if (notifier.ok()) (*notifier)->Start();
  return notifier;
}

}  // namespace cmlr::daemon
