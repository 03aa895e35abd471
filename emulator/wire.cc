#include "emulator/wire.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "common/time_format.h"

namespace cmlr::emulator {

namespace {

using common::Status;
using common::StatusCode;
using nlohmann::json;

std::string Int64String(std::int64_t value) { return value == 0 ? "" : std::to_string(value); }

enum class Kind { kString, kBool, kInt32, kInt64, kDouble, kEnum, kMessage, kStringMap };

struct FieldSpec {
  std::string_view name;
  Kind kind;
  bool repeated = false;
  std::string_view ref;  // message definition, or enum values separated by '|'
};

using MessageSpec = std::vector<FieldSpec>;

const std::unordered_map<std::string_view, MessageSpec>& RequestDefinitions() {
  // Transcribed from the request definitions of the swagger excerpt (cml-apiv2.md 6.1).
  static const auto* const kDefinitions = new std::unordered_map<std::string_view, MessageSpec>{
      {"ValidateAPIKeyRequest", {{"audience", Kind::kString}}},
      {"Tag", {{"key", Kind::kString}, {"value", Kind::kString}}},
      {"CreateRegisteredModelRequest",
       {{"project_id", Kind::kString},
        {"experiment_id", Kind::kString},
        {"run_id", Kind::kString},
        {"model_path", Kind::kString},
        {"model_name", Kind::kString},
        {"tags", Kind::kMessage, true, "Tag"},
        {"description", Kind::kString},
        {"notes", Kind::kString},
        {"visibility", Kind::kEnum, false, "PRIVATE|PUBLIC"}}},
      {"ShortCreateModelBuild",
       {{"comment", Kind::kString},
        {"file_path", Kind::kString},
        {"function_name", Kind::kString},
        {"kernel", Kind::kString},
        {"runtime_identifier", Kind::kString},
        {"runtime_addon_identifiers", Kind::kString, true},
        {"registered_model_version_id", Kind::kString},
        {"model_root_dir", Kind::kString},
        {"build_script_path", Kind::kString}}},
      {"ShortCreateModelDeployment",
       {{"cpu", Kind::kDouble},
        {"memory", Kind::kDouble},
        {"nvidia_gpus", Kind::kInt32},
        {"environment", Kind::kStringMap},
        {"replicas", Kind::kInt32},
        {"deployment_secrets", Kind::kStringMap}}},
      {"CreateModelRequest",
       {{"project_id", Kind::kString},
        {"name", Kind::kString},
        {"description", Kind::kString},
        {"disable_authentication", Kind::kBool},
        {"registered_model_id", Kind::kString},
        {"run_as", Kind::kInt32},
        {"visibility", Kind::kString},
        {"auto_build_config", Kind::kMessage, false, "ShortCreateModelBuild"},
        {"auto_deployment_config", Kind::kMessage, false, "ShortCreateModelDeployment"},
        {"auto_build_model", Kind::kBool},
        {"auto_deploy_model", Kind::kBool},
        {"accelerator_label_id", Kind::kInt64},
        {"resource_group_id", Kind::kInt32},
        {"resource_profile_id", Kind::kInt32}}},
      {"DefaultResources",
       {{"cpu_millicores", Kind::kInt64},
        {"memory_mb", Kind::kInt64},
        {"nvidia_gpus", Kind::kInt64}}},
      {"DefaultReplicationPolicy", {{"num_replicas", Kind::kInt64}, {"type", Kind::kString}}},
      {"UpdateSingleModel",
       {{"id", Kind::kString},
        {"name", Kind::kString},
        {"description", Kind::kString},
        {"visibility", Kind::kString},
        {"default_resources", Kind::kMessage, false, "DefaultResources"},
        {"default_replication_policy", Kind::kMessage, false, "DefaultReplicationPolicy"},
        {"run_as", Kind::kInt32},
        {"accelerator_label_id", Kind::kInt64},
        {"resource_group_id", Kind::kInt32},
        {"resource_profile_id", Kind::kInt32}}},
      {"CreateModelBuildRequest",
       {{"project_id", Kind::kString},
        {"model_id", Kind::kString},
        {"comment", Kind::kString},
        {"file_path", Kind::kString},
        {"function_name", Kind::kString},
        {"kernel", Kind::kString},
        {"runtime_identifier", Kind::kString},
        {"runtime_addon_identifiers", Kind::kString, true},
        {"registered_model_version_id", Kind::kString},
        {"auto_deployment_config", Kind::kMessage, false, "ShortCreateModelDeployment"},
        {"auto_deploy_model", Kind::kBool},
        {"model_root_dir", Kind::kString},
        {"build_script_path", Kind::kString},
        {"accelerator_label_id", Kind::kInt64},
        {"resource_group_id", Kind::kInt32},
        {"resource_profile_id", Kind::kInt32}}},
      {"CreateModelDeploymentRequest",
       {{"project_id", Kind::kString},
        {"model_id", Kind::kString},
        {"build_id", Kind::kString},
        {"cpu", Kind::kDouble},
        {"memory", Kind::kDouble},
        {"nvidia_gpus", Kind::kInt32},
        {"environment", Kind::kStringMap},
        {"replicas", Kind::kInt32},
        {"accelerator_label_id", Kind::kInt64},
        {"resource_group_id", Kind::kInt32},
        {"resource_profile_id", Kind::kInt32},
        {"deployment_secrets", Kind::kStringMap}}},
  };
  return *kDefinitions;
}

std::optional<double> NumberOf(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  double parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return parsed;
}

bool IsIntegerIn(const json& value, double low, double high) {
  const auto number = NumberOf(value);
  return number && std::isfinite(*number) && std::floor(*number) == *number && *number >= low &&
         *number <= high;
}

Status WrongType(const std::string& path, std::string_view definition, std::string_view expected) {
  return common::InvalidArgumentError(
      fmt::format("invalid value for field \"{}\" of {}: expected {}", path, definition, expected));
}

Status CheckValue(const json& value, const FieldSpec& field, const std::string& path,
                  std::string_view definition, bool strict);

Status CheckMessage(const json& body, std::string_view definition, const std::string& prefix,
                    bool strict) {
  const auto& definitions = RequestDefinitions();
  const auto spec = definitions.find(definition);
  if (spec == definitions.end()) {
    return common::InternalError(fmt::format("no request definition {}", definition));
  }
  if (!body.is_object()) {
    return common::InvalidArgumentError(fmt::format("{}: expected a JSON object for {}",
                                                    prefix.empty() ? "body" : prefix, definition));
  }
  for (const auto& [key, value] : body.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const FieldSpec* field = nullptr;
    for (const auto& candidate : spec->second) {
      if (candidate.name == key) field = &candidate;
    }
    if (field == nullptr) {
      if (strict) {
        return common::InvalidArgumentError(
            fmt::format("unknown field \"{}\" in {}", path, definition));
      }
      continue;
    }
    if (value.is_null()) continue;
    if (field->repeated) {
      if (!value.is_array()) return WrongType(path, definition, "a list");
      for (std::size_t i = 0; i < value.size(); ++i) {
        CMLR_RETURN_IF_ERROR(
            CheckValue(value[i], *field, fmt::format("{}[{}]", path, i), definition, strict));
      }
    } else {
      CMLR_RETURN_IF_ERROR(CheckValue(value, *field, path, definition, strict));
    }
  }
  return common::OkStatus();
}

Status CheckValue(const json& value, const FieldSpec& field, const std::string& path,
                  std::string_view definition, bool strict) {
  switch (field.kind) {
    case Kind::kString:
      if (!value.is_string()) return WrongType(path, definition, "a string");
      break;
    case Kind::kBool:
      if (!value.is_boolean()) return WrongType(path, definition, "a boolean");
      break;
    case Kind::kInt32:
      if (!IsIntegerIn(value, std::numeric_limits<std::int32_t>::min(),
                       std::numeric_limits<std::int32_t>::max())) {
        return WrongType(path, definition, "a 32-bit integer");
      }
      break;
    case Kind::kInt64:
      if (!IsIntegerIn(value, -9.2e18, 9.2e18)) {
        return WrongType(path, definition, "a 64-bit integer (as a string)");
      }
      break;
    case Kind::kDouble:
      if (!NumberOf(value)) return WrongType(path, definition, "a number");
      break;
    case Kind::kEnum: {
      if (!value.is_string())
        return WrongType(path, definition, "one of " + std::string(field.ref));
      const std::string text = value.get<std::string>();
      bool found = false;
      std::string_view values = field.ref;
      while (!values.empty()) {
        const auto bar = values.find('|');
        if (values.substr(0, bar) == text) found = true;
        values = bar == std::string_view::npos ? std::string_view() : values.substr(bar + 1);
      }
      if (!found) return WrongType(path, definition, "one of " + std::string(field.ref));
      break;
    }
    case Kind::kStringMap:
      if (!value.is_object()) return WrongType(path, definition, "an object of strings");
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) {
          return WrongType(path + "." + key, definition, "a string (map value)");
        }
      }
      break;
    case Kind::kMessage:
      return CheckMessage(value, field.ref, path, strict);
  }
  return common::OkStatus();
}

const json* Member(const json& body, std::string_view key) {
  if (!body.is_object()) return nullptr;
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

int HttpStatusForCode(StatusCode code, bool gateway_v1) {
  if (gateway_v1) {
    switch (code) {
      case StatusCode::kResourceExhausted:
        return 403;
      case StatusCode::kFailedPrecondition:
        return 412;
      case StatusCode::kDeadlineExceeded:
      case StatusCode::kCancelled:
        return 408;
      default:
        break;
    }
  }
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kUnknown:
    case StatusCode::kInternal:
    case StatusCode::kDataLoss:
      return 500;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kUnauthenticated:
      return 401;
  }
  return 500;
}

json ErrorBody(const Status& status) {
  return json{{"error", status.message()},
              {"code", static_cast<int>(status.code())},
              {"message", status.message()},
              {"details", json::array()}};
}

void PruneZero(json& value) {
  if (value.is_array()) {
    for (auto& item : value) PruneZero(item);
    return;
  }
  if (!value.is_object()) return;
  for (auto it = value.begin(); it != value.end();) {
    PruneZero(*it);
    const json& v = *it;
    const bool zero = v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
                      (v.is_boolean() && !v.get<bool>()) ||
                      (v.is_number() && v.get<double>() == 0.0) ||
                      ((v.is_array() || v.is_object()) && v.empty());
    it = zero ? value.erase(it) : std::next(it);
  }
}

std::string FormatTime(common::TimePoint time) { return common::FormatRfc3339(time, true); }

json EncodeUser(const User* user) {
  if (user == nullptr) return json::object();
  return json{{"username", user->username}, {"name", user->name}, {"email", user->email}};
}

json EncodeRuntime(const Runtime& runtime) {
  json out{{"image_identifier", runtime.image_identifier},
           {"editor", runtime.editor},
           {"kernel", runtime.kernel},
           {"edition", runtime.edition},
           {"description", runtime.description},
           {"full_version", runtime.full_version},
           {"status", runtime.status}};
  PruneZero(out);
  return out;
}

namespace {

json MetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

json EncodeMetrics(const RegisteredModelVersion& version, bool nan_metrics) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<std::pair<std::string, double>> values(version.run.metrics.begin(),
                                                     version.run.metrics.end());
  if (nan_metrics) {
    values.emplace_back("val_loss", std::numeric_limits<double>::quiet_NaN());
    values.emplace_back("lift_max", kInf);
    values.emplace_back("lift_min", -kInf);
  }
  json metrics = json::array();
  for (const auto& [key, value] : values) {
    metrics.push_back(json{{"key", key},
                           {"value", MetricValue(value)},
                           {"timestamp", FormatTime(version.created_at)},
                           {"step", Int64String(0)}});
  }
  return metrics;
}

}  // namespace

json EncodeRegisteredModelVersion(const RegisteredModel& model,
                                  const RegisteredModelVersion& version, const User* user,
                                  const WireOptions& options) {
  json metrics = EncodeMetrics(version, options.nan_metrics);
  json out{{"model_id", model.model_id},
           {"model_version_id", version.model_version_id},
           {"number", version.number},
           {"notes", version.notes},
           {"user", EncodeUser(user)},
           {"created_at", FormatTime(version.created_at)},
           {"updated_at", FormatTime(version.updated_at)},
           {"status", version.status},
           {"model_version_metadata",
            {{"mlops_type", "MLFLOW"},
             {"project_id", version.run.project_id},
             {"owner", EncodeUser(user)},
             {"mlflow_metadata",
              {{"experiment_id", version.run.experiment_id},
               {"run_id", version.run.run_id},
               {"metrics", std::move(metrics)}}}}}};
  PruneZero(out);
  return out;
}

json EncodeRegisteredModel(const RegisteredModel& model, const User* owner,
                           const std::vector<json>* versions) {
  json out{{"model_id", model.model_id},
           {"name", model.name},
           {"description", model.description},
           {"owner", EncodeUser(owner)},
           {"visibility", model.visibility},
           {"created_at", FormatTime(model.created_at)},
           {"updated_at", FormatTime(model.updated_at)},
           {"count", static_cast<int>(model.versions.size())}};
  PruneZero(out);
  if (versions != nullptr && !versions->empty()) out["model_versions"] = *versions;
  return out;
}

json EncodeModel(const Model& model, const Project* project, const User* creator) {
  json project_json = json::object();
  if (project != nullptr) {
    project_json = json{{"public_identifier", project->public_identifier},
                        {"name", project->name},
                        {"slug", project->name}};
  }
  json out{{"id", model.id},
           {"name", model.name},
           {"description", model.description},
           {"creator", EncodeUser(creator)},
           {"access_key", model.access_key},
           {"created_at", FormatTime(model.created_at)},
           {"updated_at", FormatTime(model.updated_at)},
           {"crn", model.crn},
           {"auth_enabled", model.auth_enabled},
           {"project", std::move(project_json)},
           {"registered_model_id", model.registered_model_id},
           {"visibility", model.visibility},
           {"default_resources",
            {{"cpu_millicores", Int64String(model.default_resources.cpu_millicores)},
             {"memory_mb", Int64String(model.default_resources.memory_mb)},
             {"nvidia_gpus", Int64String(model.default_resources.nvidia_gpus)}}},
           {"default_replication_policy",
            {{"num_replicas", Int64String(model.default_num_replicas)},
             {"type", model.default_replication_type}}},
           {"run_as", model.run_as},
           {"accelerator_label_id", Int64String(model.accelerator_label_id)},
           {"resource_group_id", model.resource_group_id},
           {"resource_profile_id", model.resource_profile_id}};
  PruneZero(out);
  return out;
}

json EncodeBuild(const Build& build, const User* creator, const WireOptions& options) {
  json out{{"id", build.id},
           {"model_id", build.model_id},
           {"creator", EncodeUser(creator)},
           {"comment", build.comment},
           {"file_path", build.file_path},
           {"function_name", build.function_name},
           {"kernel", build.kernel},
           {"created_at", FormatTime(build.created_at)},
           {"updated_at", FormatTime(build.updated_at)},
           {"status", build.status},
           {"crn", build.crn},
           {"built_at", build.built_at ? FormatTime(*build.built_at) : std::string()},
           {"runtime_identifier", build.runtime_identifier},
           {"runtime_addon_identifiers", build.runtime_addon_identifiers},
           {"registered_model_version_id", build.registered_model_version_id},
           {"model_root_dir", build.model_root_dir},
           {"build_script_path", build.build_script_path}};
  PruneZero(out);
  if (options.zero_times && !build.built_at) out["built_at"] = kZeroTime;
  return out;
}

json EncodeDeployment(const Deployment& deployment, const User* deployer,
                      const WireOptions& options) {
  json out{{"project_id", deployment.project_id},
           {"model_id", deployment.model_id},
           {"build_id", deployment.build_id},
           {"id", deployment.id},
           {"cpu", deployment.cpu},
           {"memory", deployment.memory},
           {"nvidia_gpu", deployment.nvidia_gpus},
           {"created_at", FormatTime(deployment.created_at)},
           {"updated_at", FormatTime(deployment.updated_at)},
           {"stopped_at", deployment.stopped_at ? FormatTime(*deployment.stopped_at) : ""},
           {"crn", deployment.crn},
           {"deployer", EncodeUser(deployer)},
           {"status", deployment.status},
           {"replicas", deployment.replicas},
           {"accelerator_label_id", Int64String(deployment.accelerator_label_id)},
           {"resource_group_id", deployment.resource_group_id},
           {"resource_profile_id", deployment.resource_profile_id}};
  PruneZero(out);
  if (options.zero_times && !deployment.stopped_at) out["stopped_at"] = kZeroTime;
  // A JSON-encoded string, also when empty ("{}"): clients json.loads() it unconditionally.
  out["environment"] =
      json(deployment.environment).dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

Status CheckRequestBody(const json& body, std::string_view definition, bool strict) {
  return CheckMessage(body, definition, "", strict);
}

std::string GetString(const json& body, std::string_view key) {
  const json* v = Member(body, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

double GetDouble(const json& body, std::string_view key) {
  const json* v = Member(body, key);
  if (v == nullptr) return 0;
  return NumberOf(*v).value_or(0);
}

std::int64_t GetInt(const json& body, std::string_view key) {
  return static_cast<std::int64_t>(GetDouble(body, key));
}

bool GetBool(const json& body, std::string_view key) {
  const json* v = Member(body, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

std::map<std::string, std::string> GetStringMap(const json& body, std::string_view key) {
  std::map<std::string, std::string> out;
  const json* v = Member(body, key);
  if (v == nullptr || !v->is_object()) return out;
  for (const auto& [k, item] : v->items()) {
    if (item.is_string()) out[k] = item.get<std::string>();
  }
  return out;
}

std::vector<std::string> GetStringList(const json& body, std::string_view key) {
  std::vector<std::string> out;
  const json* v = Member(body, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& item : *v) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

bool Has(const json& body, std::string_view key) { return Member(body, key) != nullptr; }

}  // namespace cmlr::emulator
