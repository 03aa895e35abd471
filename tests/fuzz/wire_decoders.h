#pragma once

// For the fuzz targets of tests/fuzz: the decoders of api/wire_types.h as HttpCmlClient applies
// them to a response body, and their contract.

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/wire_types.h"
#include "common/status.h"
#include "tests/fuzz/fuzz_check.h"

namespace cmlr::fuzz {

// The status of a decoding, without its value.
template <typename T>
common::Status StatusOf(const common::StatusOr<T>& decoded) {
  return decoded.ok() ? common::OkStatus() : decoded.status();
}

// One JSON decoder: the operation of HttpCmlClient that applies it to a 2xx body (or what the
// body is, for decoders no single operation owns) and the decoding.
struct Decoder {
  std::string_view name;
  common::Status (*decode)(const nlohmann::json& body);
};

// Every decoder of api/wire_types.h. The first entries are the decodings HttpCmlClient does,
// each named after an operation that does it (create_model and update_model decode like
// get_model); runtime and runtime_error, which no 2xx body goes through, come last.
inline constexpr Decoder kDecoders[] = {
    {"validate_api_key",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeValidateApiKeyResponse(j)); }},
    {"list_runtimes", [](const nlohmann::json& j) { return StatusOf(api::DecodeRuntimePage(j)); }},
    {"list_registered_models",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeRegisteredModelPage(j)); }},
    // One page of versions, and the model itself from the first page.
    {"get_registered_model",
     [](const nlohmann::json& j) {
       common::Status status = StatusOf(api::DecodeRegisteredModelVersionPage(j));
       return status.ok() ? StatusOf(api::DecodeRegisteredModel(j)) : status;
     }},
    {"create_registered_model",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeRegisteredModel(j)); }},
    {"get_registered_model_version",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeRegisteredModelVersion(j)); }},
    {"list_models", [](const nlohmann::json& j) { return StatusOf(api::DecodeModelPage(j)); }},
    {"get_model", [](const nlohmann::json& j) { return StatusOf(api::DecodeModel(j)); }},
    {"list_model_builds",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeModelBuildPage(j)); }},
    {"get_model_build", [](const nlohmann::json& j) { return StatusOf(api::DecodeModelBuild(j)); }},
    {"list_model_deployments",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeModelDeploymentPage(j)); }},
    {"get_model_deployment",
     [](const nlohmann::json& j) { return StatusOf(api::DecodeModelDeployment(j)); }},
    {"runtime", [](const nlohmann::json& j) { return StatusOf(api::DecodeRuntime(j)); }},
    {"runtime_error", [](const nlohmann::json& j) { return StatusOf(api::DecodeRuntimeError(j)); }},
};

// The entries of kDecoders that belong to an operation of the client.
inline constexpr std::size_t kOperationDecoders = std::size(kDecoders) - 2;

// Checks that a status message can go into JSON: the daemon shows the errors of CML calls in
// /api/v1/status, and nlohmann's encoder throws on text that is not UTF-8.
inline void CheckJsonSafe(std::string_view what, const common::Status& status) {
  try {
    (void)nlohmann::json(status.message()).dump();
  } catch (const nlohmann::json::exception& e) {
    Check(false, what, std::string("message is not JSON-safe: ") + e.what());
  }
}

// Checks the decoders' contract: OK, or INVALID_ARGUMENT with a message naming the field.
inline void CheckDecoded(const Decoder& decoder, const common::Status& status) {
  Check(status.ok() ||
            (status.code() == common::StatusCode::kInvalidArgument && !status.message().empty()),
        decoder.name, status.ToString());
  CheckJsonSafe(decoder.name, status);
}

}  // namespace cmlr::fuzz
