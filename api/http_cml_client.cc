#include "api/http_cml_client.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "api/error_mapping.h"
#include "api/http_response.h"
#include "api/http_transport.h"
#include "api/token_bucket.h"
#include "common/jitter.h"

namespace cmlr::api {

namespace net = boost::asio;
namespace http = boost::beast::http;
using common::Status;
using common::StatusCode;
using common::StatusOr;
using nlohmann::json;

namespace {

enum class CallKind { kRead, kWrite };

// The outcome of one logical request (after retries): the parsed 2xx body or the error.
struct Outcome {
  StatusOr<json> body;
  int http_status = 0;
};

// Rebuilds a status with a new message, keeping its flags.
Status WithMessage(const Status& status, std::string message) {
  Status out(status.code(), std::move(message));
  if (status.http_status() != 0) out = std::move(out).WithHttpStatus(status.http_status());
  if (status.outcome_unknown()) out = std::move(out).WithOutcomeUnknown();
  return out;
}

std::string Segment(const std::string& id) { return PercentEncode(id); }

}  // namespace

class HttpCmlClient::Impl {
 public:
  Impl(common::Clock& clock, HttpCmlClientOptions options, BaseUrl url,
       std::unique_ptr<HttpTransport> transport, prometheus::Registry& registry,
       std::shared_ptr<spdlog::logger> logger)
      : clock_(clock),
        options_(std::move(options)),
        url_(std::move(url)),
        transport_(std::move(transport)),
        logger_(std::move(logger)),
        bucket_(clock, options_.qps, options_.burst),
        jitter_(options_.jitter_seed),
        requests_(prometheus::BuildCounter()
                      .Name("cml_reconciler_api_requests_total")
                      .Help("HTTP requests sent to the CML API, by operation and HTTP status "
                            "(\"error\" for transport failures)")
                      .Register(registry)),
        durations_(prometheus::BuildHistogram()
                       .Name("cml_reconciler_api_request_duration_seconds")
                       .Help("Duration of one HTTP request to the CML API")
                       .Register(registry)),
        throttled_(prometheus::BuildCounter()
                       .Name("cml_reconciler_api_throttled_seconds_total")
                       .Help("Time spent waiting on the client-side rate limit or a Retry-After")
                       .Register(registry)
                       .Add({})),
        retries_(prometheus::BuildCounter()
                     .Name("cml_reconciler_api_retries_total")
                     .Help("CML API requests sent again after a transient failure or a 429")
                     .Register(registry)) {}

  // What one exchange's result means: a final outcome (`done`), or an error that may be retried.
  struct Judgement {
    std::optional<Outcome> done;
    Status status;
    bool retryable = false;
    bool server_said_when = false;  // a Retry-After paused the bucket: no backoff of our own
    int http_status = 0;
  };

  Judgement Judge(const std::string& op, TransportResult& result, bool write) {
    Judgement judged;
    if (!result.response.ok()) {
      requests_.Add({{"operation", op}, {"code", "error"}}).Increment();
      const Status& failure = result.response.status();
      if (write && result.request_sent) {
        judged.status = common::UnavailableError(op + ": " + failure.message() +
                                                 "; the request was sent, its outcome is unknown")
                            .WithOutcomeUnknown();
      } else {
        judged.status = WithMessage(failure, op + ": " + failure.message());
        judged.retryable = !write && failure.code() == StatusCode::kUnavailable;
      }
      return judged;
    }
    ResponseReading reading = ReadResponse(op, *result.response, clock_.Now());
    const int http_status = judged.http_status = reading.http_status;
    requests_.Add({{"operation", op}, {"code", std::to_string(http_status)}}).Increment();
    if (reading.retry_after.has_value()) {
      bucket_.PauseUntil(clock_.Now() + std::min(*reading.retry_after, options_.max_retry_after));
      judged.server_said_when = true;
    }
    if (http_status >= 200 && http_status <= 299) {
      judged.done =
          reading.body.ok()
              ? Outcome{std::move(reading.body), http_status}
              : Outcome{Malformed(op, reading.body.status(), write, http_status), http_status};
      return judged;
    }
    judged.status = reading.body.status();
    if (reading.throttled) {
      judged.retryable = true;  // the server did not process it: safe for writes as well
    } else if (write) {
      if (IsRetryableHttpStatus(http_status)) {
        judged.status = common::UnavailableError(judged.status.message() +
                                                 "; the outcome of the write is unknown")
                            .WithHttpStatus(http_status)
                            .WithOutcomeUnknown();
      }
    } else {
      judged.retryable = IsRetryableHttpStatus(http_status);
    }
    return judged;
  }

  // One request, with the rate limit, retries of reads and 429s, and the error mapping.
  net::awaitable<Outcome> Execute(std::string_view operation, http::verb method, std::string target,
                                  std::optional<json> body, CallKind kind) {
    const bool write = kind == CallKind::kWrite;
    const std::string op(operation);
    std::optional<std::string> payload;
    if (body.has_value()) payload = body->dump();
    int attempt = 0;
    int http_status = 0;
    while (true) {
      StatusOr<common::Duration> waited = co_await bucket_.Acquire();
      if (!waited.ok()) {
        co_return Outcome{common::CancelledError(op + ": cancelled while rate limited"),
                          http_status};
      }
      throttled_.Increment(common::ToSeconds(*waited));

      HttpRequest request{method, url_.path_prefix + target, 11};
      request.set(http::field::authorization,
                  "Bearer " + options_.api_key_source->Current().Reveal());
      request.set(http::field::accept, "application/json");
      request.set(http::field::user_agent, options_.user_agent);
      if (payload.has_value()) {
        request.set(http::field::content_type, "application/json");
        request.body() = *payload;
      }
      const common::TimePoint sent_at = clock_.Now();
      TransportResult result = co_await transport_->Send(std::move(request));
      durations_.Add({{"operation", op}}, kBuckets)
          .Observe(common::ToSeconds(clock_.Now() - sent_at));

      Judgement judged = Judge(op, result, write);
      http_status = judged.http_status;
      if (judged.done) co_return std::move(*judged.done);
      const Status& status = judged.status;
      const bool retryable = judged.retryable;
      const bool server_said_when = judged.server_said_when;

      if (!retryable || attempt >= options_.max_read_retries) {
        co_return Outcome{Scrub(status), http_status};
      }
      ++attempt;
      retries_.Add({{"operation", op}}).Increment();
      logger_->info("Retrying CML call operation={} attempt={} reason=\"{}\"", op, attempt,
                    Scrub(status).message());
      if (!server_said_when) {
        const common::Duration backoff = jitter_.Full(common::ExponentialBackoff(
            attempt - 1, options_.retry_backoff_initial, options_.retry_backoff_max));
        Status slept = co_await clock_.SleepFor(backoff);
        if (!slept.ok()) {
          co_return Outcome{common::CancelledError(op + ": cancelled during retry backoff"),
                            http_status};
        }
      }
    }
  }

  // A 2xx body that is not what the API promises.
  Status Malformed(const std::string& op, const Status& why, bool write, int http_status) {
    if (write) {
      return Scrub(common::UnavailableError(op + ": response could not be decoded (" +
                                            why.message() + "); the outcome is unknown")
                       .WithOutcomeUnknown()
                       .WithHttpStatus(http_status));
    }
    return Scrub(common::InternalError(op + ": malformed response: " + why.message())
                     .WithHttpStatus(http_status));
  }

  // One call that answers one object.
  template <typename T, typename Decode>
  net::awaitable<StatusOr<T>> Single(std::string_view operation, http::verb method,
                                     std::string target, std::optional<json> body, CallKind kind,
                                     Decode decode) {
    const common::TimePoint start = clock_.Now();
    Outcome outcome = co_await Execute(operation, method, std::move(target), std::move(body), kind);
    StatusOr<T> result = outcome.body.status();
    if (outcome.body.ok()) {
      StatusOr<T> decoded = decode(*outcome.body);
      if (decoded.ok()) {
        result = std::move(decoded);
      } else {
        result = Malformed(std::string(operation), decoded.status(), kind == CallKind::kWrite,
                           outcome.http_status);
      }
    }
    Notify(operation, outcome.http_status, start, result.ok() ? Status() : result.status());
    co_return result;
  }

  // A list call: every page, same options.
  template <typename T>
  net::awaitable<StatusOr<std::vector<T>>> List(std::string_view operation, std::string path,
                                                ListOptions options,
                                                StatusOr<Page<T>> (*decode)(const json&)) {
    const common::TimePoint start = clock_.Now();
    int http_status = 0;
    PageFetcher<T> fetch = [this, operation, path, options, decode,
                            &http_status](std::string token) -> net::awaitable<StatusOr<Page<T>>> {
      Outcome outcome =
          co_await Execute(operation, http::verb::get, path + BuildListQuery(options, token),
                           std::nullopt, CallKind::kRead);
      http_status = outcome.http_status;
      if (!outcome.body.ok()) co_return outcome.body.status();
      StatusOr<Page<T>> page = decode(*outcome.body);
      if (!page.ok()) {
        co_return Malformed(std::string(operation), page.status(), false, outcome.http_status);
      }
      co_return page;
    };
    StatusOr<std::vector<T>> all = co_await FetchAllPages<T>(fetch, options_.max_pages);
    // Errors of the paging itself (a repeated token, the page cap) do not name the operation yet.
    const std::string prefix = std::string(operation) + ":";
    if (!all.ok() && !all.status().message().starts_with(prefix)) {
      all = WithMessage(all.status(), prefix + " " + all.status().message());
    }
    Notify(operation, http_status, start, all.ok() ? Status() : all.status());
    co_return all;
  }

  net::awaitable<StatusOr<RegisteredModel>> GetRegisteredModel(std::string model_id,
                                                               ListOptions options) {
    constexpr std::string_view kOp = "get_registered_model";
    const common::TimePoint start = clock_.Now();
    const std::string path = "/api/v2/registry/models/" + Segment(model_id);
    PageTokenTracker tracker(options_.max_pages);
    RegisteredModel model;
    int http_status = 0;
    Status status;
    for (bool first = true;; first = false) {
      Outcome outcome =
          co_await Execute(kOp, http::verb::get, path + BuildListQuery(options, tracker.token()),
                           std::nullopt, CallKind::kRead);
      http_status = outcome.http_status;
      if (!outcome.body.ok()) {
        status = outcome.body.status();
        break;
      }
      StatusOr<Page<RegisteredModelVersion>> page = DecodeRegisteredModelVersionPage(*outcome.body);
      if (!page.ok()) {
        status = Malformed(std::string(kOp), page.status(), false, http_status);
        break;
      }
      if (first) {
        StatusOr<RegisteredModel> decoded = DecodeRegisteredModel(*outcome.body);
        if (!decoded.ok()) {
          status = Malformed(std::string(kOp), decoded.status(), false, http_status);
          break;
        }
        model = std::move(*decoded);
        model.model_versions.clear();
      }
      for (auto& version : page->items) model.model_versions.push_back(std::move(version));
      StatusOr<bool> more = tracker.Next(page->next_page_token);
      if (!more.ok()) {
        status = WithMessage(more.status(), std::string(kOp) + ": " + more.status().message());
        break;
      }
      if (!*more) break;
    }
    Notify(kOp, http_status, start, status);
    if (!status.ok()) co_return status;
    co_return model;
  }

  void Notify(std::string_view operation, int http_status, common::TimePoint start,
              const Status& status) {
    const common::Duration duration = clock_.Now() - start;
    logger_->debug("Called CML operation={} http_status={} duration_ms={} result={}", operation,
                   http_status,
                   std::chrono::duration_cast<std::chrono::milliseconds>(duration).count(),
                   common::StatusCodeName(status.code()));
    if (!observer_) return;
    try {
      observer_(CallRecord{.operation = operation,
                           .http_status = http_status,
                           .duration = duration,
                           .status = status});
    } catch (const std::exception& e) {
      logger_->error("Call observer threw operation={} error=\"{}\"", operation, e.what());
    }
  }

  // The key never leaves in a message, even if a server echoes it.
  Status Scrub(const Status& status) const {
    std::string message = options_.api_key_source->Redact(status.message());
    if (message == status.message()) return status;
    return WithMessage(status, std::move(message));
  }

  common::Clock& clock_;
  HttpCmlClientOptions options_;
  BaseUrl url_;
  std::unique_ptr<HttpTransport> transport_;
  std::shared_ptr<spdlog::logger> logger_;
  TokenBucket bucket_;
  common::Jitter jitter_;
  CallObserver observer_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Counter& throttled_;
  prometheus::Family<prometheus::Counter>& retries_;
  inline static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
};

StatusOr<std::unique_ptr<HttpCmlClient>> HttpCmlClient::Create(
    net::any_io_executor executor, common::Clock& clock, HttpCmlClientOptions options,
    prometheus::Registry& registry, std::shared_ptr<spdlog::logger> logger) {
  StatusOr<BaseUrl> url = ParseBaseUrl(options.base_url);
  if (!url.ok()) return url.status();
  if (!url->tls && !options.allow_insecure_http && !IsLoopbackHost(url->host)) {
    return common::InvalidArgumentError("refusing plain http:// to " + url->host +
                                        ", which is not a loopback host: use https:// or allow "
                                        "insecure HTTP explicitly");
  }
  if (options.api_key_source == nullptr) {
    if (options.api_key.empty()) return common::InvalidArgumentError("the API key is empty");
    options.api_key_source = std::make_shared<ApiKeySource>(std::move(options.api_key));
  }
  options.api_key = Secret();
  if (logger == nullptr) return common::InvalidArgumentError("a logger is required");
  StatusOr<std::unique_ptr<HttpTransport>> transport = HttpTransport::Create(
      std::move(executor), clock, *url,
      HttpTransportOptions{.connect_timeout = options.connect_timeout,
                           .tls_handshake_timeout = options.tls_handshake_timeout,
                           .request_timeout = options.request_timeout,
                           .max_response_bytes = options.max_response_bytes,
                           .ca_file = options.ca_file});
  if (!transport.ok()) return transport.status();
  try {
    auto impl = std::make_unique<Impl>(clock, std::move(options), std::move(*url),
                                       std::move(*transport), registry, std::move(logger));
    return std::unique_ptr<HttpCmlClient>(new HttpCmlClient(std::move(impl)));
  } catch (const std::exception& e) {
    return common::InvalidArgumentError(std::string("cannot register API metrics: ") + e.what());
  }
}

HttpCmlClient::HttpCmlClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpCmlClient::~HttpCmlClient() = default;

void HttpCmlClient::SetCallObserver(CallObserver observer) {
  impl_->observer_ = std::move(observer);
}
void HttpCmlClient::CloseIdleConnections() { impl_->transport_->CloseIdle(); }
std::size_t HttpCmlClient::idle_connections() const {
  return impl_->transport_->idle_connections();
}
std::size_t HttpCmlClient::connections_opened() const {
  return impl_->transport_->connections_opened();
}
const std::shared_ptr<ApiKeySource>& HttpCmlClient::api_key_source() const {
  return impl_->options_.api_key_source;
}

namespace {

std::string ProjectModels(const std::string& project_id) {
  return "/api/v2/projects/" + Segment(project_id) + "/models";
}
std::string ModelPath(const std::string& project_id, const std::string& model_id) {
  return ProjectModels(project_id) + "/" + Segment(model_id);
}
std::string BuildsPath(const std::string& project_id, const std::string& model_id) {
  return ModelPath(project_id, model_id) + "/builds";
}
std::string DeploymentsPath(const std::string& project_id, const std::string& model_id,
                            const std::string& build_id) {
  return BuildsPath(project_id, model_id) + "/" + Segment(build_id) + "/deployments";
}

}  // namespace

CmlClient::Result<ValidateApiKeyResponse> HttpCmlClient::ValidateApiKey(
    ValidateApiKeyRequest request) {
  // A POST, but it changes nothing: retried like a read.
  co_return co_await impl_->Single<ValidateApiKeyResponse>(
      "validate_api_key", http::verb::post, "/api/v2/auth/validate_key", Encode(request),
      CallKind::kRead, DecodeValidateApiKeyResponse);
}

CmlClient::Result<std::vector<Runtime>> HttpCmlClient::ListRuntimes(ListOptions options) {
  co_return co_await impl_->List<Runtime>("list_runtimes", "/api/v2/runtimes", std::move(options),
                                          DecodeRuntimePage);
}

CmlClient::Result<std::vector<RegisteredModel>> HttpCmlClient::ListRegisteredModels(
    ListOptions options) {
  co_return co_await impl_->List<RegisteredModel>("list_registered_models",
                                                  "/api/v2/registry/models", std::move(options),
                                                  DecodeRegisteredModelPage);
}

CmlClient::Result<RegisteredModel> HttpCmlClient::GetRegisteredModel(std::string model_id,
                                                                     ListOptions version_options) {
  co_return co_await impl_->GetRegisteredModel(std::move(model_id), std::move(version_options));
}

CmlClient::Result<RegisteredModel> HttpCmlClient::CreateRegisteredModel(
    CreateRegisteredModelRequest request) {
  co_return co_await impl_->Single<RegisteredModel>("create_registered_model", http::verb::post,
                                                    "/api/v2/registry/models", Encode(request),
                                                    CallKind::kWrite, DecodeRegisteredModel);
}

CmlClient::Result<RegisteredModelVersion> HttpCmlClient::GetRegisteredModelVersion(
    std::string model_id, std::string version_id) {
  co_return co_await impl_->Single<RegisteredModelVersion>(
      "get_registered_model_version", http::verb::get,
      "/api/v2/registry/models/" + Segment(model_id) + "/versions/" + Segment(version_id),
      std::nullopt, CallKind::kRead, DecodeRegisteredModelVersion);
}

CmlClient::Result<std::vector<Model>> HttpCmlClient::ListModels(std::string project_id,
                                                                ListOptions options) {
  co_return co_await impl_->List<Model>("list_models", ProjectModels(project_id),
                                        std::move(options), DecodeModelPage);
}

CmlClient::Result<Model> HttpCmlClient::GetModel(std::string project_id, std::string model_id) {
  co_return co_await impl_->Single<Model>("get_model", http::verb::get,
                                          ModelPath(project_id, model_id), std::nullopt,
                                          CallKind::kRead, DecodeModel);
}

CmlClient::Result<Model> HttpCmlClient::CreateModel(std::string project_id,
                                                    CreateModelRequest request) {
  if (request.project_id.empty()) request.project_id = project_id;
  co_return co_await impl_->Single<Model>("create_model", http::verb::post,
                                          ProjectModels(project_id), Encode(request),
                                          CallKind::kWrite, DecodeModel);
}

CmlClient::Result<Model> HttpCmlClient::UpdateModel(std::string project_id, std::string model_id,
                                                    UpdateModelRequest request) {
  if (request.id.empty()) request.id = model_id;
  co_return co_await impl_->Single<Model>("update_model", http::verb::patch,
                                          ModelPath(project_id, model_id), Encode(request),
                                          CallKind::kWrite, DecodeModel);
}

net::awaitable<Status> HttpCmlClient::DeleteModel(std::string project_id, std::string model_id) {
  // The body is not used: no copy of it, which would recurse as deep as a server nests it.
  StatusOr<json> result = co_await impl_->Single<json>(
      "delete_model", http::verb::delete_, ModelPath(project_id, model_id), std::nullopt,
      CallKind::kWrite, [](const json&) -> StatusOr<json> { return json::object(); });
  co_return result.ok() ? Status() : result.status();
}

CmlClient::Result<std::vector<ModelBuild>> HttpCmlClient::ListModelBuilds(std::string project_id,
                                                                          std::string model_id,
                                                                          ListOptions options) {
  co_return co_await impl_->List<ModelBuild>("list_model_builds", BuildsPath(project_id, model_id),
                                             std::move(options), DecodeModelBuildPage);
}

CmlClient::Result<ModelBuild> HttpCmlClient::GetModelBuild(std::string project_id,
                                                           std::string model_id,
                                                           std::string build_id) {
  co_return co_await impl_->Single<ModelBuild>(
      "get_model_build", http::verb::get,
      BuildsPath(project_id, model_id) + "/" + Segment(build_id), std::nullopt, CallKind::kRead,
      DecodeModelBuild);
}

CmlClient::Result<ModelBuild> HttpCmlClient::CreateModelBuild(std::string project_id,
                                                              std::string model_id,
                                                              CreateModelBuildRequest request) {
  if (request.project_id.empty()) request.project_id = project_id;
  if (request.model_id.empty()) request.model_id = model_id;
  co_return co_await impl_->Single<ModelBuild>("create_model_build", http::verb::post,
                                               BuildsPath(project_id, model_id), Encode(request),
                                               CallKind::kWrite, DecodeModelBuild);
}

CmlClient::Result<std::vector<ModelDeployment>> HttpCmlClient::ListModelDeployments(
    std::string project_id, std::string model_id, std::string build_id, ListOptions options) {
  co_return co_await impl_->List<ModelDeployment>("list_model_deployments",
                                                  DeploymentsPath(project_id, model_id, build_id),
                                                  std::move(options), DecodeModelDeploymentPage);
}

CmlClient::Result<ModelDeployment> HttpCmlClient::GetModelDeployment(std::string project_id,
                                                                     std::string model_id,
                                                                     std::string build_id,
                                                                     std::string deployment_id) {
  co_return co_await impl_->Single<ModelDeployment>(
      "get_model_deployment", http::verb::get,
      DeploymentsPath(project_id, model_id, build_id) + "/" + Segment(deployment_id), std::nullopt,
      CallKind::kRead, DecodeModelDeployment);
}

CmlClient::Result<ModelDeployment> HttpCmlClient::CreateModelDeployment(
    std::string project_id, std::string model_id, std::string build_id,
    CreateModelDeploymentRequest request) {
  if (request.project_id.empty()) request.project_id = project_id;
  if (request.model_id.empty()) request.model_id = model_id;
  if (request.build_id.empty()) request.build_id = build_id;
  co_return co_await impl_->Single<ModelDeployment>(
      "create_model_deployment", http::verb::post, DeploymentsPath(project_id, model_id, build_id),
      Encode(request), CallKind::kWrite, DecodeModelDeployment);
}

CmlClient::Result<ModelDeployment> HttpCmlClient::StopModelDeployment(std::string project_id,
                                                                      std::string model_id,
                                                                      std::string build_id,
                                                                      std::string deployment_id) {
  co_return co_await impl_->Single<ModelDeployment>(
      "stop_model_deployment", http::verb::post,
      DeploymentsPath(project_id, model_id, build_id) + "/" + Segment(deployment_id) + ":stop",
      std::nullopt, CallKind::kWrite, DecodeModelDeployment);
}

CmlClient::Result<ModelDeployment> HttpCmlClient::RestartModelDeployment(
    std::string project_id, std::string model_id, std::string build_id, std::string deployment_id) {
  co_return co_await impl_->Single<ModelDeployment>(
      "restart_model_deployment", http::verb::post,
      DeploymentsPath(project_id, model_id, build_id) + "/" + Segment(deployment_id) + ":restart",
      std::nullopt, CallKind::kWrite, DecodeModelDeployment);
}

}  // namespace cmlr::api
