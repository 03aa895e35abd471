#include "emulator/persistence.h"

#include <cmath>
#include <concepts>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <fmt/format.h>

#include "common/time_format.h"

namespace cmlr::emulator {

namespace {

using common::Status;
using common::TimePoint;
using nlohmann::json;

template <typename S, typename M>
struct Field {
  std::string_view name;
  M S::*member;
};

// The member's name is its key in the file: written once, used both ways.
#define CMLR_FIELD(Type, member) \
  Field<Type, decltype(Type::member)> { #member, &Type::member }

// The field tables: the only place that says what is persisted.

constexpr auto FieldsOf(std::type_identity<User>) {
  return std::tuple{CMLR_FIELD(User, username), CMLR_FIELD(User, name), CMLR_FIELD(User, email)};
}

constexpr auto FieldsOf(std::type_identity<Project>) {
  return std::tuple{CMLR_FIELD(Project, public_identifier), CMLR_FIELD(Project, name),
                    CMLR_FIELD(Project, owner)};
}

constexpr auto FieldsOf(std::type_identity<Runtime>) {
  return std::tuple{CMLR_FIELD(Runtime, image_identifier),
                    CMLR_FIELD(Runtime, editor),
                    CMLR_FIELD(Runtime, kernel),
                    CMLR_FIELD(Runtime, edition),
                    CMLR_FIELD(Runtime, description),
                    CMLR_FIELD(Runtime, full_version),
                    CMLR_FIELD(Runtime, status)};
}

constexpr auto FieldsOf(std::type_identity<MlflowRun>) {
  return std::tuple{CMLR_FIELD(MlflowRun, experiment_id), CMLR_FIELD(MlflowRun, run_id),
                    CMLR_FIELD(MlflowRun, model_path),    CMLR_FIELD(MlflowRun, project_id),
                    CMLR_FIELD(MlflowRun, metrics),       CMLR_FIELD(MlflowRun, broken),
                    CMLR_FIELD(MlflowRun, inference),     CMLR_FIELD(MlflowRun, deployments_fail)};
}

constexpr auto FieldsOf(std::type_identity<RegisteredModelVersion>) {
  using V = RegisteredModelVersion;
  return std::tuple{CMLR_FIELD(V, model_version_id), CMLR_FIELD(V, number),
                    CMLR_FIELD(V, username),         CMLR_FIELD(V, notes),
                    CMLR_FIELD(V, created_at),       CMLR_FIELD(V, updated_at),
                    CMLR_FIELD(V, status),           CMLR_FIELD(V, run),
                    CMLR_FIELD(V, from_fixture),     CMLR_FIELD(V, ready_at)};
}

constexpr auto FieldsOf(std::type_identity<RegisteredModel>) {
  using M = RegisteredModel;
  return std::tuple{CMLR_FIELD(M, model_id),    CMLR_FIELD(M, name),
                    CMLR_FIELD(M, description), CMLR_FIELD(M, owner),
                    CMLR_FIELD(M, project_id),  CMLR_FIELD(M, visibility),
                    CMLR_FIELD(M, created_at),  CMLR_FIELD(M, updated_at),
                    CMLR_FIELD(M, versions),    CMLR_FIELD(M, from_fixture)};
}

constexpr auto FieldsOf(std::type_identity<DefaultResources>) {
  return std::tuple{CMLR_FIELD(DefaultResources, cpu_millicores),
                    CMLR_FIELD(DefaultResources, memory_mb),
                    CMLR_FIELD(DefaultResources, nvidia_gpus)};
}

constexpr auto FieldsOf(std::type_identity<Model>) {
  return std::tuple{CMLR_FIELD(Model, id),
                    CMLR_FIELD(Model, project_id),
                    CMLR_FIELD(Model, name),
                    CMLR_FIELD(Model, description),
                    CMLR_FIELD(Model, creator),
                    CMLR_FIELD(Model, access_key),
                    CMLR_FIELD(Model, crn),
                    CMLR_FIELD(Model, auth_enabled),
                    CMLR_FIELD(Model, registered_model_id),
                    CMLR_FIELD(Model, visibility),
                    CMLR_FIELD(Model, default_resources),
                    CMLR_FIELD(Model, default_num_replicas),
                    CMLR_FIELD(Model, default_replication_type),
                    CMLR_FIELD(Model, run_as),
                    CMLR_FIELD(Model, accelerator_label_id),
                    CMLR_FIELD(Model, resource_group_id),
                    CMLR_FIELD(Model, resource_profile_id),
                    CMLR_FIELD(Model, created_at),
                    CMLR_FIELD(Model, updated_at)};
}

constexpr auto FieldsOf(std::type_identity<Build>) {
  return std::tuple{CMLR_FIELD(Build, id),
                    CMLR_FIELD(Build, model_id),
                    CMLR_FIELD(Build, project_id),
                    CMLR_FIELD(Build, creator),
                    CMLR_FIELD(Build, comment),
                    CMLR_FIELD(Build, file_path),
                    CMLR_FIELD(Build, function_name),
                    CMLR_FIELD(Build, kernel),
                    CMLR_FIELD(Build, runtime_identifier),
                    CMLR_FIELD(Build, runtime_addon_identifiers),
                    CMLR_FIELD(Build, registered_model_version_id),
                    CMLR_FIELD(Build, model_root_dir),
                    CMLR_FIELD(Build, build_script_path),
                    CMLR_FIELD(Build, crn),
                    CMLR_FIELD(Build, will_fail),
                    CMLR_FIELD(Build, succeeded_phase),
                    CMLR_FIELD(Build, status),
                    CMLR_FIELD(Build, created_at),
                    CMLR_FIELD(Build, updated_at),
                    CMLR_FIELD(Build, built_at)};
}

constexpr auto FieldsOf(std::type_identity<Deployment>) {
  return std::tuple{CMLR_FIELD(Deployment, id),
                    CMLR_FIELD(Deployment, project_id),
                    CMLR_FIELD(Deployment, model_id),
                    CMLR_FIELD(Deployment, build_id),
                    CMLR_FIELD(Deployment, crn),
                    CMLR_FIELD(Deployment, deployer),
                    CMLR_FIELD(Deployment, cpu),
                    CMLR_FIELD(Deployment, memory),
                    CMLR_FIELD(Deployment, nvidia_gpus),
                    CMLR_FIELD(Deployment, replicas),
                    CMLR_FIELD(Deployment, environment),
                    CMLR_FIELD(Deployment, accelerator_label_id),
                    CMLR_FIELD(Deployment, resource_group_id),
                    CMLR_FIELD(Deployment, resource_profile_id),
                    CMLR_FIELD(Deployment, status),
                    CMLR_FIELD(Deployment, will_fail),
                    CMLR_FIELD(Deployment, phase_started_at),
                    CMLR_FIELD(Deployment, created_at),
                    CMLR_FIELD(Deployment, updated_at),
                    CMLR_FIELD(Deployment, stopped_at)};
}

constexpr auto FieldsOf(std::type_identity<StateSnapshot>) {
  using S = StateSnapshot;
  return std::tuple{CMLR_FIELD(S, seed),
                    CMLR_FIELD(S, id_counter),
                    CMLR_FIELD(S, users),
                    CMLR_FIELD(S, projects),
                    CMLR_FIELD(S, runtimes),
                    CMLR_FIELD(S, mlflow_runs),
                    CMLR_FIELD(S, registered_models),
                    CMLR_FIELD(S, models),
                    CMLR_FIELD(S, builds),
                    CMLR_FIELD(S, deployments)};
}

#undef CMLR_FIELD

template <typename T>
concept Persisted = requires {
  FieldsOf(std::type_identity<T>{});
};

// The number of members of an aggregate: the most initialisers T{...} accepts.
struct AnyValue {
  template <typename T>
  operator T() const;  // never defined: only used in unevaluated contexts
};

template <typename T, typename... Values>
constexpr std::size_t AggregateArity() {
  if constexpr (requires { T{Values{}..., AnyValue{}}; }) {
    return AggregateArity<T, Values..., AnyValue>();
  } else {
    return sizeof...(Values);
  }
}

template <Persisted T>
constexpr bool TableCovers(std::size_t not_persisted = 0) {
  return std::tuple_size_v<decltype(FieldsOf(std::type_identity<T>{}))> + not_persisted ==
         AggregateArity<T>();
}

#define CMLR_CHECK_TABLE(Type, ...)                                                             \
  static_assert(TableCovers<Type>(__VA_ARGS__), #Type                                           \
                " has a member that its field table in emulator/persistence.cc does not list; " \
                "add it there so that it is saved and loaded")
CMLR_CHECK_TABLE(User, 1);  // api_keys: deliberately not persisted
CMLR_CHECK_TABLE(Project);
CMLR_CHECK_TABLE(Runtime);
CMLR_CHECK_TABLE(MlflowRun);
CMLR_CHECK_TABLE(RegisteredModelVersion);
CMLR_CHECK_TABLE(RegisteredModel);
CMLR_CHECK_TABLE(DefaultResources);
CMLR_CHECK_TABLE(Model);
CMLR_CHECK_TABLE(Build);
CMLR_CHECK_TABLE(Deployment);
CMLR_CHECK_TABLE(StateSnapshot);
#undef CMLR_CHECK_TABLE

Status Expected(const std::string& path, std::string_view what) {
  return common::InvalidArgumentError(fmt::format("{}: expected {}", path, what));
}

template <typename T>
struct Codec;

template <>
struct Codec<std::string> {
  static json Encode(const std::string& value) { return value; }
  static Status Decode(const json& j, std::string& out, const std::string& path) {
    if (!j.is_string()) return Expected(path, "a string");
    out = j.get<std::string>();
    return common::OkStatus();
  }
};

template <>
struct Codec<bool> {
  static json Encode(bool value) { return value; }
  static Status Decode(const json& j, bool& out, const std::string& path) {
    if (!j.is_boolean()) return Expected(path, "true or false");
    out = j.get<bool>();
    return common::OkStatus();
  }
};

template <std::integral T>
struct Codec<T> {
  static json Encode(T value) { return value; }
  static Status Decode(const json& j, T& out, const std::string& path) {
    if (!j.is_number_integer()) return Expected(path, "an integer");
    const T value = j.get<T>();
    if (json(value) != j) return Expected(path, "an integer in range");
    out = value;
    return common::OkStatus();
  }
};

// JSON has no NaN or infinities; they are written as proto3 JSON writes them.
template <>
struct Codec<double> {
  static json Encode(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
    return value;
  }
  static Status Decode(const json& j, double& out, const std::string& path) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    if (j.is_number()) {
      out = j.get<double>();
    } else if (j == "NaN") {
      out = std::numeric_limits<double>::quiet_NaN();
    } else if (j == "Infinity" || j == "-Infinity") {
      out = j == "Infinity" ? kInf : -kInf;
    } else {
      return Expected(path, "a number");
    }
    return common::OkStatus();
  }
};

template <>
struct Codec<TimePoint> {
  static json Encode(TimePoint time) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
    std::string text = common::FormatRfc3339(seconds);
    text.pop_back();  // 'Z'
    return fmt::format("{}.{:09}Z", text, (time - seconds).count());
  }
  static Status Decode(const json& j, TimePoint& out, const std::string& path) {
    if (!j.is_string()) return Expected(path, "an RFC 3339 time");
    auto parsed = common::ParseRfc3339(j.get<std::string>());
    if (!parsed.ok()) return parsed.status().Annotate(path);
    out = *parsed;
    return common::OkStatus();
  }
};

template <typename T>
struct Codec<std::optional<T>> {
  static json Encode(const std::optional<T>& value) {
    return value ? Codec<T>::Encode(*value) : json();
  }
  static Status Decode(const json& j, std::optional<T>& out, const std::string& path) {
    if (j.is_null()) {
      out = std::nullopt;
      return common::OkStatus();
    }
    T value{};
    CMLR_RETURN_IF_ERROR(Codec<T>::Decode(j, value, path));
    out = std::move(value);
    return common::OkStatus();
  }
};

template <typename T>
struct Codec<std::vector<T>> {
  static json Encode(const std::vector<T>& values) {
    json out = json::array();
    for (const auto& value : values) out.push_back(Codec<T>::Encode(value));
    return out;
  }
  static Status Decode(const json& j, std::vector<T>& out, const std::string& path) {
    if (!j.is_array()) return Expected(path, "a list");
    out.clear();
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
      T value{};
      CMLR_RETURN_IF_ERROR(Codec<T>::Decode(j[i], value, fmt::format("{}[{}]", path, i)));
      out.push_back(std::move(value));
    }
    return common::OkStatus();
  }
};

template <typename T>
struct Codec<std::map<std::string, T>> {
  static json Encode(const std::map<std::string, T>& values) {
    json out = json::object();
    for (const auto& [key, value] : values) out[key] = Codec<T>::Encode(value);
    return out;
  }
  static Status Decode(const json& j, std::map<std::string, T>& out, const std::string& path) {
    if (!j.is_object()) return Expected(path, "an object");
    out.clear();
    for (const auto& [key, item] : j.items()) {
      T value{};
      CMLR_RETURN_IF_ERROR(Codec<T>::Decode(item, value, path + "." + key));
      out.emplace(key, std::move(value));
    }
    return common::OkStatus();
  }
};

template <Persisted T>
struct Codec<T> {
  template <typename S, typename M>
  static Status DecodeField(const json& j, const Field<S, M>& field, T& out,
                            const std::string& path) {
    const auto it = j.find(field.name);
    if (it == j.end()) return common::OkStatus();  // written by an older version: the default
    const std::string name(field.name);
    const std::string at = path.empty() ? name : path + "." + name;
    return Codec<M>::Decode(*it, out.*field.member, at);
  }

  static json Encode(const T& value) {
    json out = json::object();
    std::apply(
        [&](const auto&... field) {
          ((out[std::string(field.name)] =
                Codec<std::remove_cvref_t<decltype(value.*field.member)>>::Encode(value.*
                                                                                  field.member)),
           ...);
        },
        FieldsOf(std::type_identity<T>{}));
    return out;
  }

  static Status Decode(const json& j, T& out, const std::string& path) {
    if (!j.is_object()) return Expected(path.empty() ? "state" : path, "an object");
    Status status;
    std::apply(
        [&](const auto&... field) {
          ((status = status.ok() ? DecodeField(j, field, out, path) : status), ...);
        },
        FieldsOf(std::type_identity<T>{}));
    return status;
  }
};

// Format 1 kept a model's default resources flat, under other names.
void MigrateFormat1(json& saved) {
  const auto models = saved.find("models");
  if (models == saved.end() || !models->is_array()) return;
  for (json& model : *models) {
    if (!model.is_object()) continue;
    json resources = json::object();
    for (const auto& [old_key, key] :
         {std::pair{"cpu_millicores", "cpu_millicores"}, std::pair{"memory_mb", "memory_mb"},
          std::pair{"default_nvidia_gpus", "nvidia_gpus"}}) {
      if (const auto it = model.find(old_key); it != model.end()) {
        resources[key] = *it;
        model.erase(it);
      }
    }
    model["default_resources"] = std::move(resources);
  }
}

}  // namespace

json SaveSnapshot(const StateSnapshot& snapshot) {
  json out = Codec<StateSnapshot>::Encode(snapshot);
  out["format"] = kStateFormat;
  return out;
}

common::StatusOr<StateSnapshot> LoadSnapshot(const json& saved) {
  if (!saved.is_object()) return common::InvalidArgumentError("expected a JSON object");
  const auto format = saved.find("format");
  if (format == saved.end() || !format->is_number_integer()) {
    return common::InvalidArgumentError("format: missing; not a cml-emulator state file");
  }
  const int version = format->get<int>();
  if (version < 1 || version > kStateFormat) {
    return common::InvalidArgumentError(fmt::format(
        "format: state format {} is not supported by this cml-emulator (it reads 1 to {}); "
        "start without the state file or with the cml-emulator that wrote it",
        version, kStateFormat));
  }
  json upgraded = saved;
  if (version == 1) MigrateFormat1(upgraded);
  StateSnapshot snapshot;
  CMLR_RETURN_IF_ERROR(Codec<StateSnapshot>::Decode(upgraded, snapshot, ""));
  return snapshot;
}

}  // namespace cmlr::emulator
