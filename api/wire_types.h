#pragma once

// The JSON objects of CML API v2 (../shared/cml-apiv2.md section 6, swagger definitions of
// the same names), as plain aggregates, and the functions that decode and encode them.
//
// Decoding follows what the real grpc-gateway does: a field that is absent or null is its zero
// value; int64 fields arrive as strings; any number may arrive as a string ("2"); a
// deployment's `environment` is a JSON-encoded string (an object is accepted too); fields we
// do not know are ignored. A value of the wrong type is INVALID_ARGUMENT with a path-qualified
// message ("model_deployments[3].cpu: expected a number, got an object").
//
// Encoding sends only fields of the request's swagger definition, and omits optional fields
// that were not set (empty strings and std::nullopt), so that a PATCH changes only what the
// caller asked for.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

using StringMap = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------------
// Responses

struct ShortUser {
  std::string username;
  std::string name;
  std::string email;
};

struct Tag {
  std::string key;
  std::string value;
};

struct Metric {
  std::string key;
  double value = 0;
  std::optional<common::TimePoint> timestamp;
  std::int64_t step = 0;
};

struct MlflowMetadata {
  std::string experiment_id;
  std::string run_id;
  std::vector<Metric> metrics;
  std::vector<Tag> params;
  std::vector<Tag> tags;
};

struct ModelVersionMetadata {
  std::string mlops_type;  // "MLFLOW" or "SIMPLE"
  std::vector<Tag> tags;
  std::string workspace_url;
  std::string project_id;
  ShortUser owner;
  MlflowMetadata mlflow_metadata;
};

struct RegisteredModelVersion {
  std::string model_id;
  std::string model_version_id;
  std::string version_name;
  std::int32_t number = 0;
  std::string notes;
  ShortUser user;
  std::optional<common::TimePoint> created_at;
  std::optional<common::TimePoint> updated_at;
  std::string status;
  ModelVersionMetadata model_version_metadata;
  std::vector<Tag> tags;
  std::string error_message;
};

// RegisteredModel and RegisteredModelDetails (the list item, which has no versions).
struct RegisteredModel {
  std::string model_id;
  std::string name;
  std::string description;
  ShortUser owner;
  std::string permission;
  std::string visibility;
  std::optional<common::TimePoint> created_at;
  std::optional<common::TimePoint> updated_at;
  std::int32_t count = 0;
  std::vector<RegisteredModelVersion> model_versions;
};

struct Runtime {
  std::string image_identifier;
  std::string editor;
  std::string kernel;
  std::string edition;
  std::string description;
  std::string full_version;
  std::string status;  // ENABLED, DISABLED, DEPRECATED
  std::int32_t register_user_id = 0;
};

struct ShortProject {
  std::string public_identifier;
  std::string name;
  std::string default_project_engine;
  std::string slug;
};

// int64 fields, strings on the wire.
struct DefaultResources {
  std::int64_t cpu_millicores = 0;
  std::int64_t memory_mb = 0;
  std::int64_t nvidia_gpus = 0;
};

struct DefaultReplicationPolicy {
  std::int64_t num_replicas = 0;
  std::string type;
};

struct Model {
  std::string id;
  std::string name;
  std::string description;
  ShortUser creator;
  std::string access_key;
  std::string deletion_status;
  std::optional<common::TimePoint> created_at;
  std::optional<common::TimePoint> updated_at;
  std::string crn;
  bool auth_enabled = false;
  ShortProject project;
  std::string registered_model_id;
  std::string visibility;
  DefaultResources default_resources;
  DefaultReplicationPolicy default_replication_policy;
  std::int32_t run_as = 0;
  std::int64_t accelerator_label_id = 0;
  std::int32_t resource_group_id = 0;
  std::int32_t resource_profile_id = 0;
};

struct ModelBuild {
  std::string id;
  std::string model_id;
  ShortUser creator;
  std::string comment;
  std::string file_path;
  std::string function_name;
  std::string engine_image;
  std::string kernel;
  std::optional<common::TimePoint> created_at;
  std::optional<common::TimePoint> updated_at;
  std::string status;
  std::string deletion_status;
  std::string crn;
  std::optional<common::TimePoint> built_at;
  std::string runtime_identifier;
  std::vector<std::string> runtime_addon_identifiers;
  std::string registered_model_version_id;
  std::string model_root_dir;
  std::string build_script_path;
};

struct ModelDeployment {
  std::string project_id;
  std::string model_id;
  std::string build_id;
  std::string id;
  double cpu = 0;               // vCPU
  double memory = 0;            // GB
  std::int32_t nvidia_gpu = 0;  // singular in responses; requests say nvidia_gpus
  StringMap environment;        // decoded from the JSON-encoded string on the wire
  std::optional<common::TimePoint> created_at;
  std::optional<common::TimePoint> updated_at;
  std::optional<common::TimePoint> stopped_at;
  std::string crn;
  ShortUser deployer;
  std::string status;
  std::int32_t replicas = 0;
  std::int64_t accelerator_label_id = 0;
  std::int32_t resource_group_id = 0;
  std::int32_t resource_profile_id = 0;
};

struct ValidateApiKeyResponse {
  bool valid = false;
  std::string username;
  std::string message;
};

// The `runtimeError` body every operation declares for non-200 answers. `code` is a gRPC code.
struct RuntimeError {
  std::string error;
  std::int32_t code = 0;
  std::string message;
  std::size_t details = 0;  // number of protobufAny entries; their content is not used
};

// One page of a list operation.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
};

// ---------------------------------------------------------------------------------------------
// Requests (only the fields of their swagger definitions)

struct ShortCreateModelDeployment {
  double cpu = 0;
  double memory = 0;
  std::int32_t nvidia_gpus = 0;
  StringMap environment;
  std::int32_t replicas = 0;
  StringMap deployment_secrets;  // write-only
};

struct ShortCreateModelBuild {
  std::string comment;
  std::string file_path;
  std::string function_name;
  std::string kernel;
  std::string runtime_identifier;
  std::vector<std::string> runtime_addon_identifiers;
  std::string registered_model_version_id;
  std::string model_root_dir;
  std::string build_script_path;
};

struct CreateRegisteredModelRequest {
  std::string project_id;
  std::string experiment_id;
  std::string run_id;
  std::string model_path;
  std::string model_name;
  std::vector<Tag> tags;
  std::string description;
  std::string notes;
  std::string visibility;  // PRIVATE (server default) or PUBLIC
};

struct CreateModelRequest {
  std::string project_id;
  std::string name;
  std::string description;
  bool disable_authentication = false;
  std::string registered_model_id;
  std::optional<std::int32_t> run_as;
  std::string visibility;
  std::optional<ShortCreateModelBuild> auto_build_config;
  std::optional<ShortCreateModelDeployment> auto_deployment_config;
  bool auto_build_model = false;
  bool auto_deploy_model = false;
  std::optional<std::int64_t> accelerator_label_id;
  std::optional<std::int32_t> resource_group_id;
  std::optional<std::int32_t> resource_profile_id;
};

// The body of update_model (swagger `UpdateSingleModel`). Only the fields that are set are
// sent, so the gateway changes only those.
struct UpdateModelRequest {
  std::string id;  // also in the URL; filled in by the client when empty
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> visibility;
  std::optional<DefaultResources> default_resources;
  std::optional<DefaultReplicationPolicy> default_replication_policy;
  std::optional<std::int32_t> run_as;
  std::optional<std::int64_t> accelerator_label_id;
  std::optional<std::int32_t> resource_group_id;
  std::optional<std::int32_t> resource_profile_id;
};

struct CreateModelBuildRequest {
  std::string project_id;
  std::string model_id;
  std::string comment;
  std::string file_path;
  std::string function_name;
  std::string kernel;
  std::string runtime_identifier;
  std::vector<std::string> runtime_addon_identifiers;
  std::string registered_model_version_id;
  std::optional<ShortCreateModelDeployment> auto_deployment_config;
  bool auto_deploy_model = false;
  std::string model_root_dir;
  std::string build_script_path;
  std::optional<std::int64_t> accelerator_label_id;
  std::optional<std::int32_t> resource_group_id;
  std::optional<std::int32_t> resource_profile_id;
};

struct CreateModelDeploymentRequest {
  std::string project_id;
  std::string model_id;
  std::string build_id;
  double cpu = 0;     // vCPU
  double memory = 0;  // GB
  std::int32_t nvidia_gpus = 0;
  StringMap environment;
  std::int32_t replicas = 0;
  std::optional<std::int64_t> accelerator_label_id;
  std::optional<std::int32_t> resource_group_id;
  std::optional<std::int32_t> resource_profile_id;
  StringMap deployment_secrets;  // write-only; never returned
};

struct ValidateApiKeyRequest {
  std::string audience = "API";
};

// ---------------------------------------------------------------------------------------------
// Decoding: each takes the parsed JSON of a whole response (or the text, for the Parse
// variants) and returns the object or INVALID_ARGUMENT with a path-qualified message.

common::StatusOr<Runtime> DecodeRuntime(const nlohmann::json& json);
common::StatusOr<RegisteredModel> DecodeRegisteredModel(const nlohmann::json& json);
common::StatusOr<RegisteredModelVersion> DecodeRegisteredModelVersion(const nlohmann::json& json);
common::StatusOr<Model> DecodeModel(const nlohmann::json& json);
common::StatusOr<ModelBuild> DecodeModelBuild(const nlohmann::json& json);
common::StatusOr<ModelDeployment> DecodeModelDeployment(const nlohmann::json& json);
common::StatusOr<ValidateApiKeyResponse> DecodeValidateApiKeyResponse(const nlohmann::json& json);
common::StatusOr<RuntimeError> DecodeRuntimeError(const nlohmann::json& json);

// List responses: the items under their list key ("runtimes", "models", "model_builds",
// "model_deployments") and next_page_token.
common::StatusOr<Page<Runtime>> DecodeRuntimePage(const nlohmann::json& json);
common::StatusOr<Page<RegisteredModel>> DecodeRegisteredModelPage(const nlohmann::json& json);
common::StatusOr<Page<Model>> DecodeModelPage(const nlohmann::json& json);
common::StatusOr<Page<ModelBuild>> DecodeModelBuildPage(const nlohmann::json& json);
common::StatusOr<Page<ModelDeployment>> DecodeModelDeploymentPage(const nlohmann::json& json);
// get_registered_model: the model with one page of its versions.
common::StatusOr<Page<RegisteredModelVersion>> DecodeRegisteredModelVersionPage(
    const nlohmann::json& json);

// Parses JSON text; INVALID_ARGUMENT ("malformed JSON at byte N: ...") when it is not JSON.
// Never throws.
common::StatusOr<nlohmann::json> ParseJson(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Encoding

nlohmann::json Encode(const CreateRegisteredModelRequest& request);
nlohmann::json Encode(const CreateModelRequest& request);
nlohmann::json Encode(const UpdateModelRequest& request);
nlohmann::json Encode(const CreateModelBuildRequest& request);
nlohmann::json Encode(const CreateModelDeploymentRequest& request);
nlohmann::json Encode(const ShortCreateModelDeployment& request);
nlohmann::json Encode(const ShortCreateModelBuild& request);
nlohmann::json Encode(const ValidateApiKeyRequest& request);

}  // namespace cmlr::api
