#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::emulator {

// Behaviours of a real CML workspace that the public record leaves open (design section 4a),
// each off by default and turned on by name (`--quirks`, PUT /_emulator/quirks).
struct Quirks {
  // list-lag=DURATION: objects created through the API (models, builds, deployments, registered
  // models and versions) are missing from list answers until DURATION after their creation;
  // a get by id shows them at once. Fixture objects are always listed.
  std::optional<common::Duration> list_lag;
  // forbidden-for-missing: a get, :stop or :restart of a missing id (or an id under the wrong
  // parent) answers 403 PERMISSION_DENIED instead of 404 NOT_FOUND.
  bool forbidden_for_missing = false;
  // sparse-lists: list answers lack builds' registered_model_version_id and runtime_identifier,
  // and the model_versions of get_registered_model lack model_version_metadata.mlflow_metadata.
  bool sparse_lists = false;
  // patch-replaces: update_model replaces the updatable fields; those not sent are cleared.
  bool patch_replaces = false;
  // nan-metrics: versions carry extra MLflow metrics whose values are "NaN", "Infinity" and
  // "-Infinity" (JSON strings, as proto3 JSON writes non-finite doubles).
  bool nan_metrics = false;
  // zero-times: unset timestamps (built_at, stopped_at) are "0001-01-01T00:00:00Z", not omitted.
  bool zero_times = false;
  // lenient: unknown request fields are ignored (as with --no-strict).
  bool lenient = false;
  // gateway-v1-codes: grpc-gateway v1's HTTP statuses: RESOURCE_EXHAUSTED 403, FAILED_PRECONDITION
  // 412, DEADLINE_EXCEEDED and CANCELLED 408.
  bool gateway_v1_codes = false;
  // registration=DURATION: versions registered through the API are PENDING_REGISTRATION, then
  // READY after DURATION; a build of a version that is not ready yet ends "build failed".
  std::optional<common::Duration> registration;
  // succeeded-phase: builds go queued, pending, succeeded, pushing, built (in quarters of the
  // build time); a deployment created while its build is not built yet ends failed (auto-deploys
  // of create_model / create_model_build excepted: they wait for the build).
  bool succeeded_phase = false;

  bool operator==(const Quirks&) const = default;
};

// Parses a comma-separated list such as "sparse-lists,list-lag=5s" (spaces around items are
// ignored; "" is none). INVALID_ARGUMENT naming the offending item for an unknown quirk, a
// value given to a quirk that takes none, or a missing, malformed or negative duration.
[[nodiscard]] common::StatusOr<Quirks> ParseQuirks(std::string_view list);

// Parses the body of PUT /_emulator/quirks, which replaces the whole set: {"quirks": LIST} with
// LIST a string as for ParseQuirks, a list of such items, or an object {"sparse-lists": true,
// "list-lag": "5s"} (false or null: off). INVALID_ARGUMENT as ParseQuirks, or for another shape.
[[nodiscard]] common::StatusOr<Quirks> ParseQuirksJson(const nlohmann::json& body);

// The canonical list, in the order above: "list-lag=5s,sparse-lists"; "" when none is on.
std::string FormatQuirks(const Quirks& quirks);

// {"quirks": FormatQuirks(quirks), "active": {"list-lag": "5s", "sparse-lists": true}}.
nlohmann::json QuirksToJson(const Quirks& quirks);

}  // namespace cmlr::emulator
