#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "emulator/resources.h"

namespace cmlr::emulator {

// The JSON rules of CML's grpc-gateway (cml-apiv2.md section 4): snake_case names, int64 as
// strings, zero-valued fields omitted, RFC 3339 times with milliseconds, and the runtimeError
// body. Pure functions; no state.

// HTTP status for a gRPC code as grpc-gateway v2 maps it: 400/3, 401/16, 403/7, 404/5, 409/6
// and 10, 429/8, 499/1, 500/13 and 2, 501/12, 503/14, 504/4; 400 for the other client errors.
// With `gateway_v1`, as grpc-gateway v1's HTTPStatusFromCode: 403/8, 412/9, 408/4 and 1.
int HttpStatusForCode(common::StatusCode code, bool gateway_v1 = false);

// {"error": message, "code": n, "message": message, "details": []} (runtimeError).
nlohmann::json ErrorBody(const common::Status& status);

// Removes, recursively, every member whose value is zero for its type: null, "", false, 0,
// [] and {} (an object left empty by the removal counts as empty). Array elements stay.
void PruneZero(nlohmann::json& value);

std::string FormatTime(common::TimePoint time);

// What an unset timestamp reads as under WireOptions::zero_times (Go's zero time.Time).
inline constexpr char kZeroTime[] = "0001-01-01T00:00:00Z";

// Encoding choices of the server (emulator/quirks.h).
struct WireOptions {
  // Unset timestamps (built_at, stopped_at) are kZeroTime instead of omitted.
  bool zero_times = false;
  // Versions carry three more metrics whose values are "NaN", "Infinity" and "-Infinity".
  bool nan_metrics = false;
};

// Encoders of the response definitions. `user` arguments may be null (the field is omitted).
// Non-finite metric values are always the strings "NaN", "Infinity", "-Infinity".
nlohmann::json EncodeUser(const User* user);
nlohmann::json EncodeRuntime(const Runtime& runtime);
nlohmann::json EncodeRegisteredModelVersion(const RegisteredModel& model,
                                            const RegisteredModelVersion& version, const User* user,
                                            const WireOptions& options = {});
// RegisteredModelDetails, or RegisteredModel when `versions` is given (already paged).
nlohmann::json EncodeRegisteredModel(const RegisteredModel& model, const User* owner,
                                     const std::vector<nlohmann::json>* versions);
nlohmann::json EncodeModel(const Model& model, const Project* project, const User* creator);
nlohmann::json EncodeBuild(const Build& build, const User* creator,
                           const WireOptions& options = {});
nlohmann::json EncodeDeployment(const Deployment& deployment, const User* deployer,
                                const WireOptions& options = {});

// Checks a request body against a request definition of the API (CreateModelRequest, ...):
// an object whose members have the JSON types protobuf's JSON mapping accepts for the field
// (numbers also as numeric strings, int64 as string or number, null for "unset"). With
// `strict`, a member the definition does not have is INVALID_ARGUMENT naming it; without, it
// is ignored. A wrong type is INVALID_ARGUMENT naming the field either way.
[[nodiscard]] common::Status CheckRequestBody(const nlohmann::json& body,
                                              std::string_view definition, bool strict);

// Readers for a body that passed CheckRequestBody: absent or null gives the zero value.
std::string GetString(const nlohmann::json& body, std::string_view key);
double GetDouble(const nlohmann::json& body, std::string_view key);
std::int64_t GetInt(const nlohmann::json& body, std::string_view key);
bool GetBool(const nlohmann::json& body, std::string_view key);
std::map<std::string, std::string> GetStringMap(const nlohmann::json& body, std::string_view key);
std::vector<std::string> GetStringList(const nlohmann::json& body, std::string_view key);
bool Has(const nlohmann::json& body, std::string_view key);

}  // namespace cmlr::emulator
