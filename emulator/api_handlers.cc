#include "emulator/api_handlers.h"

#include <fmt/format.h>

#include "emulator/listing.h"
#include "emulator/wire.h"

namespace cmlr::emulator {

namespace {

using common::Status;
using common::StatusOr;
using nlohmann::json;
using Query = std::map<std::string, std::string, std::less<>>;
namespace http = boost::beast::http;

struct RouteSpec {
  std::vector<std::string_view> pattern;  // "*" is a path parameter
  std::string_view verb;                  // custom verb suffix of the last segment (":stop")
  http::verb method;
  std::string_view operation;
  bool is_write;
};

const std::vector<RouteSpec>& Routes() {
  using V = http::verb;
  static const auto* const kRoutes = new std::vector<RouteSpec>{
      {{"auth", "validate_key"}, "", V::post, "validate_api_key", false},
      {{"runtimes"}, "", V::get, "list_runtimes", false},
      {{"models"}, "", V::get, "list_all_models", false},
      {{"registry", "models"}, "", V::get, "list_registered_models", false},
      {{"registry", "models"}, "", V::post, "create_registered_model", true},
      {{"registry", "models"}, "", V::patch, "update_registered_model", true},
      {{"registry", "models", "*"}, "", V::get, "get_registered_model", false},
      {{"registry", "models", "*"}, "", V::patch, "update_registered_model_version", true},
      {{"registry", "models", "*"}, "", V::delete_, "delete_registered_model", true},
      {{"registry", "models", "*", "versions", "*"},
       "",
       V::get,
       "get_registered_model_version",
       false},
      {{"registry", "models", "*", "versions", "*"},
       "",
       V::delete_,
       "delete_registered_model_version",
       true},
      {{"projects", "*", "models"}, "", V::get, "list_models", false},
      {{"projects", "*", "models"}, "", V::post, "create_model", true},
      {{"projects", "*", "models", "*"}, "", V::get, "get_model", false},
      {{"projects", "*", "models", "*"}, "", V::patch, "update_model", true},
      {{"projects", "*", "models", "*"}, "", V::delete_, "delete_model", true},
      {{"projects", "*", "models", "*", "builds"}, "", V::get, "list_model_builds", false},
      {{"projects", "*", "models", "*", "builds"}, "", V::post, "create_model_build", true},
      {{"projects", "*", "models", "*", "builds", "*"}, "", V::get, "get_model_build", false},
      {{"projects", "*", "models", "*", "builds", "*"}, "", V::delete_, "delete_model_build", true},
      {{"projects", "*", "models", "*", "builds", "*", "deployments"},
       "",
       V::get,
       "list_model_deployments",
       false},
      {{"projects", "*", "models", "*", "builds", "*", "deployments"},
       "",
       V::post,
       "create_model_deployment",
       true},
      {{"projects", "*", "models", "*", "builds", "*", "deployments", "*"},
       "",
       V::get,
       "get_model_deployment",
       false},
      {{"projects", "*", "models", "*", "builds", "*", "deployments", "*"},
       "stop",
       V::post,
       "stop_model_deployment",
       true},
      {{"projects", "*", "models", "*", "builds", "*", "deployments", "*"},
       "restart",
       V::post,
       "restart_model_deployment",
       true},
  };
  return *kRoutes;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return out;
}

const User* UserOf(const EmulatorState& state, const std::string& username) {
  return state.FindUser(username);
}

WireOptions Wire(const ApiContext& ctx) {
  return WireOptions{.zero_times = ctx.quirks.zero_times, .nan_metrics = ctx.quirks.nan_metrics};
}

// Under list-lag, an object created through the API shows in lists only after the lag.
bool Listed(const ApiContext& ctx, common::TimePoint created_at, bool from_fixture = false) {
  return from_fixture || !ctx.quirks.list_lag || created_at + *ctx.quirks.list_lag <= ctx.now;
}

// Under sparse-lists, list items lack what a client must then fetch by id.
void Sparsen(const ApiContext& ctx, std::vector<json>& items,
             std::initializer_list<json::json_pointer> fields) {
  if (!ctx.quirks.sparse_lists) return;
  for (json& item : items) {
    for (const auto& field : fields) {
      if (!item.contains(field)) continue;
      item[field.parent_pointer()].erase(field.back());
    }
  }
}

json ParseBody(std::string_view body, Status& status) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    status = common::InvalidArgumentError("malformed JSON in the request body");
    return json();
  }
  return parsed;
}

StatusOr<json> CheckedBody(std::string_view body, std::string_view definition, bool strict) {
  Status status;
  json parsed = ParseBody(body, status);
  CMLR_RETURN_IF_ERROR(status);
  CMLR_RETURN_IF_ERROR(CheckRequestBody(parsed, definition, strict));
  return parsed;
}

// A body's copy of a path parameter must agree with the path.
Status CheckPathField(const json& body, std::string_view key, const std::string& path_value) {
  const std::string value = GetString(body, key);
  if (!value.empty() && value != path_value) {
    return common::InvalidArgumentError(fmt::format(
        "{}: \"{}\" in the body does not match \"{}\" in the path", key, value, path_value));
  }
  return common::OkStatus();
}

ListQuery ToListQuery(const Query& query) {
  ListQuery out;
  if (auto it = query.find("search_filter"); it != query.end()) out.search_filter = it->second;
  if (auto it = query.find("sort"); it != query.end()) out.sort = it->second;
  if (auto it = query.find("page_size"); it != query.end()) out.page_size = it->second;
  if (auto it = query.find("page_token"); it != query.end()) out.page_token = it->second;
  return out;
}

json PageResponse(const char* list_field, ListPage page) {
  json out = json::object();
  if (!page.items.empty()) out[list_field] = std::move(page.items);
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

const std::map<std::string, std::vector<std::string>, std::less<>> kCreatorFilters = {
    {"creator.email", {"creator.email"}},
    {"creator.name", {"creator.name"}},
    {"creator.username", {"creator.username"}}};

ListSpec RuntimeSpec() {
  ListSpec spec{.scope = "list_runtimes"};
  for (const char* key :
       {"image_identifier", "editor", "kernel", "edition", "description", "full_version"}) {
    spec.filter_keys[key] = {key};
    spec.sort_keys[key] = key;
  }
  return spec;
}

ListSpec ModelSpec(std::string scope) {
  ListSpec spec{.scope = std::move(scope), .filter_keys = kCreatorFilters};
  for (const char* key : {"auth_enabled", "description", "name"}) spec.filter_keys[key] = {key};
  spec.absent_values["auth_enabled"] = "false";
  for (const char* key : {"auth_enabled", "created_at", "creator.email", "creator.name",
                          "creator.username", "description", "name", "updated_at"}) {
    spec.sort_keys[key] = key;
  }
  return spec;
}

ListSpec BuildSpec(std::string scope) {
  ListSpec spec{.scope = std::move(scope), .filter_keys = kCreatorFilters};
  for (const char* key : {"comment", "crn", "status"}) spec.filter_keys[key] = {key};
  for (const char* key : {"built_at", "comment", "created_at", "creator.email", "creator.name",
                          "creator.username", "crn", "status", "updated_at"}) {
    spec.sort_keys[key] = key;
  }
  return spec;
}

ListSpec RegistrySpec(std::string scope, bool versions) {
  ListSpec spec{.scope = std::move(scope)};
  // The owner of a registered model, the user of a version.
  const std::string who = versions ? "user" : "owner";
  spec.filter_keys["creator_id"] = {who + ".username", who + ".name"};
  if (versions) {
    spec.filter_keys["version_number"] = {"number"};
    spec.sort_keys["versions"] = "number";
  } else {
    spec.filter_keys["model_name"] = {"name"};
    spec.sort_keys["name"] = "name";
    spec.sort_keys["description"] = "description";
  }
  spec.sort_keys["created_at"] = "created_at";
  spec.sort_keys["updated_at"] = "updated_at";
  spec.sort_keys["status"] = "status";
  spec.sort_keys["creator.email"] = who + ".email";
  spec.sort_keys["creator.name"] = who + ".name";
  spec.sort_keys["creator.username"] = who + ".username";
  return spec;
}

StatusOr<json> ValidateKey(const ApiContext& ctx, std::string_view body) {
  CMLR_ASSIGN_OR_RETURN(const json request, CheckedBody(body, "ValidateAPIKeyRequest", ctx.strict));
  const std::string audience = GetString(request, "audience");
  if (!audience.empty() && audience != "API") {
    return common::PermissionDeniedError("audience mismatch");
  }
  return json{{"valid", true}, {"username", ctx.user.username}};
}

StatusOr<json> ListRuntimes(const ApiContext& ctx, const Query& query) {
  std::vector<json> items;
  for (const auto& r : ctx.state.runtimes()) items.push_back(EncodeRuntime(r));
  CMLR_ASSIGN_OR_RETURN(ListPage page,
                        ListItems(std::move(items), ToListQuery(query), RuntimeSpec()));
  return PageResponse("runtimes", std::move(page));
}

StatusOr<json> ListRegisteredModels(const ApiContext& ctx, const Query& query) {
  std::vector<json> items;
  for (const auto& m : ctx.state.registered_models()) {
    if (!Listed(ctx, m.created_at, m.from_fixture)) continue;
    items.push_back(EncodeRegisteredModel(m, UserOf(ctx.state, m.owner), nullptr));
  }
  CMLR_ASSIGN_OR_RETURN(ListPage page, ListItems(std::move(items), ToListQuery(query),
                                                 RegistrySpec("list_registered_models", false)));
  return PageResponse("models", std::move(page));
}

StatusOr<json> GetRegisteredModel(const ApiContext& ctx, const std::string& id,
                                  const Query& query) {
  const RegisteredModel* model = ctx.state.FindRegisteredModel(id);
  if (model == nullptr)
    return common::NotFoundError(fmt::format("registered model {} not found", id));
  std::vector<json> versions;
  for (const auto& v : model->versions) {
    if (!Listed(ctx, v.created_at, v.from_fixture)) continue;
    versions.push_back(
        EncodeRegisteredModelVersion(*model, v, UserOf(ctx.state, v.username), Wire(ctx)));
  }
  CMLR_ASSIGN_OR_RETURN(ListPage page, ListItems(std::move(versions), ToListQuery(query),
                                                 RegistrySpec("get_registered_model/" + id, true)));
  Sparsen(ctx, page.items, {"/model_version_metadata/mlflow_metadata"_json_pointer});
  json out = EncodeRegisteredModel(*model, UserOf(ctx.state, model->owner), &page.items);
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

StatusOr<json> GetRegisteredModelVersion(const ApiContext& ctx, const std::string& id,
                                         const std::string& version_id) {
  const RegisteredModel* model = ctx.state.FindRegisteredModel(id);
  if (model == nullptr)
    return common::NotFoundError(fmt::format("registered model {} not found", id));
  for (const auto& v : model->versions) {
    if (v.model_version_id == version_id) {
      return EncodeRegisteredModelVersion(*model, v, UserOf(ctx.state, v.username), Wire(ctx));
    }
  }
  return common::NotFoundError(fmt::format("registered model version {} not found", version_id));
}

StatusOr<json> CreateRegisteredModel(const ApiContext& ctx, std::string_view body) {
  CMLR_ASSIGN_OR_RETURN(const json request,
                        CheckedBody(body, "CreateRegisteredModelRequest", ctx.strict));
  NewRegistration registration{.project_id = GetString(request, "project_id"),
                               .experiment_id = GetString(request, "experiment_id"),
                               .run_id = GetString(request, "run_id"),
                               .model_path = GetString(request, "model_path"),
                               .model_name = GetString(request, "model_name"),
                               .description = GetString(request, "description"),
                               .notes = GetString(request, "notes"),
                               .visibility = GetString(request, "visibility")};
  CMLR_ASSIGN_OR_RETURN(auto created, ctx.state.Register(registration, ctx.user.username, ctx.now));
  const auto& [model, number] = created;
  // The answer carries the new version only (the seed reads model_versions[0]).
  std::vector<json> versions;
  for (const auto& v : model.versions) {
    if (v.number == number) {
      versions.push_back(
          EncodeRegisteredModelVersion(model, v, UserOf(ctx.state, v.username), Wire(ctx)));
    }
  }
  return EncodeRegisteredModel(model, UserOf(ctx.state, model.owner), &versions);
}

json ModelJson(const ApiContext& ctx, const Model& model) {
  return EncodeModel(model, ctx.state.FindProject(model.project_id),
                     UserOf(ctx.state, model.creator));
}

StatusOr<json> ListModels(const ApiContext& ctx, const std::string& project_id,
                          const Query& query) {
  if (!project_id.empty() && ctx.state.FindProject(project_id) == nullptr) {
    return common::NotFoundError(fmt::format("project {} not found", project_id));
  }
  std::vector<json> items;
  for (const Model* m : ctx.state.Models(project_id)) {
    if (Listed(ctx, m->created_at)) items.push_back(ModelJson(ctx, *m));
  }
  ListSpec spec = ModelSpec(project_id.empty() ? "list_all_models" : "list_models/" + project_id);
  if (project_id.empty()) spec.sort_keys.clear();
  CMLR_ASSIGN_OR_RETURN(ListPage page, ListItems(std::move(items), ToListQuery(query), spec));
  return PageResponse("models", std::move(page));
}

StatusOr<Build> CreateBuildFrom(const ApiContext& ctx, const json& config,
                                const std::string& project_id, const std::string& model_id) {
  NewBuild build{.project_id = project_id,
                 .model_id = model_id,
                 .comment = GetString(config, "comment"),
                 .file_path = GetString(config, "file_path"),
                 .function_name = GetString(config, "function_name"),
                 .kernel = GetString(config, "kernel"),
                 .runtime_identifier = GetString(config, "runtime_identifier"),
                 .runtime_addon_identifiers = GetStringList(config, "runtime_addon_identifiers"),
                 .registered_model_version_id = GetString(config, "registered_model_version_id"),
                 .model_root_dir = GetString(config, "model_root_dir"),
                 .build_script_path = GetString(config, "build_script_path")};
  return ctx.state.CreateBuild(build, ctx.user.username, ctx.now);
}

StatusOr<Deployment> CreateDeploymentFrom(const ApiContext& ctx, const json& config,
                                          const std::string& project_id,
                                          const std::string& model_id, const std::string& build_id,
                                          bool with_build) {
  NewDeployment deployment{
      .project_id = project_id,
      .model_id = model_id,
      .build_id = build_id,
      .cpu = GetDouble(config, "cpu"),
      .memory = GetDouble(config, "memory"),
      .nvidia_gpus = static_cast<int>(GetInt(config, "nvidia_gpus")),
      .replicas = static_cast<int>(GetInt(config, "replicas")),
      .environment = GetStringMap(config, "environment"),
      .accelerator_label_id = GetInt(config, "accelerator_label_id"),
      .resource_group_id = static_cast<int>(GetInt(config, "resource_group_id")),
      .resource_profile_id = static_cast<int>(GetInt(config, "resource_profile_id")),
      .with_build = with_build};
  return ctx.state.CreateDeployment(deployment, ctx.user.username, ctx.now);
}

StatusOr<json> CreateModel(const ApiContext& ctx, const std::string& project_id,
                           std::string_view body) {
  CMLR_ASSIGN_OR_RETURN(const json request, CheckedBody(body, "CreateModelRequest", ctx.strict));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "project_id", project_id));
  const bool auto_build = GetBool(request, "auto_build_model");
  if (auto_build && !Has(request, "auto_build_config")) {
    return common::InvalidArgumentError("auto_build_config is required with auto_build_model");
  }
  NewModel model{.project_id = project_id,
                 .name = GetString(request, "name"),
                 .description = GetString(request, "description"),
                 .disable_authentication = GetBool(request, "disable_authentication"),
                 .registered_model_id = GetString(request, "registered_model_id"),
                 .visibility = GetString(request, "visibility"),
                 .run_as = static_cast<int>(GetInt(request, "run_as")),
                 .accelerator_label_id = GetInt(request, "accelerator_label_id"),
                 .resource_group_id = static_cast<int>(GetInt(request, "resource_group_id")),
                 .resource_profile_id = static_cast<int>(GetInt(request, "resource_profile_id"))};
  CMLR_ASSIGN_OR_RETURN(const Model created,
                        ctx.state.CreateModel(model, ctx.user.username, ctx.now));
  if (auto_build) {
    auto build = CreateBuildFrom(ctx, request["auto_build_config"], project_id, created.id);
    if (!build.ok()) {
      (void)ctx.state.DeleteModel(project_id, created.id);
      return build.status().Annotate("auto_build_config");
    }
    if (GetBool(request, "auto_deploy_model")) {
      const json config = Has(request, "auto_deployment_config") ? request["auto_deployment_config"]
                                                                 : json::object();
      auto deployment = CreateDeploymentFrom(ctx, config, project_id, created.id, build->id, true);
      if (!deployment.ok()) return deployment.status().Annotate("auto_deployment_config");
    }
  }
  return ModelJson(ctx, created);
}

StatusOr<json> UpdateModel(const ApiContext& ctx, const std::string& project_id,
                           const std::string& model_id, std::string_view body) {
  CMLR_ASSIGN_OR_RETURN(const json request, CheckedBody(body, "UpdateSingleModel", ctx.strict));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "id", model_id));
  ModelUpdate update{.replace = ctx.quirks.patch_replaces};
  if (Has(request, "name")) update.name = GetString(request, "name");
  if (Has(request, "description")) update.description = GetString(request, "description");
  if (Has(request, "visibility")) update.visibility = GetString(request, "visibility");
  if (Has(request, "default_resources")) {
    const json& r = request["default_resources"];
    update.default_resources = DefaultResources{.cpu_millicores = GetInt(r, "cpu_millicores"),
                                                .memory_mb = GetInt(r, "memory_mb"),
                                                .nvidia_gpus = GetInt(r, "nvidia_gpus")};
  }
  if (Has(request, "default_replication_policy")) {
    const json& p = request["default_replication_policy"];
    update.default_num_replicas = GetInt(p, "num_replicas");
    update.default_replication_type = GetString(p, "type");
  }
  if (Has(request, "run_as")) update.run_as = static_cast<int>(GetInt(request, "run_as"));
  if (Has(request, "accelerator_label_id")) {
    update.accelerator_label_id = GetInt(request, "accelerator_label_id");
  }
  if (Has(request, "resource_group_id")) {
    update.resource_group_id = static_cast<int>(GetInt(request, "resource_group_id"));
  }
  if (Has(request, "resource_profile_id")) {
    update.resource_profile_id = static_cast<int>(GetInt(request, "resource_profile_id"));
  }
  CMLR_ASSIGN_OR_RETURN(const Model updated,
                        ctx.state.UpdateModel(project_id, model_id, update, ctx.now));
  return ModelJson(ctx, updated);
}

StatusOr<json> ListBuilds(const ApiContext& ctx, const std::string& project_id,
                          const std::string& model_id, const Query& query) {
  CMLR_ASSIGN_OR_RETURN(const auto builds, ctx.state.Builds(project_id, model_id));
  std::vector<json> items;
  for (const Build* b : builds) {
    if (Listed(ctx, b->created_at)) {
      items.push_back(EncodeBuild(*b, UserOf(ctx.state, b->creator), Wire(ctx)));
    }
  }
  CMLR_ASSIGN_OR_RETURN(ListPage page,
                        ListItems(std::move(items), ToListQuery(query),
                                  BuildSpec("list_model_builds/" + project_id + "/" + model_id)));
  Sparsen(ctx, page.items,
          {"/registered_model_version_id"_json_pointer, "/runtime_identifier"_json_pointer});
  return PageResponse("model_builds", std::move(page));
}

StatusOr<json> CreateBuild(const ApiContext& ctx, const std::string& project_id,
                           const std::string& model_id, std::string_view body) {
  CMLR_ASSIGN_OR_RETURN(const json request,
                        CheckedBody(body, "CreateModelBuildRequest", ctx.strict));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "project_id", project_id));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "model_id", model_id));
  CMLR_ASSIGN_OR_RETURN(const Build build, CreateBuildFrom(ctx, request, project_id, model_id));
  if (GetBool(request, "auto_deploy_model")) {
    const json config =
        Has(request, "auto_deployment_config") ? request["auto_deployment_config"] : json::object();
    auto deployment = CreateDeploymentFrom(ctx, config, project_id, model_id, build.id, true);
    if (!deployment.ok()) return deployment.status().Annotate("auto_deployment_config");
  }
  // Re-read: the build may have moved on when the timings are zero.
  CMLR_ASSIGN_OR_RETURN(const Build current, ctx.state.GetBuild(project_id, model_id, build.id));
  return EncodeBuild(current, UserOf(ctx.state, current.creator), Wire(ctx));
}

StatusOr<json> ListDeployments(const ApiContext& ctx, const std::vector<std::string>& ids,
                               const Query& query) {
  CMLR_ASSIGN_OR_RETURN(const auto deployments, ctx.state.Deployments(ids[0], ids[1], ids[2]));
  std::vector<json> items;
  for (const Deployment* d : deployments) {
    if (Listed(ctx, d->created_at)) {
      items.push_back(EncodeDeployment(*d, UserOf(ctx.state, d->deployer), Wire(ctx)));
    }
  }
  // No documented filter or sort keys.
  CMLR_ASSIGN_OR_RETURN(ListPage page,
                        ListItems(std::move(items), ToListQuery(query),
                                  ListSpec{.scope = fmt::format("list_model_deployments/{}/{}/{}",
                                                                ids[0], ids[1], ids[2])}));
  return PageResponse("model_deployments", std::move(page));
}

StatusOr<json> CreateDeployment(const ApiContext& ctx, const std::vector<std::string>& ids,
                                std::string_view body) {
  CMLR_ASSIGN_OR_RETURN(const json request,
                        CheckedBody(body, "CreateModelDeploymentRequest", ctx.strict));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "project_id", ids[0]));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "model_id", ids[1]));
  CMLR_RETURN_IF_ERROR(CheckPathField(request, "build_id", ids[2]));
  CMLR_ASSIGN_OR_RETURN(const Deployment d,
                        CreateDeploymentFrom(ctx, request, ids[0], ids[1], ids[2], false));
  return EncodeDeployment(d, UserOf(ctx.state, d.deployer), Wire(ctx));
}

StatusOr<json> DeploymentVerb(const ApiContext& ctx, const std::vector<std::string>& ids,
                              bool stop) {
  CMLR_RETURN_IF_ERROR(ctx.state.GetDeployment(ids[0], ids[1], ids[2], ids[3]).status());
  CMLR_ASSIGN_OR_RETURN(const Deployment d, stop ? ctx.state.StopDeployment(ids[3], ctx.now)
                                                 : ctx.state.RestartDeployment(ids[3], ctx.now));
  return EncodeDeployment(d, UserOf(ctx.state, d.deployer), Wire(ctx));
}

}  // namespace

ApiRoute MatchApiRoute(http::verb method, std::string_view path) {
  ApiRoute route;
  constexpr std::string_view kPrefix = "/api/v2/";
  if (!path.starts_with(kPrefix)) return route;
  std::vector<std::string_view> segments = SplitPath(path.substr(kPrefix.size()));
  if (!segments.empty() && segments.back().empty()) segments.pop_back();  // trailing slash
  std::string_view verb;
  if (!segments.empty()) {
    const auto colon = segments.back().rfind(':');
    if (colon != std::string_view::npos) {
      verb = segments.back().substr(colon + 1);
      segments.back() = segments.back().substr(0, colon);
    }
  }
  for (const auto& spec : Routes()) {
    if (spec.pattern.size() != segments.size() || spec.verb != verb) continue;
    std::vector<std::string> ids;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      if (spec.pattern[i] == "*") {
        if (segments[i].empty()) match = false;
        ids.push_back(PercentDecode(segments[i], false));
      } else {
        match = spec.pattern[i] == segments[i];
      }
    }
    if (!match) continue;
    if (spec.method != method) {
      if (route.operation.empty()) route.operation = spec.operation;
      continue;
    }
    return ApiRoute{.operation = std::string(spec.operation),
                    .is_write = spec.is_write,
                    .method_allowed = true,
                    .ids = std::move(ids)};
  }
  return route;
}

std::string PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() + 0 && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Query ParseQuery(std::string_view query) {
  static const std::map<std::string_view, std::string_view> kAliases = {
      {"pageSize", "page_size"}, {"pageToken", "page_token"}, {"searchFilter", "search_filter"}};
  Query out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    if (const auto alias = kAliases.find(key); alias != kAliases.end()) key = alias->second;
    out[std::move(key)] = std::move(value);
  }
  return out;
}

namespace {

StatusOr<json> Dispatch(const ApiContext& ctx, const ApiRoute& route, const Query& query,
                        std::string_view body) {
  const std::string& op = route.operation;
  const auto& ids = route.ids;
  if (op == "validate_api_key") return ValidateKey(ctx, body);
  if (op == "list_runtimes") return ListRuntimes(ctx, query);
  if (op == "list_all_models") return ListModels(ctx, "", query);
  if (op == "list_registered_models") return ListRegisteredModels(ctx, query);
  if (op == "create_registered_model") return CreateRegisteredModel(ctx, body);
  if (op == "get_registered_model") return GetRegisteredModel(ctx, ids[0], query);
  if (op == "get_registered_model_version") return GetRegisteredModelVersion(ctx, ids[0], ids[1]);
  if (op == "list_models") return ListModels(ctx, ids[0], query);
  if (op == "create_model") return CreateModel(ctx, ids[0], body);
  if (op == "get_model") {
    CMLR_ASSIGN_OR_RETURN(const Model model, ctx.state.GetModel(ids[0], ids[1]));
    return ModelJson(ctx, model);
  }
  if (op == "update_model") return UpdateModel(ctx, ids[0], ids[1], body);
  if (op == "delete_model") {
    CMLR_RETURN_IF_ERROR(ctx.state.DeleteModel(ids[0], ids[1]));
    return json::object();
  }
  if (op == "list_model_builds") return ListBuilds(ctx, ids[0], ids[1], query);
  if (op == "create_model_build") return CreateBuild(ctx, ids[0], ids[1], body);
  if (op == "get_model_build") {
    CMLR_ASSIGN_OR_RETURN(const Build build, ctx.state.GetBuild(ids[0], ids[1], ids[2]));
    return EncodeBuild(build, UserOf(ctx.state, build.creator), Wire(ctx));
  }
  if (op == "delete_model_build") {
    CMLR_RETURN_IF_ERROR(ctx.state.DeleteBuild(ids[0], ids[1], ids[2]));
    return json::object();
  }
  if (op == "list_model_deployments") return ListDeployments(ctx, ids, query);
  if (op == "create_model_deployment") return CreateDeployment(ctx, ids, body);
  if (op == "get_model_deployment") {
    CMLR_ASSIGN_OR_RETURN(const Deployment d,
                          ctx.state.GetDeployment(ids[0], ids[1], ids[2], ids[3]));
    return EncodeDeployment(d, UserOf(ctx.state, d.deployer), Wire(ctx));
  }
  if (op == "stop_model_deployment") return DeploymentVerb(ctx, ids, true);
  if (op == "restart_model_deployment") return DeploymentVerb(ctx, ids, false);
  return common::UnimplementedError(fmt::format("{} is not emulated", op));
}

// The operations that address one object by id, for forbidden-for-missing.
bool AddressesById(std::string_view op) {
  return op == "get_model" || op == "get_model_build" || op == "get_model_deployment" ||
         op == "stop_model_deployment" || op == "restart_model_deployment" ||
         op == "get_registered_model" || op == "get_registered_model_version";
}

}  // namespace

StatusOr<json> HandleApiCall(const ApiContext& ctx, const ApiRoute& route, const Query& query,
                             std::string_view body) {
  auto result = Dispatch(ctx, route, query, body);
  if (!result.ok() && result.status().code() == common::StatusCode::kNotFound &&
      ctx.quirks.forbidden_for_missing && AddressesById(route.operation)) {
    return common::PermissionDeniedError(
        "permission denied: the caller may not access this resource");
  }
  return result;
}

}  // namespace cmlr::emulator
