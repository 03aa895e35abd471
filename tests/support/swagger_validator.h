#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cmlr::testing {

// Where the swagger excerpt lives: beside the project (../shared), never copied into it. Tests
// that need it skip (GTEST_SKIP) when it is absent.
std::string SwaggerExcerptPath();

// Checks JSON against a Swagger 2.0 document with a real JSON Schema validator (valijson), for
// the conformance tests of both api/ (requests the client sends) and emulator/ (answers the
// emulator gives). The document's schemas are read as CML's gateway means them:
//   - `#/definitions/...` references resolve within the document;
//   - an object allows only its declared properties unless it says `additionalProperties`
//     (protobuf messages have no other fields; maps say `additionalProperties: {...}`);
//   - format int64/uint64 is a decimal string (proto3 JSON), int32 an integer in range,
//     date-time RFC 3339 syntax (whatever the year: Go's zero time 0001-01-01T00:00:00Z is
//     one), byte base64; double, float and boolean add nothing to their type.
// Violations are "PATH: message" lines, PATH starting at "$" (or at "METHOD /path body") with
// ".field" and "[index]" steps: "$.model_deployments[0].cpu: expected a number, got string".
// A document is read and compiled once per process and shared by every validator loaded from
// it (the test binaries load the excerpt in every test). Not thread-safe.
class SwaggerValidator {
 public:
  // NOT_FOUND when `path` does not exist; INVALID_ARGUMENT when it is not a swagger document
  // with paths and definitions, or a schema valijson cannot read.
  [[nodiscard]] static common::StatusOr<SwaggerValidator> Load(const std::string& path);

  // Violations of `value` against `#/definitions/<definition>`; an unknown definition is one.
  std::vector<std::string> ValidateDefinition(const nlohmann::json& value,
                                              std::string_view definition) const;

  // Violations of a request: the operation `method` + `target` (path and query; templates such
  // as {id} and custom verbs such as {id}:stop match), each query parameter declared, and the
  // body against the body parameter's schema (or no body when none is declared).
  std::vector<std::string> ValidateRequest(std::string_view method, std::string_view target,
                                           std::string_view body) const;

  // Violations of a response body: the 200 schema of the operation `method path` (a concrete
  // path), or its `default` (runtimeError) schema for any other status. A path the document
  // does not have is a violation for 200, and answers runtimeError otherwise.
  std::vector<std::string> ValidateResponse(std::string_view method, std::string_view path,
                                            int http_status, const nlohmann::json& body) const;

 private:
  class Impl;
  explicit SwaggerValidator(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace cmlr::testing
