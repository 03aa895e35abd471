#include "api/wire_types.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "api/error_mapping.h"
#include "common/time_format.h"

namespace cmlr::api {

using common::Status;
using common::StatusOr;
using nlohmann::json;

namespace {

std::string Join(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string Index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Status TypeError(const std::string& path, std::string_view expected, const json& got) {
  return common::InvalidArgumentError((path.empty() ? std::string("response") : path) +
                                      ": expected " + std::string(expected) + ", got " +
                                      std::string(got.type_name()));
}

Status ValueError(const std::string& path, std::string_view what) {
  return common::InvalidArgumentError((path.empty() ? std::string("response") : path) + ": " +
                                      std::string(what));
}

// Parses a whole string as a number of type T; false on any trailing character or overflow.
template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  if (text.empty()) return false;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(begin, end, out);
  return result.ec == std::errc() && result.ptr == end;
}

// A double from a numeric string, the proto3 JSON spellings of non-finite values included.
bool ParseDouble(std::string_view text, double& out) {
  if (text == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
  } else if (text == "Infinity" || text == "-Infinity") {
    out = text[0] == '-' ? -std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::infinity();
  } else {
    return ParseNumber(text, out);
  }
  return true;
}

// A well-formed RFC 3339 time whose year TimePoint cannot hold: with a year it can hold instead,
// it parses.
bool IsOutOfRangeTime(std::string_view text) {
  if (text.size() < 4 ||
      !std::all_of(text.begin(), text.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  std::string in_range(text);
  in_range.replace(0, 4, "2000");
  return common::ParseRfc3339(in_range).ok();
}

// Any integer type, from a JSON number or a numeric string (proto3 JSON accepts both).
template <typename T>
Status ReadInteger(const json& j, const std::string& path, T& out) {
  if (j.is_number_integer() && !j.is_number_unsigned()) {
    const std::int64_t v = j.get<std::int64_t>();
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      return ValueError(path, "integer out of range");
    }
    out = static_cast<T>(v);
    return common::OkStatus();
  }
  if (j.is_number_unsigned()) {
    const std::uint64_t v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      return ValueError(path, "integer out of range");
    }
    out = static_cast<T>(v);
    return common::OkStatus();
  }
  if (j.is_number_float()) {
    const double v = j.get<double>();
    // The bound is 2^digits, the first integer above max(): max() of int64 is not a double, it
    // rounds up to 2^63, so comparing with it would let 2^63 through to an overflowing cast.
    const double limit = std::ldexp(1.0, std::numeric_limits<T>::digits);
    if (!std::isfinite(v) || std::trunc(v) != v ||
        v < static_cast<double>(std::numeric_limits<T>::min()) || v >= limit) {
      return ValueError(path, "expected an integer");
    }
    out = static_cast<T>(v);
    return common::OkStatus();
  }
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    T v{};
    if (!ParseNumber(s, v)) return ValueError(path, "expected an integer in the string");
    out = v;
    return common::OkStatus();
  }
  return TypeError(path, "an integer", j);
}

// Reads the fields of one JSON object. The first error sticks; later reads are no-ops. An
// absent or null field leaves the output at its zero value.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string path) : json_(j), path_(std::move(path)) {
    if (!j.is_object() && !j.is_null()) status_ = TypeError(path_, "an object", j);
  }

  ObjectReader& String(std::string_view key, std::string& out) {
    if (const json* v = Find(key)) {
      if (v->is_string()) {
        out = v->get<std::string>();
      } else {
        status_ = TypeError(Join(path_, key), "a string", *v);
      }
    }
    return *this;
  }

  ObjectReader& Int32(std::string_view key, std::int32_t& out) {
    if (const json* v = Find(key)) status_ = ReadInteger(*v, Join(path_, key), out);
    return *this;
  }

  ObjectReader& Int64(std::string_view key, std::int64_t& out) {
    if (const json* v = Find(key)) status_ = ReadInteger(*v, Join(path_, key), out);
    return *this;
  }

  // Non-finite values decode as they are (NaN, ±inf): proto3 JSON sends them as the strings
  // "NaN", "Infinity" and "-Infinity", and a number too large for a double reads as infinity.
  ObjectReader& Double(std::string_view key, double& out) {
    if (const json* v = Find(key)) {
      if (v->is_number()) {
        out = v->get<double>();
      } else if (v->is_string()) {
        if (!ParseDouble(v->get_ref<const std::string&>(), out)) {
          status_ = ValueError(Join(path_, key), "expected a number in the string");
        }
      } else {
        status_ = TypeError(Join(path_, key), "a number", *v);
      }
    }
    return *this;
  }

  ObjectReader& Bool(std::string_view key, bool& out) {
    if (const json* v = Find(key)) {
      if (v->is_boolean()) {
        out = v->get<bool>();
      } else if (v->is_string() && (*v == "true" || *v == "false")) {
        out = *v == "true";
      } else {
        status_ = TypeError(Join(path_, key), "a boolean", *v);
      }
    }
    return *this;
  }

  // A well-formed time outside what TimePoint holds (proto3's zero "0001-01-01T00:00:00Z",
  // years past 2261) is absent: no field the planner uses needs it, and failing the whole
  // answer for it would stop the reconciler. Text that is no time at all is still an error.
  ObjectReader& Time(std::string_view key, std::optional<common::TimePoint>& out) {
    std::string text;
    String(key, text);
    if (status_.ok() && !text.empty()) {
      auto parsed = common::ParseRfc3339(text);
      if (parsed.ok()) {
        out = *parsed;
      } else if (!IsOutOfRangeTime(text)) {
        status_ = ValueError(Join(path_, key), "expected an RFC 3339 time");
      }
    }
    return *this;
  }

  ObjectReader& StringList(std::string_view key, std::vector<std::string>& out) {
    return Array(key, out, [](const json& j, const std::string& path, std::string& item) {
      if (!j.is_string()) return TypeError(path, "a string", j);
      item = j.get<std::string>();
      return common::OkStatus();
    });
  }

  // A string map sent either as an object or, as ModelDeployment.environment is, as a string
  // holding JSON. An empty string is an empty map.
  ObjectReader& EncodedStringMap(std::string_view key, StringMap& out) {
    const json* v = Find(key);
    if (v == nullptr) return *this;
    const std::string path = Join(path_, key);
    json parsed;
    const json* object = v;
    if (v->is_string()) {
      const auto& text = v->get_ref<const std::string&>();
      if (text.empty()) return *this;
      parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        status_ = ValueError(path, "expected a JSON object in the string");
        return *this;
      }
      object = &parsed;
    }
    if (object->is_null()) return *this;
    if (!object->is_object()) {
      status_ = TypeError(path, "a string map", *object);
      return *this;
    }
    for (const auto& [name, value] : object->items()) {
      if (value.is_string()) {
        out[name] = value.get<std::string>();
      } else if (value.is_number() || value.is_boolean()) {
        out[name] = value.dump();
      } else {
        status_ = TypeError(Join(path, name), "a string", value);
        return *this;
      }
    }
    return *this;
  }

  template <typename T, typename F>
  ObjectReader& Object(std::string_view key, T& out, F decode) {
    if (const json* v = Find(key)) status_ = decode(*v, Join(path_, key), out);
    return *this;
  }

  template <typename T, typename F>
  ObjectReader& Array(std::string_view key, std::vector<T>& out, F decode) {
    const json* v = Find(key);
    if (v == nullptr) return *this;
    const std::string path = Join(path_, key);
    if (!v->is_array()) {
      status_ = TypeError(path, "an array", *v);
      return *this;
    }
    out.clear();
    out.reserve(v->size());
    for (std::size_t i = 0; i < v->size(); ++i) {
      T item{};
      status_ = decode((*v)[i], Index(path, i), item);
      if (!status_.ok()) return *this;
      out.push_back(std::move(item));
    }
    return *this;
  }

  Status status() const { return status_; }

 private:
  const json* Find(std::string_view key) const {
    if (!status_.ok() || !json_.is_object()) return nullptr;
    const auto it = json_.find(key);
    if (it == json_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json& json_;
  std::string path_;
  Status status_;
};

Status DecodeShortUser(const json& j, const std::string& path, ShortUser& out) {
  return ObjectReader(j, path)
      .String("username", out.username)
      .String("name", out.name)
      .String("email", out.email)
      .status();
}

Status DecodeTag(const json& j, const std::string& path, Tag& out) {
  return ObjectReader(j, path).String("key", out.key).String("value", out.value).status();
}

Status DecodeMetric(const json& j, const std::string& path, Metric& out) {
  return ObjectReader(j, path)
      .String("key", out.key)
      .Double("value", out.value)
      .Time("timestamp", out.timestamp)
      .Int64("step", out.step)
      .status();
}

Status DecodeMlflowMetadata(const json& j, const std::string& path, MlflowMetadata& out) {
  return ObjectReader(j, path)
      .String("experiment_id", out.experiment_id)
      .String("run_id", out.run_id)
      .Array("metrics", out.metrics, DecodeMetric)
      .Array("params", out.params, DecodeTag)
      .Array("tags", out.tags, DecodeTag)
      .status();
}

Status DecodeModelVersionMetadata(const json& j, const std::string& path,
                                  ModelVersionMetadata& out) {
  return ObjectReader(j, path)
      .String("mlops_type", out.mlops_type)
      .Array("tags", out.tags, DecodeTag)
      .String("workspace_url", out.workspace_url)
      .String("project_id", out.project_id)
      .Object("owner", out.owner, DecodeShortUser)
      .Object("mlflow_metadata", out.mlflow_metadata, DecodeMlflowMetadata)
      .status();
}

Status DecodeVersion(const json& j, const std::string& path, RegisteredModelVersion& out) {
  return ObjectReader(j, path)
      .String("model_id", out.model_id)
      .String("model_version_id", out.model_version_id)
      .String("version_name", out.version_name)
      .Int32("number", out.number)
      .String("notes", out.notes)
      .Object("user", out.user, DecodeShortUser)
      .Time("created_at", out.created_at)
      .Time("updated_at", out.updated_at)
      .String("status", out.status)
      .Object("model_version_metadata", out.model_version_metadata, DecodeModelVersionMetadata)
      .Array("tags", out.tags, DecodeTag)
      .String("error_message", out.error_message)
      .status();
}

Status DecodeRegistered(const json& j, const std::string& path, RegisteredModel& out) {
  return ObjectReader(j, path)
      .String("model_id", out.model_id)
      .String("name", out.name)
      .String("description", out.description)
      .Object("owner", out.owner, DecodeShortUser)
      .String("permission", out.permission)
      .String("visibility", out.visibility)
      .Time("created_at", out.created_at)
      .Time("updated_at", out.updated_at)
      .Int32("count", out.count)
      .Array("model_versions", out.model_versions, DecodeVersion)
      .status();
}

Status DecodeRuntimeAt(const json& j, const std::string& path, Runtime& out) {
  return ObjectReader(j, path)
      .String("image_identifier", out.image_identifier)
      .String("editor", out.editor)
      .String("kernel", out.kernel)
      .String("edition", out.edition)
      .String("description", out.description)
      .String("full_version", out.full_version)
      .String("status", out.status)
      .Int32("register_user_id", out.register_user_id)
      .status();
}

Status DecodeShortProject(const json& j, const std::string& path, ShortProject& out) {
  return ObjectReader(j, path)
      .String("public_identifier", out.public_identifier)
      .String("name", out.name)
      .String("default_project_engine", out.default_project_engine)
      .String("slug", out.slug)
      .status();
}

Status DecodeDefaultResources(const json& j, const std::string& path, DefaultResources& out) {
  return ObjectReader(j, path)
      .Int64("cpu_millicores", out.cpu_millicores)
      .Int64("memory_mb", out.memory_mb)
      .Int64("nvidia_gpus", out.nvidia_gpus)
      .status();
}

Status DecodeReplicationPolicy(const json& j, const std::string& path,
                               DefaultReplicationPolicy& out) {
  return ObjectReader(j, path)
      .Int64("num_replicas", out.num_replicas)
      .String("type", out.type)
      .status();
}

Status DecodeModelAt(const json& j, const std::string& path, Model& out) {
  return ObjectReader(j, path)
      .String("id", out.id)
      .String("name", out.name)
      .String("description", out.description)
      .Object("creator", out.creator, DecodeShortUser)
      .String("access_key", out.access_key)
      .String("deletion_status", out.deletion_status)
      .Time("created_at", out.created_at)
      .Time("updated_at", out.updated_at)
      .String("crn", out.crn)
      .Bool("auth_enabled", out.auth_enabled)
      .Object("project", out.project, DecodeShortProject)
      .String("registered_model_id", out.registered_model_id)
      .String("visibility", out.visibility)
      .Object("default_resources", out.default_resources, DecodeDefaultResources)
      .Object("default_replication_policy", out.default_replication_policy, DecodeReplicationPolicy)
      .Int32("run_as", out.run_as)
      .Int64("accelerator_label_id", out.accelerator_label_id)
      .Int32("resource_group_id", out.resource_group_id)
      .Int32("resource_profile_id", out.resource_profile_id)
      .status();
}

Status DecodeBuildAt(const json& j, const std::string& path, ModelBuild& out) {
  return ObjectReader(j, path)
      .String("id", out.id)
      .String("model_id", out.model_id)
      .Object("creator", out.creator, DecodeShortUser)
      .String("comment", out.comment)
      .String("file_path", out.file_path)
      .String("function_name", out.function_name)
      .String("engine_image", out.engine_image)
      .String("kernel", out.kernel)
      .Time("created_at", out.created_at)
      .Time("updated_at", out.updated_at)
      .String("status", out.status)
      .String("deletion_status", out.deletion_status)
      .String("crn", out.crn)
      .Time("built_at", out.built_at)
      .String("runtime_identifier", out.runtime_identifier)
      .StringList("runtime_addon_identifiers", out.runtime_addon_identifiers)
      .String("registered_model_version_id", out.registered_model_version_id)
      .String("model_root_dir", out.model_root_dir)
      .String("build_script_path", out.build_script_path)
      .status();
}

Status DecodeDeploymentAt(const json& j, const std::string& path, ModelDeployment& out) {
  return ObjectReader(j, path)
      .String("project_id", out.project_id)
      .String("model_id", out.model_id)
      .String("build_id", out.build_id)
      .String("id", out.id)
      .Double("cpu", out.cpu)
      .Double("memory", out.memory)
      .Int32("nvidia_gpu", out.nvidia_gpu)
      .EncodedStringMap("environment", out.environment)
      .Time("created_at", out.created_at)
      .Time("updated_at", out.updated_at)
      .Time("stopped_at", out.stopped_at)
      .String("crn", out.crn)
      .Object("deployer", out.deployer, DecodeShortUser)
      .String("status", out.status)
      .Int32("replicas", out.replicas)
      .Int64("accelerator_label_id", out.accelerator_label_id)
      .Int32("resource_group_id", out.resource_group_id)
      .Int32("resource_profile_id", out.resource_profile_id)
      .status();
}

// A top-level object must be an object (null included: an empty answer is an empty object).
template <typename T, typename F>
StatusOr<T> DecodeTop(const json& j, F decode) {
  T out{};
  if (j.is_null()) return out;
  Status status = decode(j, "", out);
  if (!status.ok()) return status;
  return out;
}

template <typename T, typename F>
StatusOr<Page<T>> DecodePage(const json& j, std::string_view list_key, F decode) {
  Page<T> page;
  Status status = ObjectReader(j, "")
                      .Array(list_key, page.items, decode)
                      .String("next_page_token", page.next_page_token)
                      .status();
  if (!status.ok()) return status;
  return page;
}

// The bare tokens NaN, Infinity and -Infinity that some servers write for non-finite doubles
// (Python's json module does by default); they are not JSON. A quick look first, so that
// ordinary bodies are not copied.
bool MayHoldBareNonFinite(std::string_view text) {
  return text.find("NaN") != std::string_view::npos ||
         text.find("Infinity") != std::string_view::npos;
}

// The bare token that starts `text`, or empty.
std::string_view BareNonFiniteAt(std::string_view text) {
  for (const std::string_view token : {"NaN", "Infinity", "-Infinity"}) {
    if (!text.starts_with(token)) continue;
    const char next = text.size() > token.size() ? text[token.size()] : ' ';
    if (std::isalnum(static_cast<unsigned char>(next)) == 0 && next != '_') return token;
  }
  return {};
}

// `text` with each bare token outside strings quoted ("NaN"), which double fields decode as
// proto3 JSON says. Byte offsets in parse errors shift by two per quoted token.
std::string QuoteBareNonFinite(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const std::string_view token = BareNonFiniteAt(text.substr(i));
    if (token.empty()) {
      in_string = c == '"';
      out += c;
      continue;
    }
    out += '"';
    out += token;
    out += '"';
    i += token.size() - 1;
  }
  return out;
}

// Encoding helpers: omit what was not set.
void PutString(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

template <typename T>
void PutOptional(json& j, const char* key, const std::optional<T>& value) {
  if (value.has_value()) j[key] = *value;
}

// int64 travels as a string (proto3 JSON mapping).
void PutInt64(json& j, const char* key, const std::optional<std::int64_t>& value) {
  if (value.has_value()) j[key] = std::to_string(*value);
}

void PutStringMap(json& j, const char* key, const StringMap& value) {
  if (value.empty()) return;
  json object = json::object();
  for (const auto& [k, v] : value) object[k] = v;
  j[key] = std::move(object);
}

void PutStringList(json& j, const char* key, const std::vector<std::string>& value) {
  if (!value.empty()) j[key] = value;
}

json EncodeDefaultResources(const DefaultResources& r) {
  return json{{"cpu_millicores", std::to_string(r.cpu_millicores)},
              {"memory_mb", std::to_string(r.memory_mb)},
              {"nvidia_gpus", std::to_string(r.nvidia_gpus)}};
}

json EncodeReplicationPolicy(const DefaultReplicationPolicy& p) {
  json j{{"num_replicas", std::to_string(p.num_replicas)}};
  PutString(j, "type", p.type);
  return j;
}

}  // namespace

StatusOr<json> ParseJson(std::string_view text) {
  try {
    if (MayHoldBareNonFinite(text)) return json::parse(QuoteBareNonFinite(text));
    return json::parse(text);
  } catch (const json::exception& e) {
    // what() quotes the bytes last read, which may be anything a server sent.
    return common::InvalidArgumentError("malformed JSON: " + SanitizeServerText(e.what()));
  }
}

StatusOr<Runtime> DecodeRuntime(const json& j) { return DecodeTop<Runtime>(j, DecodeRuntimeAt); }
StatusOr<RegisteredModel> DecodeRegisteredModel(const json& j) {
  return DecodeTop<RegisteredModel>(j, DecodeRegistered);
}
StatusOr<RegisteredModelVersion> DecodeRegisteredModelVersion(const json& j) {
  return DecodeTop<RegisteredModelVersion>(j, DecodeVersion);
}
StatusOr<Model> DecodeModel(const json& j) { return DecodeTop<Model>(j, DecodeModelAt); }
StatusOr<ModelBuild> DecodeModelBuild(const json& j) {
  return DecodeTop<ModelBuild>(j, DecodeBuildAt);
}
StatusOr<ModelDeployment> DecodeModelDeployment(const json& j) {
  return DecodeTop<ModelDeployment>(j, DecodeDeploymentAt);
}

StatusOr<ValidateApiKeyResponse> DecodeValidateApiKeyResponse(const json& j) {
  return DecodeTop<ValidateApiKeyResponse>(
      j, [](const json& v, const std::string& path, ValidateApiKeyResponse& out) {
        return ObjectReader(v, path)
            .Bool("valid", out.valid)
            .String("username", out.username)
            .String("message", out.message)
            .status();
      });
}

StatusOr<RuntimeError> DecodeRuntimeError(const json& j) {
  return DecodeTop<RuntimeError>(j, [](const json& v, const std::string& path, RuntimeError& out) {
    // Only their number is used. Copying them would recurse as deep as a server nests them,
    // and overflow the stack on a body of nested brackets.
    std::vector<char> details;
    Status status =
        ObjectReader(v, path)
            .String("error", out.error)
            .Int32("code", out.code)
            .String("message", out.message)
            .Array("details", details,
                   [](const json&, const std::string&, char&) { return common::OkStatus(); })
            .status();
    out.details = details.size();
    return status;
  });
}

StatusOr<Page<Runtime>> DecodeRuntimePage(const json& j) {
  return DecodePage<Runtime>(j, "runtimes", DecodeRuntimeAt);
}
StatusOr<Page<RegisteredModel>> DecodeRegisteredModelPage(const json& j) {
  return DecodePage<RegisteredModel>(j, "models", DecodeRegistered);
}
StatusOr<Page<Model>> DecodeModelPage(const json& j) {
  return DecodePage<Model>(j, "models", DecodeModelAt);
}
StatusOr<Page<ModelBuild>> DecodeModelBuildPage(const json& j) {
  return DecodePage<ModelBuild>(j, "model_builds", DecodeBuildAt);
}
StatusOr<Page<ModelDeployment>> DecodeModelDeploymentPage(const json& j) {
  return DecodePage<ModelDeployment>(j, "model_deployments", DecodeDeploymentAt);
}
StatusOr<Page<RegisteredModelVersion>> DecodeRegisteredModelVersionPage(const json& j) {
  return DecodePage<RegisteredModelVersion>(j, "model_versions", DecodeVersion);
}

json Encode(const ShortCreateModelDeployment& r) {
  json j{{"cpu", r.cpu}, {"memory", r.memory}, {"replicas", r.replicas}};
  if (r.nvidia_gpus != 0) j["nvidia_gpus"] = r.nvidia_gpus;
  PutStringMap(j, "environment", r.environment);
  PutStringMap(j, "deployment_secrets", r.deployment_secrets);
  return j;
}

json Encode(const ShortCreateModelBuild& r) {
  json j = json::object();
  PutString(j, "comment", r.comment);
  PutString(j, "file_path", r.file_path);
  PutString(j, "function_name", r.function_name);
  PutString(j, "kernel", r.kernel);
  PutString(j, "runtime_identifier", r.runtime_identifier);
  PutStringList(j, "runtime_addon_identifiers", r.runtime_addon_identifiers);
  PutString(j, "registered_model_version_id", r.registered_model_version_id);
  PutString(j, "model_root_dir", r.model_root_dir);
  PutString(j, "build_script_path", r.build_script_path);
  return j;
}

json Encode(const CreateRegisteredModelRequest& r) {
  json j = json::object();
  PutString(j, "project_id", r.project_id);
  PutString(j, "experiment_id", r.experiment_id);
  PutString(j, "run_id", r.run_id);
  PutString(j, "model_path", r.model_path);
  PutString(j, "model_name", r.model_name);
  if (!r.tags.empty()) {
    json tags = json::array();
    for (const Tag& t : r.tags) tags.push_back({{"key", t.key}, {"value", t.value}});
    j["tags"] = std::move(tags);
  }
  PutString(j, "description", r.description);
  PutString(j, "notes", r.notes);
  PutString(j, "visibility", r.visibility);
  return j;
}

json Encode(const CreateModelRequest& r) {
  json j = json::object();
  PutString(j, "project_id", r.project_id);
  PutString(j, "name", r.name);
  PutString(j, "description", r.description);
  j["disable_authentication"] = r.disable_authentication;
  PutString(j, "registered_model_id", r.registered_model_id);
  PutOptional(j, "run_as", r.run_as);
  PutString(j, "visibility", r.visibility);
  if (r.auto_build_config) j["auto_build_config"] = Encode(*r.auto_build_config);
  if (r.auto_deployment_config) j["auto_deployment_config"] = Encode(*r.auto_deployment_config);
  if (r.auto_build_model) j["auto_build_model"] = true;
  if (r.auto_deploy_model) j["auto_deploy_model"] = true;
  PutInt64(j, "accelerator_label_id", r.accelerator_label_id);
  PutOptional(j, "resource_group_id", r.resource_group_id);
  PutOptional(j, "resource_profile_id", r.resource_profile_id);
  return j;
}

json Encode(const UpdateModelRequest& r) {
  json j = json::object();
  PutString(j, "id", r.id);
  PutOptional(j, "name", r.name);
  PutOptional(j, "description", r.description);
  PutOptional(j, "visibility", r.visibility);
  if (r.default_resources) j["default_resources"] = EncodeDefaultResources(*r.default_resources);
  if (r.default_replication_policy) {
    j["default_replication_policy"] = EncodeReplicationPolicy(*r.default_replication_policy);
  }
  PutOptional(j, "run_as", r.run_as);
  PutInt64(j, "accelerator_label_id", r.accelerator_label_id);
  PutOptional(j, "resource_group_id", r.resource_group_id);
  PutOptional(j, "resource_profile_id", r.resource_profile_id);
  return j;
}

json Encode(const CreateModelBuildRequest& r) {
  json j = json::object();
  PutString(j, "project_id", r.project_id);
  PutString(j, "model_id", r.model_id);
  PutString(j, "comment", r.comment);
  PutString(j, "file_path", r.file_path);
  PutString(j, "function_name", r.function_name);
  PutString(j, "kernel", r.kernel);
  PutString(j, "runtime_identifier", r.runtime_identifier);
  PutStringList(j, "runtime_addon_identifiers", r.runtime_addon_identifiers);
  PutString(j, "registered_model_version_id", r.registered_model_version_id);
  if (r.auto_deployment_config) j["auto_deployment_config"] = Encode(*r.auto_deployment_config);
  if (r.auto_deploy_model) j["auto_deploy_model"] = true;
  PutString(j, "model_root_dir", r.model_root_dir);
  PutString(j, "build_script_path", r.build_script_path);
  PutInt64(j, "accelerator_label_id", r.accelerator_label_id);
  PutOptional(j, "resource_group_id", r.resource_group_id);
  PutOptional(j, "resource_profile_id", r.resource_profile_id);
  return j;
}

json Encode(const CreateModelDeploymentRequest& r) {
  json j = json::object();
  PutString(j, "project_id", r.project_id);
  PutString(j, "model_id", r.model_id);
  PutString(j, "build_id", r.build_id);
  j["cpu"] = r.cpu;
  j["memory"] = r.memory;
  j["nvidia_gpus"] = r.nvidia_gpus;
  PutStringMap(j, "environment", r.environment);
  j["replicas"] = r.replicas;
  PutInt64(j, "accelerator_label_id", r.accelerator_label_id);
  PutOptional(j, "resource_group_id", r.resource_group_id);
  PutOptional(j, "resource_profile_id", r.resource_profile_id);
  PutStringMap(j, "deployment_secrets", r.deployment_secrets);
  return j;
}

json Encode(const ValidateApiKeyRequest& r) { return json{{"audience", r.audience}}; }

}  // namespace cmlr::api
