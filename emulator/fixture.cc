#include "emulator/fixture.h"

#include <functional>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/time_format.h"
#include "emulator/default_fixture.h"

namespace cmlr::emulator {

namespace {

using common::Status;
using common::StatusOr;

// Thrown inside the parser only; ParseFixture turns it into a Status.
struct FixtureError {
  YAML::Mark mark;
  std::string path;
  std::string message;
};

[[noreturn]] void Fail(const YAML::Node& node, const std::string& path, std::string message) {
  throw FixtureError{node.Mark(), path, std::move(message)};
}

void CheckKeys(const YAML::Node& node, const std::string& path,
               const std::set<std::string>& allowed) {
  if (!node.IsMap()) Fail(node, path, "expected a mapping");
  for (const auto& entry : node) {
    const auto key = entry.first.as<std::string>();
    if (!allowed.contains(key)) Fail(entry.first, path + "." + key, "unknown key");
  }
}

std::string Str(const YAML::Node& parent, const std::string& path, const char* key,
                bool required = false, std::string fallback = "") {
  const YAML::Node node = parent[key];
  if (!node) {
    if (required) Fail(parent, path + "." + key, "is required");
    return fallback;
  }
  if (!node.IsScalar()) Fail(node, path + "." + key, "expected a string");
  return node.as<std::string>();
}

template <typename T>
T Scalar(const YAML::Node& parent, const std::string& path, const char* key, T fallback,
         const char* what) {
  const YAML::Node node = parent[key];
  if (!node) return fallback;
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    Fail(node, path + "." + key, std::string("expected ") + what);
  }
}

common::TimePoint Time(const YAML::Node& parent, const std::string& path, const char* key) {
  const std::string text = Str(parent, path, key, false, "2026-01-01T00:00:00Z");
  auto parsed = common::ParseRfc3339(text);
  if (!parsed.ok()) Fail(parent[key] ? parent[key] : parent, path + "." + key, "expected RFC 3339");
  return *parsed;
}

void ForEach(const YAML::Node& root, const char* key,
             const std::function<void(const YAML::Node&, const std::string&)>& fn) {
  const YAML::Node list = root[key];
  if (!list) return;
  if (!list.IsSequence()) Fail(list, key, "expected a list");
  for (std::size_t i = 0; i < list.size(); ++i) fn(list[i], fmt::format("{}[{}]", key, i));
}

std::map<std::string, double> Metrics(const YAML::Node& parent, const std::string& path) {
  std::map<std::string, double> metrics;
  const YAML::Node node = parent["metrics"];
  if (!node) return metrics;
  if (!node.IsMap()) Fail(node, path + ".metrics", "expected a mapping");
  for (const auto& entry : node) {
    const auto name = entry.first.as<std::string>();
    try {
      metrics[name] = entry.second.as<double>();
    } catch (const YAML::Exception&) {
      Fail(entry.second, path + ".metrics." + name, "expected a number");
    }
  }
  return metrics;
}

bool DeploymentsFail(const YAML::Node& parent, const std::string& path) {
  const std::string value = Str(parent, path, "deployment", false, "ok");
  if (value != "ok" && value != "broken") {
    Fail(parent["deployment"], path + ".deployment", "expected ok or broken");
  }
  return value == "broken";
}

std::string Inference(const YAML::Node& parent, const std::string& path) {
  const std::string value = Str(parent, path, "inference", false, "ok");
  if (value != "ok" && value != "broken" && value != "wrong") {
    Fail(parent["inference"], path + ".inference", "expected ok, broken or wrong");
  }
  return value == "ok" ? "" : value;
}

// What the parts of a fixture check against each other.
class FixtureParser {
 public:
  Fixture Parse(const YAML::Node& root) {
    if (!root.IsMap()) Fail(root, "fixture", "expected a mapping");
    CheckKeys(root, "fixture",
              {"users", "projects", "runtimes", "registered_models", "mlflow_runs"});
    ForEach(root, "users", [&](const auto& n, const auto& path) { AddUser(n, path); });
    ForEach(root, "projects", [&](const auto& n, const auto& path) { AddProject(n, path); });
    ForEach(root, "runtimes", [&](const auto& n, const auto& path) { AddRuntime(n, path); });
    ForEach(root, "registered_models",
            [&](const auto& n, const auto& path) { AddRegisteredModel(n, path); });
    ForEach(root, "mlflow_runs", [&](const YAML::Node& n, const std::string& path) {
      CheckKeys(n, path,
                {"experiment_id", "run_id", "model_path", "project", "metrics", "broken",
                 "inference", "deployment"});
      const std::string project = Str(n, path, "project", true);
      CheckProject(n, path + ".project", project);
      fixture_.mlflow_runs.push_back(ParseRun(n, path, project));
    });
    return std::move(fixture_);
  }

 private:
  void AddUser(const YAML::Node& n, const std::string& path) {
    CheckKeys(n, path, {"username", "name", "email", "api_keys"});
    User user{.username = Str(n, path, "username", true),
              .name = Str(n, path, "name"),
              .email = Str(n, path, "email")};
    if (!usernames_.insert(user.username).second) Fail(n, path, "duplicate username");
    if (n["api_keys"]) {
      if (!n["api_keys"].IsSequence()) Fail(n["api_keys"], path + ".api_keys", "expected a list");
      for (const auto& key : n["api_keys"]) {
        if (!keys_.insert(key.as<std::string>()).second) Fail(key, path, "duplicate API key");
        user.api_keys.push_back(key.as<std::string>());
      }
    }
    fixture_.users.push_back(std::move(user));
  }

  void AddProject(const YAML::Node& n, const std::string& path) {
    CheckKeys(n, path, {"public_identifier", "name", "owner"});
    Project project{.public_identifier = Str(n, path, "public_identifier", true),
                    .name = Str(n, path, "name", true),
                    .owner = Str(n, path, "owner", true)};
    CheckUser(n, path + ".owner", project.owner);
    if (!project_ids_.insert(project.public_identifier).second) Fail(n, path, "duplicate project");
    fixture_.projects.push_back(std::move(project));
  }

  void AddRuntime(const YAML::Node& n, const std::string& path) {
    CheckKeys(n, path,
              {"image_identifier", "editor", "kernel", "edition", "description", "full_version",
               "status"});
    fixture_.runtimes.push_back(Runtime{.image_identifier = Str(n, path, "image_identifier", true),
                                        .editor = Str(n, path, "editor"),
                                        .kernel = Str(n, path, "kernel"),
                                        .edition = Str(n, path, "edition"),
                                        .description = Str(n, path, "description"),
                                        .full_version = Str(n, path, "full_version"),
                                        .status = Str(n, path, "status", false, "ENABLED")});
  }

  void AddRegisteredModel(const YAML::Node& n, const std::string& path) {
    CheckKeys(n, path,
              {"model_id", "name", "description", "owner", "project", "visibility", "created_at",
               "versions"});
    RegisteredModel model{.model_id = Str(n, path, "model_id", true),
                          .name = Str(n, path, "name", true),
                          .description = Str(n, path, "description"),
                          .owner = Str(n, path, "owner", true),
                          .project_id = Str(n, path, "project", true),
                          .visibility = Str(n, path, "visibility", false, "PRIVATE"),
                          .created_at = Time(n, path, "created_at"),
                          .from_fixture = true};
    model.updated_at = model.created_at;
    CheckUser(n, path + ".owner", model.owner);
    CheckProject(n, path + ".project", model.project_id);
    if (!registry_ids_.insert(model.model_id).second) Fail(n, path, "duplicate model_id");
    ForEach(n, "versions", [&](const YAML::Node& v, const std::string& suffix) {
      model.versions.push_back(ParseVersion(v, path + "." + suffix, model));
    });
    fixture_.registered_models.push_back(std::move(model));
  }

  RegisteredModelVersion ParseVersion(const YAML::Node& v, const std::string& path,
                                      const RegisteredModel& model) {
    CheckKeys(v, path,
              {"model_version_id", "number", "experiment_id", "run_id", "model_path", "created_at",
               "metrics", "broken", "inference", "deployment", "notes", "status"});
    RegisteredModelVersion version{.model_version_id = Str(v, path, "model_version_id", true),
                                   .number = Scalar<int>(v, path, "number", 0, "an integer"),
                                   .username = model.owner,
                                   .notes = Str(v, path, "notes"),
                                   .created_at = Time(v, path, "created_at"),
                                   .status = Str(v, path, "status", false, "REGISTERED"),
                                   .run = ParseRun(v, path, model.project_id),
                                   .from_fixture = true};
    version.updated_at = version.created_at;
    if (version.number <= 0) Fail(v, path + ".number", "must be a positive integer");
    if (!registry_ids_.insert(version.model_version_id).second) {
      Fail(v, path, "duplicate model_version_id");
    }
    return version;
  }

  static MlflowRun ParseRun(const YAML::Node& n, const std::string& path,
                            const std::string& project) {
    return MlflowRun{.experiment_id = Str(n, path, "experiment_id", true),
                     .run_id = Str(n, path, "run_id", true),
                     .model_path = Str(n, path, "model_path", false, "artifacts"),
                     .project_id = project,
                     .metrics = Metrics(n, path),
                     .broken = Scalar<bool>(n, path, "broken", false, "a boolean"),
                     .inference = Inference(n, path),
                     .deployments_fail = DeploymentsFail(n, path)};
  }

  void CheckUser(const YAML::Node& n, const std::string& path, const std::string& name) const {
    if (!usernames_.contains(name)) Fail(n, path, "unknown user " + name);
  }
  void CheckProject(const YAML::Node& n, const std::string& path, const std::string& id) const {
    if (!project_ids_.contains(id)) Fail(n, path, "unknown project " + id);
  }

  Fixture fixture_;
  std::set<std::string> usernames_;
  std::set<std::string> keys_;
  std::set<std::string> project_ids_;
  std::set<std::string> registry_ids_;
};

}  // namespace

StatusOr<Fixture> ParseFixture(std::string_view yaml, std::string_view source_name) {
  try {
    return FixtureParser().Parse(YAML::Load(std::string(yaml)));
  } catch (const FixtureError& e) {
    return common::InvalidArgumentError(fmt::format(
        "{}:{}:{}: {}: {}", source_name, e.mark.line + 1, e.mark.column + 1, e.path, e.message));
  } catch (const YAML::Exception& e) {
    return common::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", source_name, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

std::string_view DefaultFixtureYaml() { return kDefaultFixtureYaml; }

}  // namespace cmlr::emulator
