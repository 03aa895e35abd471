#include "daemon/doctor.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/duration.h"
#include "controllers/planner.h"

namespace cmlr::daemon {

namespace net = boost::asio;

namespace {

using Checks = std::vector<DoctorCheck>;

constexpr auto kSkewWarn = std::chrono::seconds(30);
constexpr auto kSkewFail = std::chrono::minutes(5);
constexpr char kMissingId[] = "cml-reconciler-doctor-no-such-model";

void Add(Checks& checks, std::string name, CheckResult result, std::string message) {
  checks.push_back({.name = std::move(name), .result = result, .message = std::move(message)});
}

std::string_view ResultName(CheckResult result) {
  switch (result) {
    case CheckResult::kPass:
      return "PASS";
    case CheckResult::kWarn:
      return "WARN";
    case CheckResult::kFail:
      break;
  }
  return "FAIL";
}

api::ListOptions Filter(std::string_view key, const std::string& value) {
  api::ListOptions options;
  options.search_filter[std::string(key)] = value;
  return options;
}

net::awaitable<bool> CheckKey(api::CmlClient& client, Checks& checks) {
  const api::ValidateApiKeyRequest request;  // a named argument: see GCC 12 and co_await
  auto key = co_await client.ValidateApiKey(request);
  if (!key.ok()) {
    Add(checks, "api key", CheckResult::kFail, key.status().ToString());
    co_return false;
  }
  if (!key->valid) {
    Add(checks, "api key", CheckResult::kFail,
        "CML says the key is not valid: " + (key->message.empty() ? "no reason" : key->message));
    co_return false;
  }
  Add(checks, "api key", CheckResult::kPass,
      fmt::format("valid for user {} (audience API)", key->username));
  co_return true;
}

void CheckTransport(const EndpointProbe& probe, Checks& checks) {
  if (!probe.error.empty()) {
    Add(checks, "tls", CheckResult::kFail, probe.error);
    return;
  }
  if (probe.tls) {
    Add(checks, "tls", CheckResult::kPass,
        probe.url + ": certificate chain and host name verified");
  } else {
    Add(checks, "tls", CheckResult::kWarn,
        probe.url + ": plain HTTP (accepted for loopback or with --insecure-http only)");
  }
  if (!probe.clock_skew) {
    Add(checks, "clock", CheckResult::kWarn, "CML's answer had no usable Date header");
    return;
  }
  const common::Duration skew = *probe.clock_skew;
  const common::Duration size = skew < common::Duration::zero() ? -skew : skew;
  const std::string text =
      size < std::chrono::seconds(1)
          ? "CML's clock agrees with this machine's (within a second)"
          : fmt::format("CML's clock is {} {} this machine's",
                        common::FormatDuration(std::chrono::floor<std::chrono::seconds>(size)),
                        skew < common::Duration::zero() ? "behind" : "ahead of");
  Add(checks, "clock",
      size >= kSkewFail   ? CheckResult::kFail
      : size >= kSkewWarn ? CheckResult::kWarn
                          : CheckResult::kPass,
      size >= kSkewWarn ? text + ": timeouts and RFC 3339 times in status will be off" : text);
}

// The runtime catalogue, and whether paging with a page of one gives the same catalogue.
net::awaitable<std::vector<api::Runtime>> CheckRuntimes(api::CmlClient& client, Checks& checks) {
  const api::ListOptions all;
  auto runtimes = co_await client.ListRuntimes(all);
  if (!runtimes.ok()) {
    Add(checks, "runtimes", CheckResult::kFail, runtimes.status().ToString());
    co_return std::vector<api::Runtime>();
  }
  Add(checks, "runtimes", CheckResult::kPass, fmt::format("{} listed", runtimes->size()));
  if (runtimes->size() < 2) {
    Add(checks, "paging", CheckResult::kWarn, "fewer than two runtimes: paging not checked");
    co_return std::move(runtimes).value();
  }
  api::ListOptions one_per_page;
  one_per_page.page_size = 1;
  auto paged = co_await client.ListRuntimes(one_per_page);
  std::multiset<std::string> a, b;
  for (const api::Runtime& r : *runtimes) a.insert(r.image_identifier);
  if (paged.ok()) {
    for (const api::Runtime& r : *paged) b.insert(r.image_identifier);
  }
  if (!paged.ok()) {
    Add(checks, "paging", CheckResult::kFail, paged.status().ToString());
  } else if (a != b) {
    Add(checks, "paging", CheckResult::kFail,
        fmt::format("{} runtimes in pages of one, {} in one page: next_page_token is not "
                    "followed faithfully",
                    b.size(), a.size()));
  } else {
    Add(checks, "paging", CheckResult::kPass,
        fmt::format("{} pages of one runtime give the same catalogue as one page", b.size()));
  }
  co_return std::move(runtimes).value();
}

// A project of the desired state: readable, and what a missing id answers there.
net::awaitable<void> CheckProject(api::CmlClient& client, const std::string& project,
                                  Checks& checks) {
  const std::string name = "project " + project;
  const api::ListOptions all;
  auto models = co_await client.ListModels(project, all);
  if (!models.ok()) {
    Add(checks, name, CheckResult::kFail, "cannot list its models: " + models.status().ToString());
    co_return;
  }
  Add(checks, name, CheckResult::kPass, fmt::format("readable, {} models", models->size()));
  auto missing = co_await client.GetModel(project, kMissingId);
  const int http = missing.ok() ? 200 : missing.status().http_status();
  if (http == 404) {
    Add(checks, "missing ids", CheckResult::kPass, "a missing model id answers 404");
  } else if (http == 403) {
    Add(checks, "missing ids", CheckResult::kWarn,
        "a missing model id answers 403, not 404: the daemon re-lists to tell a missing object "
        "from a permission error (design 4a)");
  } else {
    Add(checks, "missing ids", CheckResult::kFail,
        fmt::format("a missing model id answered {}: {}", http,
                    missing.ok() ? "a model" : missing.status().ToString()));
  }
}

void CheckRuntime(const config::ModelDeploymentSpec& spec,
                  const std::vector<api::Runtime>& runtimes, Checks& checks) {
  const std::string name = spec.name + " runtime";
  if (const auto* selector = std::get_if<config::RuntimeSelector>(&spec.runtime)) {
    if (auto runtime = controllers::ResolveRuntime(*selector, runtimes)) {
      Add(checks, name, CheckResult::kPass, "selector resolves to " + runtime->image_identifier);
    } else {
      Add(checks, name, CheckResult::kFail, "no ENABLED runtime matches the selector");
    }
    return;
  }
  const std::string& image = std::get<std::string>(spec.runtime);
  const auto it = std::find_if(runtimes.begin(), runtimes.end(),
                               [&](const api::Runtime& r) { return r.image_identifier == image; });
  if (it == runtimes.end()) {
    Add(checks, name, CheckResult::kFail, image + " is not in the runtime catalogue");
  } else if (it->status != "ENABLED") {
    Add(checks, name, CheckResult::kWarn, fmt::format("{} is {}", image, it->status));
  } else {
    Add(checks, name, CheckResult::kPass, image + " is ENABLED");
  }
}

// The registry model and version (or run) of a desired model.
net::awaitable<void> CheckRegistry(api::CmlClient& client, const config::ModelDeploymentSpec& spec,
                                   Checks& checks) {
  const std::string name = spec.name + " registered model";
  const config::RegisteredModelRef& ref = spec.registered_model;
  std::string id = ref.id;
  if (id.empty()) {
    auto listed = co_await client.ListRegisteredModels(Filter("model_name", ref.name));
    if (!listed.ok()) {
      Add(checks, name, CheckResult::kFail, listed.status().ToString());
      co_return;
    }
    for (const api::RegisteredModel& m : *listed) {
      if (m.name == ref.name) id = m.model_id;
    }
  }
  const std::string label = ref.name.empty() ? ref.id : ref.name;
  if (id.empty()) {
    Add(checks, name, ref.from_experiment_run ? CheckResult::kWarn : CheckResult::kFail,
        label + " not found" +
            (ref.from_experiment_run ? "; it will be registered from the run" : ""));
    co_return;
  }
  const api::ListOptions all;
  auto model = co_await client.GetRegisteredModel(id, all);
  if (!model.ok()) {
    Add(checks, name, CheckResult::kFail, model.status().ToString());
    co_return;
  }
  for (const api::RegisteredModelVersion& v : model->model_versions) {
    const bool match = ref.version ? v.number == *ref.version
                                   : v.model_version_metadata.mlflow_metadata.run_id ==
                                         ref.from_experiment_run->run_id;
    if (match) {
      Add(checks, name, CheckResult::kPass,
          fmt::format("{} version {} ({})", label, v.number, v.status.empty() ? "-" : v.status));
      co_return;
    }
  }
  if (ref.from_experiment_run) {
    Add(checks, name, CheckResult::kWarn,
        fmt::format("{} has no version from run {} yet; the daemon will register it", label,
                    ref.from_experiment_run->run_id));
  } else {
    Add(checks, name, CheckResult::kFail, fmt::format("{} has no version {}", label, *ref.version));
  }
}

// Which of `fields` a list item lacks although the get by id of the same object has them.
template <typename T, typename Field>
void CompareFields(const T& listed, const T& got, std::vector<std::pair<std::string, Field>> fields,
                   std::set<std::string>& missing) {
  for (const auto& [name, empty] : fields) {
    if (empty(listed) && !empty(got)) missing.insert(name);
  }
}

struct FieldFindings {
  std::set<std::string> builds, deployments, versions;
  int inspected = 0;
};

net::awaitable<void> InspectVersions(api::CmlClient& client, const std::string& registry_id,
                                     FieldFindings& findings) {
  const api::ListOptions all;
  auto model = co_await client.GetRegisteredModel(registry_id, all);
  if (!model.ok() || model->model_versions.empty()) co_return;
  const api::RegisteredModelVersion& listed = model->model_versions.front();
  auto got = co_await client.GetRegisteredModelVersion(registry_id, listed.model_version_id);
  if (!got.ok()) co_return;
  ++findings.inspected;
  using V = api::RegisteredModelVersion;
  CompareFields<V, std::function<bool(const V&)>>(
      listed, *got,
      {{"model_version_metadata.mlflow_metadata.run_id",
        [](const V& v) { return v.model_version_metadata.mlflow_metadata.run_id.empty(); }},
       {"status", [](const V& v) { return v.status.empty(); }}},
      findings.versions);
}

net::awaitable<void> InspectBuilds(api::CmlClient& client, const std::string& project,
                                   const api::Model& model, FieldFindings& findings) {
  const api::ListOptions all;
  auto builds = co_await client.ListModelBuilds(project, model.id, all);
  if (!builds.ok() || builds->empty()) co_return;
  const api::ModelBuild& listed = builds->back();
  auto got = co_await client.GetModelBuild(project, model.id, listed.id);
  if (!got.ok()) co_return;
  ++findings.inspected;
  using B = api::ModelBuild;
  CompareFields<B, std::function<bool(const B&)>>(
      listed, *got,
      {{"registered_model_version_id",
        [](const B& b) { return b.registered_model_version_id.empty(); }},
       {"runtime_identifier", [](const B& b) { return b.runtime_identifier.empty(); }},
       {"comment", [](const B& b) { return b.comment.empty(); }},
       {"status", [](const B& b) { return b.status.empty(); }}},
      findings.builds);
  auto deployments = co_await client.ListModelDeployments(project, model.id, listed.id, all);
  if (!deployments.ok() || deployments->empty()) co_return;
  const api::ModelDeployment& dep = deployments->back();
  auto dep_got = co_await client.GetModelDeployment(project, model.id, listed.id, dep.id);
  if (!dep_got.ok()) co_return;
  ++findings.inspected;
  using D = api::ModelDeployment;
  CompareFields<D, std::function<bool(const D&)>>(
      dep, *dep_got,
      {{"build_id", [](const D& d) { return d.build_id.empty(); }},
       {"replicas", [](const D& d) { return d.replicas == 0; }},
       {"cpu", [](const D& d) { return !std::isfinite(d.cpu) || d.cpu == 0; }},
       {"environment", [](const D& d) { return d.environment.empty(); }},
       {"status", [](const D& d) { return d.status.empty(); }}},
      findings.deployments);
}

// Whether list answers carry every field identity and matching need (design 4a), by comparing
// one item of each kind with its get by id.
net::awaitable<void> CheckListFields(api::CmlClient& client, const config::Snapshot& desired,
                                     Checks& checks) {
  FieldFindings findings;
  std::set<std::string> registries;
  std::map<std::string, std::set<std::string>> model_names;  // by project
  for (const auto& [name, spec] : desired.models()) {
    model_names[spec.project_id].insert(spec.model_name);
    if (!spec.registered_model.name.empty()) {
      auto listed =
          co_await client.ListRegisteredModels(Filter("model_name", spec.registered_model.name));
      if (listed.ok()) {
        for (const auto& m : *listed) {
          if (m.name == spec.registered_model.name) registries.insert(m.model_id);
        }
      }
    } else {
      registries.insert(spec.registered_model.id);
    }
  }
  for (const std::string& id : registries) co_await InspectVersions(client, id, findings);
  for (const auto& [project, names] : model_names) {
    const api::ListOptions all;
    auto models = co_await client.ListModels(project, all);
    if (!models.ok()) continue;
    for (const api::Model& model : *models) {
      if (names.count(model.name) != 0) co_await InspectBuilds(client, project, model, findings);
    }
  }
  std::vector<std::string> problems;
  if (!findings.versions.empty()) {
    problems.push_back(
        fmt::format("get_registered_model versions omit {}", fmt::join(findings.versions, ", ")));
  }
  if (!findings.builds.empty()) {
    problems.push_back(fmt::format("list_model_builds omits {}", fmt::join(findings.builds, ", ")));
  }
  if (!findings.deployments.empty()) {
    problems.push_back(
        fmt::format("list_model_deployments omits {}", fmt::join(findings.deployments, ", ")));
  }
  if (!problems.empty()) {
    Add(checks, "list fields", CheckResult::kFail,
        fmt::format("{} (the get by id carries them): the daemon fetches such objects one by one "
                    "and stalls IncompleteCmlResponse when a get lacks them too",
                    fmt::join(problems, "; ")));
  } else if (findings.inspected == 0) {
    Add(checks, "list fields", CheckResult::kWarn,
        "nothing of the desired models in CML yet to compare lists with gets");
  } else {
    Add(checks, "list fields", CheckResult::kPass,
        fmt::format("{} list items carry every field their get by id has", findings.inspected));
  }
}

}  // namespace

bool DoctorReport::failed() const {
  return std::any_of(checks.begin(), checks.end(),
                     [](const DoctorCheck& c) { return c.result == CheckResult::kFail; });
}

net::awaitable<DoctorReport> RunDoctorChecks(api::CmlClient& client,
                                             std::shared_ptr<const config::Snapshot> desired,
                                             EndpointProbe probe) {
  DoctorReport report;
  Checks& checks = report.checks;
  CheckTransport(probe, checks);
  if (!co_await CheckKey(client, checks)) co_return report;  // every other call would fail
  const std::vector<api::Runtime> runtimes = co_await CheckRuntimes(client, checks);
  if (desired == nullptr || desired->size() == 0) {
    Add(checks, "desired state", CheckResult::kWarn,
        "no --desired: projects, runtimes and registered models of the models not checked");
    co_return report;
  }
  std::set<std::string> projects;
  for (const auto& [name, spec] : desired->models()) {
    if (projects.insert(spec.project_id).second) {
      co_await CheckProject(client, spec.project_id, checks);
    }
    CheckRuntime(spec, runtimes, checks);
    co_await CheckRegistry(client, spec, checks);
  }
  co_await CheckListFields(client, *desired, checks);
  co_return report;
}

std::string FormatDoctorText(const DoctorReport& report) {
  std::size_t width = 0;
  for (const DoctorCheck& c : report.checks) width = std::max(width, c.name.size());
  std::string text;
  int counts[3] = {0, 0, 0};
  for (const DoctorCheck& c : report.checks) {
    ++counts[static_cast<int>(c.result)];
    text += fmt::format("{}  {:<{}}  {}\n", ResultName(c.result), c.name, width, c.message);
  }
  text += fmt::format("{} passed, {} warnings, {} failed\n", counts[0], counts[1], counts[2]);
  return text;
}

nlohmann::json DoctorJson(const DoctorReport& report) {
  nlohmann::json checks = nlohmann::json::array();
  int counts[3] = {0, 0, 0};
  for (const DoctorCheck& c : report.checks) {
    ++counts[static_cast<int>(c.result)];
    checks.push_back({{"name", c.name}, {"result", ResultName(c.result)}, {"message", c.message}});
  }
  return {{"checks", checks}, {"pass", counts[0]}, {"warn", counts[1]}, {"fail", counts[2]}};
}

}  // namespace cmlr::daemon
