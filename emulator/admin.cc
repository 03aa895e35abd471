#include "emulator/admin.h"

#include <optional>

#include <fmt/format.h>

#include "emulator/emulator.h"
#include "emulator/wire.h"

namespace cmlr::emulator {

namespace {

namespace http = boost::beast::http;
using common::Status;
using common::StatusOr;
using nlohmann::json;

StatusOr<json> ParseObject(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return common::InvalidArgumentError("expected a JSON object in the request body");
  }
  return parsed;
}

StatusOr<json> StopDeployment(Emulator& emulator, const json& body) {
  const std::string id = GetString(body, "deployment_id");
  if (id.empty()) return common::InvalidArgumentError("deployment_id is required");
  const auto now = emulator.clock().Now();
  emulator.state().Settle(now);
  CMLR_ASSIGN_OR_RETURN(const Deployment d, emulator.state().StopDeployment(id, now, true));
  return EncodeDeployment(d, emulator.state().FindUser(d.deployer));
}

StatusOr<json> CreateDeployment(Emulator& emulator, const json& body) {
  for (const char* key : {"project_id", "model_id", "build_id"}) {
    if (GetString(body, key).empty()) {
      return common::InvalidArgumentError(fmt::format("{} is required", key));
    }
  }
  const json resources = [&] {
    json copy = body;
    for (const char* key : {"project_id", "model_id", "build_id"}) copy.erase(key);
    return copy;
  }();
  CMLR_RETURN_IF_ERROR(CheckRequestBody(resources, "CreateModelDeploymentRequest", true));
  const std::string project_id = GetString(body, "project_id");
  const Project* project = emulator.state().FindProject(project_id);
  if (project == nullptr) {
    return common::NotFoundError(fmt::format("project {} not found", project_id));
  }
  const auto now = emulator.clock().Now();
  emulator.state().Settle(now);
  NewDeployment request{.project_id = project_id,
                        .model_id = GetString(body, "model_id"),
                        .build_id = GetString(body, "build_id"),
                        .cpu = GetDouble(body, "cpu"),
                        .memory = GetDouble(body, "memory"),
                        .nvidia_gpus = static_cast<int>(GetInt(body, "nvidia_gpus")),
                        .replicas = static_cast<int>(GetInt(body, "replicas")),
                        .environment = GetStringMap(body, "environment")};
  CMLR_ASSIGN_OR_RETURN(const Deployment d,
                        emulator.state().CreateDeployment(request, project->owner, now));
  return EncodeDeployment(d, emulator.state().FindUser(d.deployer));
}

StatusOr<json> StateDump(Emulator& emulator) {
  emulator.state().Settle(emulator.clock().Now());
  json dump = emulator.state().DumpForAdmin();
  dump["quirks"] = QuirksToJson(emulator.quirks());
  dump["history_limit"] = emulator.state().history_limit();
  return dump;
}

// GET and PUT of /_emulator/faults and /_emulator/quirks; nullopt for other paths.
std::optional<StatusOr<json>> DispatchSettings(Emulator& emulator, http::verb method,
                                               std::string_view path, const std::string& body) {
  const bool get = method == http::verb::get;
  if (path == "/_emulator/faults" && get) return FaultSettingsToJson(emulator.faults().settings());
  if (path == "/_emulator/quirks" && get) return QuirksToJson(emulator.quirks());
  if (method != http::verb::put) return std::nullopt;
  auto request = ParseObject(body);
  if (!request.ok()) return request.status();
  if (path == "/_emulator/faults") {
    auto settings = ParseFaultSettings(*request, emulator.faults().settings());
    if (!settings.ok()) return settings.status();
    emulator.faults().set_settings(std::move(*settings));
    return FaultSettingsToJson(emulator.faults().settings());
  }
  if (path == "/_emulator/quirks") {
    auto quirks = ParseQuirksJson(*request);
    if (!quirks.ok()) return quirks.status();
    emulator.set_quirks(*quirks);
    return QuirksToJson(emulator.quirks());
  }
  return std::nullopt;
}

StatusOr<json> Dispatch(Emulator& emulator, http::verb method, std::string_view path,
                        const std::string& body) {
  if (path == "/_emulator/state" && method == http::verb::get) return StateDump(emulator);
  if (path == "/_emulator/calls" && method == http::verb::get) return emulator.calls().ToJson();
  if (path == "/_emulator/calls" && method == http::verb::delete_) {
    emulator.calls().Clear();
    return json::object();
  }
  if (path == "/_emulator/reset" && method == http::verb::post) {
    CMLR_RETURN_IF_ERROR(emulator.Reset());
    return json::object();
  }
  if (auto settings = DispatchSettings(emulator, method, path, body)) return *settings;
  if (path == "/_emulator/drift/stop_deployment" && method == http::verb::post) {
    CMLR_ASSIGN_OR_RETURN(const json request, ParseObject(body));
    CMLR_ASSIGN_OR_RETURN(json out, StopDeployment(emulator, request));
    CMLR_RETURN_IF_ERROR(emulator.Persist());
    return out;
  }
  if (path == "/_emulator/drift/create_deployment" && method == http::verb::post) {
    CMLR_ASSIGN_OR_RETURN(const json request, ParseObject(body));
    CMLR_ASSIGN_OR_RETURN(json out, CreateDeployment(emulator, request));
    CMLR_RETURN_IF_ERROR(emulator.Persist());
    return out;
  }
  return common::NotFoundError(
      fmt::format("no admin endpoint {} {}", std::string(http::to_string(method)), path));
}

}  // namespace

common::HttpResponse HandleAdminRequest(Emulator& emulator, const common::HttpRequest& request,
                                        std::string_view path) {
  auto result = Dispatch(emulator, request.method(), path, request.body());
  if (!result.ok()) return StatusResponse(result.status());
  return JsonResponse(200, *result);
}

}  // namespace cmlr::emulator
