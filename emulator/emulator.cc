#include "emulator/emulator.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "common/atomic_file.h"
#include "emulator/admin.h"
#include "emulator/api_handlers.h"
#include "emulator/inference.h"
#include "emulator/wire.h"

namespace cmlr::emulator {

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using common::HttpRequest;
using common::HttpResponse;
using common::Status;
using common::StatusOr;
using nlohmann::json;

// The read cache is bookkeeping: bounded in entries and in bytes.
constexpr std::size_t kReadCacheEntries = 1024;
constexpr std::size_t kReadCacheBytes = 32 << 20;

std::string_view BearerKey(const HttpRequest& request) {
  const auto it = request.find(http::field::authorization);
  if (it == request.end()) return {};
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return {};
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return value;
}

}  // namespace

HttpResponse JsonResponse(unsigned http_status, const json& body) {
  HttpResponse response{static_cast<http::status>(http_status), 11};
  response.set(http::field::content_type, "application/json");
  // Invalid UTF-8 (say, from a percent-decoded id in an error message) must not throw.
  response.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

HttpResponse StatusResponse(const Status& status, bool gateway_v1) {
  return JsonResponse(static_cast<unsigned>(HttpStatusForCode(status.code(), gateway_v1)),
                      ErrorBody(status));
}

HttpResponse Emulator::ErrorResponse(unsigned http_status, const std::string& message) {
  // 413 stays 413 (a body over the limit); its code says "fix the input".
  const auto code = http_status == 413 || http_status == 400 ? common::StatusCode::kInvalidArgument
                                                             : common::StatusCode::kInternal;
  return JsonResponse(http_status, ErrorBody(Status(code, message)));
}

Emulator::Emulator(EmulatorOptions options, common::Clock& clock, Fixture fixture)
    : options_(std::move(options)),
      clock_(clock),
      fixture_(std::move(fixture)),
      quirks_(options_.quirks),
      faults_(options_.faults, options_.seed) {
  state_ = NewState();
}

std::unique_ptr<EmulatorState> Emulator::NewState() const {
  auto state =
      std::make_unique<EmulatorState>(fixture_, options_.timings, options_.seed, clock_.Now());
  for (const auto& key : options_.api_keys) state->AddApiKey(key);
  state->set_history_limit(options_.history_limit);
  state->set_quirks(quirks_);
  return state;
}

StatusOr<std::unique_ptr<Emulator>> Emulator::Create(EmulatorOptions options,
                                                     common::Clock& clock) {
  const std::string yaml =
      options.fixture_yaml.empty() ? std::string(DefaultFixtureYaml()) : options.fixture_yaml;
  CMLR_ASSIGN_OR_RETURN(Fixture fixture, ParseFixture(yaml, options.fixture_name));
  CMLR_RETURN_IF_ERROR(ValidateFaultSettings(options.faults));
  if (options.timings.build < common::Duration::zero() ||
      options.timings.deploy < common::Duration::zero()) {
    return common::InvalidArgumentError("build and deploy timings must not be negative");
  }
  std::unique_ptr<Emulator> emulator(new Emulator(std::move(options), clock, std::move(fixture)));
  const std::string& state_file = emulator->options_.state_file;
  if (!state_file.empty() && std::filesystem::exists(state_file)) {
    std::ifstream in(state_file, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    json saved = json::parse(content.str(), nullptr, false);
    if (saved.is_discarded()) {
      return common::InvalidArgumentError(fmt::format("{}: malformed JSON", state_file));
    }
    CMLR_RETURN_IF_ERROR(emulator->state_->Restore(saved).Annotate(state_file));
  }
  return emulator;
}

Status Emulator::Reset() {
  quirks_ = options_.quirks;
  state_ = NewState();
  ClearReadCache();
  calls_.Clear();
  faults_.set_settings(options_.faults);
  return Persist();
}

Status Emulator::Persist() {
  if (options_.state_file.empty()) return common::OkStatus();
  return common::WriteFileAtomically(
      options_.state_file, state_->Save().dump(-1, ' ', false, json::error_handler_t::replace));
}

net::awaitable<std::optional<HttpResponse>> Emulator::Handle(HttpRequest request) {
  const std::string_view target(request.target().data(), request.target().size());
  const auto question = target.find('?');
  std::string path(target.substr(0, question));
  std::string query(question == std::string_view::npos ? std::string_view()
                                                       : target.substr(question + 1));
  std::optional<HttpResponse> response;
  if (path == "/_emulator" || path.starts_with("/_emulator/")) {
    response = HandleAdminRequest(*this, request, path);
  } else if (path == "/model") {
    response = HandleInference(request, query);
  } else {
    response = co_await HandleApi(request, std::move(path), std::move(query));
  }
  if (options_.access_log) {
    options_.access_log(
        std::string_view(request.method_string().data(), request.method_string().size()), target,
        response ? response->result_int() : 0);
  }
  co_return response;
}

net::awaitable<std::optional<HttpResponse>> Emulator::HandleApi(const HttpRequest& request,
                                                                std::string path,
                                                                std::string query) {
  const ApiRoute route = MatchApiRoute(request.method(), path);
  if (route.operation.empty()) co_return ApiError(common::NotFoundError("Not Found"));
  if (!route.method_allowed) {
    co_return JsonResponse(405, ErrorBody(common::UnimplementedError("Method Not Allowed")));
  }
  const User* user = state_->FindUserByKey(BearerKey(request));
  if (user == nullptr) {
    co_return ApiError(
        common::UnauthenticatedError(request.find(http::field::authorization) == request.end()
                                         ? "missing Authorization: Bearer API key"
                                         : "invalid API key"));
  }
  const std::string username = user->username;
  const std::uint64_t call = calls_.Record(route.operation, route.is_write, path, clock_.Now());
  if (faults_.settings().latency > common::Duration::zero()) {
    const Status slept = co_await clock_.SleepFor(faults_.settings().latency);
    if (!slept.ok()) co_return std::nullopt;
  }
  const Fault fault = faults_.Decide(route.operation, route.is_write);
  if (fault == Fault::kReset) {
    calls_.SetStatus(call, 0);
    co_return std::nullopt;
  }
  std::optional<HttpResponse> response = InjectedFault(fault);
  if (!response) {
    response = Serve(route, path, query, request.body(), username, fault == Fault::kAmbiguous);
  }
  calls_.SetStatus(call, response->result_int());
  co_return response;
}

std::optional<HttpResponse> Emulator::InjectedFault(Fault fault) const {
  switch (fault) {
    case Fault::kThrottle: {
      HttpResponse response = ApiError(common::ResourceExhaustedError("rate limit exceeded"));
      response.set(http::field::retry_after,
                   std::to_string(faults_.settings().retry_after_seconds));
      return response;
    }
    case Fault::kError500:
      return ApiError(common::InternalError("injected internal error"));
    case Fault::kError503:
      return ApiError(common::UnavailableError("injected: service unavailable"));
    case Fault::kNone:
    case Fault::kReset:
    case Fault::kAmbiguous:
      break;
  }
  return std::nullopt;
}

HttpResponse Emulator::Serve(const ApiRoute& route, const std::string& path,
                             const std::string& query, const std::string& body,
                             const std::string& username, bool ambiguous) {
  // The user may have been replaced by a reset during the latency wait; look it up again.
  const User* user = state_->FindUser(username);
  if (user == nullptr) return ApiError(common::UnauthenticatedError("invalid API key"));
  const auto now = clock_.Now();
  state_->Settle(now);
  // Under list-lag, list answers change with time alone, which the state revision misses.
  const bool cacheable =
      !route.is_write && route.operation != "validate_api_key" && !quirks_.list_lag;
  const std::string cache_key = path + "?" + query;
  if (cacheable) {
    if (auto cached = CachedRead(cache_key)) return std::move(*cached);
  }
  const ApiContext context{.state = *state_,
                           .strict = options_.strict && !quirks_.lenient,
                           .now = now,
                           .user = *user,
                           .quirks = quirks_};
  auto result = HandleApiCall(context, route, ParseQuery(query), body);
  if (result.ok() && route.is_write) {
    const Status persisted = Persist();
    if (!persisted.ok()) result = persisted;
  }
  if (!result.ok()) return ApiError(result.status());
  if (ambiguous) return ApiError(common::InternalError("upstream request timeout"));
  HttpResponse response = JsonResponse(200, *result);
  if (cacheable && read_cache_.size() < kReadCacheEntries &&
      read_cache_bytes_ + response.body().size() <= kReadCacheBytes) {
    read_cache_bytes_ += response.body().size();
    read_cache_.emplace(cache_key, response.body());
  }
  return response;
}

std::optional<HttpResponse> Emulator::CachedRead(const std::string& key) {
  if (read_cache_revision_ != state_->revision()) {
    ClearReadCache();
    read_cache_revision_ = state_->revision();
    return std::nullopt;
  }
  const auto cached = read_cache_.find(key);
  if (cached == read_cache_.end()) return std::nullopt;
  HttpResponse response{http::status::ok, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = cached->second;
  return response;
}

void Emulator::ClearReadCache() {
  read_cache_.clear();
  read_cache_bytes_ = 0;
}

HttpResponse Emulator::ApiError(const Status& status) const {
  return StatusResponse(status, quirks_.gateway_v1_codes);
}

void Emulator::set_quirks(const Quirks& quirks) {
  quirks_ = quirks;
  state_->set_quirks(quirks);
  ClearReadCache();
}

HttpResponse Emulator::HandleInference(const HttpRequest& request, const std::string& query) {
  auto [response, model_id] = Infer(request, query);
  calls_.RecordInference(model_id, response.result_int());
  return std::move(response);
}

Emulator::Inference Emulator::Infer(const HttpRequest& request, const std::string& query) {
  auto error = [](unsigned status, std::string message) {
    return JsonResponse(status, json{{"success", false}, {"error", std::move(message)}});
  };
  if (request.method() != http::verb::post) return {error(405, "method not allowed")};
  const auto params = ParseQuery(query);
  const auto key = params.find("accessKey");
  const Model* model = key == params.end() ? nullptr : state_->FindModelByAccessKey(key->second);
  if (model == nullptr) return {error(404, "model not found: unknown accessKey")};
  if (model->auth_enabled && state_->FindUserByKey(BearerKey(request)) == nullptr) {
    return {error(401, "unauthorized: this model requires Authorization: Bearer <API key>"),
            model->id};
  }
  if (faults_.TakeModelBusy()) {
    return {error(429, "model.busy: every replica is busy; retry later"), model->id};
  }
  state_->Settle(clock_.Now());
  const Deployment* serving = nullptr;
  for (const Deployment* d : state_->DeploymentsOfModel(model->id)) {
    if (d->status == "deployed") serving = d;
  }
  if (serving == nullptr) {
    return {error(429, "model.busy: no replica of this model is deployed"), model->id};
  }
  const json body = json::parse(request.body(), nullptr, false);
  if (body.is_discarded()) return {error(400, "malformed JSON in the request body"), model->id};
  auto scored = ScoreFraud(body);
  if (!scored.ok()) return {error(400, scored.status().message()), model->id};
  return {InferenceAnswer(*serving, std::move(*scored)), model->id};
}

HttpResponse Emulator::InferenceAnswer(const Deployment& serving, json scored) const {
  // The registered version behind the serving deployment decides how well it serves.
  const Build* build = state_->FindBuild(serving.build_id);
  const RegisteredModelVersion* version =
      build == nullptr ? nullptr : state_->FindVersion(build->registered_model_version_id);
  const std::string behaviour = version == nullptr ? "" : version->run.inference;
  const std::string replica = fmt::format("{}-0", serving.id.substr(0, 8));
  const std::size_t rows = scored["predictions"].size();
  if (behaviour == "broken") {
    return JsonResponse(500, json{{"success", false},
                                  {"error",
                                   "model.error: the model raised ValueError: could not "
                                   "convert string to float"},
                                  {"ReplicaID", replica},
                                  {"StatusCode", 500}});
  }
  if (behaviour == "wrong") {
    scored = json{{"error", "feature mismatch: the model expects 15 columns, got 14"}};
  }
  return JsonResponse(200, json{{"success", true},
                                {"response", std::move(scored)},
                                {"ReplicaID", replica},
                                {"Size", rows},
                                {"StatusCode", 200}});
}

}  // namespace cmlr::emulator
