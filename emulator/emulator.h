#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/clock.h"
#include "common/http_server.h"
#include "common/status.h"
#include "emulator/api_handlers.h"
#include "emulator/call_recorder.h"
#include "emulator/emulator_state.h"
#include "emulator/faults.h"
#include "emulator/quirks.h"

namespace cmlr::emulator {

struct EmulatorOptions {
  // Fixture YAML; empty: the compiled-in default fixture.
  std::string fixture_yaml;
  std::string fixture_name = "default fixture";
  // API v2 keys of the fixture's first user, on top of the fixture's own keys.
  std::vector<std::string> api_keys;
  // Reject request body fields that are not in the request's definition (400).
  bool strict = true;
  Timings timings;
  FaultSettings faults;
  std::uint64_t seed = 1;
  // When set: loaded at start when it exists, rewritten atomically after every change.
  std::string state_file;
  // Stopped or failed deployments kept per model (EmulatorState::set_history_limit); 0: all.
  std::size_t history_limit = 0;
  // Real-CML behaviours to turn on at start (and after a reset).
  Quirks quirks;
  // Called once per answered request (method, target, HTTP status) for an access log.
  std::function<void(std::string_view, std::string_view, int)> access_log;
};

// cml-emulator's request handling: the CML API v2 under /api/v2/, model inference under
// /model, and the admin API under /_emulator/. Inference (POST /model?accessKey=KEY, body
// {"request": {...}}) answers 404 for an unknown key, 401 without a valid bearer key when the
// model has authentication on, 429 model.busy while the model_busy fault counts down or no
// deployment of the model is deployed, 400 for a body ScoreFraud refuses, and then as the
// version of the serving deployment's build says: 200 {"success": true, "response":
// {"predictions": [...]}, "ReplicaID", "Size", "StatusCode"}, 500 {"success": false, "error"}
// (inference: broken), or 200 with "response": {"error": ...} and no predictions (wrong). Plug
// Handle() into a common::HttpServer and ErrorResponse() into its error responder. Single-threaded:
// everything runs on the server's executor; time comes from the Clock (latency faults wait on it
// too).
class Emulator {
 public:
  // INVALID_ARGUMENT for a bad fixture, bad fault settings or an unreadable state file.
  [[nodiscard]] static common::StatusOr<std::unique_ptr<Emulator>> Create(EmulatorOptions options,
                                                                          common::Clock& clock);

  boost::asio::awaitable<std::optional<common::HttpResponse>> Handle(common::HttpRequest request);

  // The runtimeError answer for errors the HTTP server detects itself (400, 413).
  static common::HttpResponse ErrorResponse(unsigned http_status, const std::string& message);

  EmulatorState& state() { return *state_; }
  CallRecorder& calls() { return calls_; }
  FaultInjector& faults() { return faults_; }
  const Quirks& quirks() const { return quirks_; }
  // Replaces the active quirks (answers computed before are not reused).
  void set_quirks(const Quirks& quirks);
  common::Clock& clock() { return clock_; }
  const EmulatorOptions& options() const { return options_; }

  // Back to the fixture (and the start-up fault settings and quirks), with call counts cleared.
  [[nodiscard]] common::Status Reset();
  // Writes the state file when one is configured.
  [[nodiscard]] common::Status Persist();

 private:
  Emulator(EmulatorOptions options, common::Clock& clock, Fixture fixture);
  std::unique_ptr<EmulatorState> NewState() const;

  boost::asio::awaitable<std::optional<common::HttpResponse>> HandleApi(
      const common::HttpRequest& request, std::string path, std::string query);
  std::optional<common::HttpResponse> InjectedFault(Fault fault) const;
  // Answers an authenticated API call that no fault stopped.
  common::HttpResponse Serve(const ApiRoute& route, const std::string& path,
                             const std::string& query, const std::string& body,
                             const std::string& username, bool ambiguous);
  std::optional<common::HttpResponse> CachedRead(const std::string& key);
  void ClearReadCache();
  // The runtimeError answer, with the HTTP status the quirks call for.
  common::HttpResponse ApiError(const common::Status& status) const;
  struct Inference {
    common::HttpResponse response;
    std::string model_id;  // empty: no model was found
  };
  // POST /model?accessKey=KEY, counted in calls_.
  common::HttpResponse HandleInference(const common::HttpRequest& request,
                                       const std::string& query);
  Inference Infer(const common::HttpRequest& request, const std::string& query);
  // 200 with the scores, or as the served version's `inference` says (broken, wrong).
  common::HttpResponse InferenceAnswer(const Deployment& serving, nlohmann::json scored) const;

  EmulatorOptions options_;
  common::Clock& clock_;
  Fixture fixture_;
  Quirks quirks_;
  std::unique_ptr<EmulatorState> state_;
  CallRecorder calls_;
  FaultInjector faults_;
  // Answers of reads (by target) computed at read_cache_revision_ of the state: identical reads
  // of an unchanged state are served without re-encoding (the benchmark's hot path).
  std::uint64_t read_cache_revision_ = 0;
  std::unordered_map<std::string, std::string> read_cache_;
  std::size_t read_cache_bytes_ = 0;
};

// A JSON response with the given status.
common::HttpResponse JsonResponse(unsigned http_status, const nlohmann::json& body);
// The runtimeError response for a non-OK status (HTTP status as HttpStatusForCode maps it).
common::HttpResponse StatusResponse(const common::Status& status, bool gateway_v1 = false);

}  // namespace cmlr::emulator
