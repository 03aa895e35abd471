#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cmlr::emulator::testing {

// Checks JSON values against the definitions of a Swagger 2.0 document: types, formats (int64
// as a decimal string, date-time as RFC 3339, int32 range), enums, `$ref`, arrays,
// `additionalProperties` maps, and that every member of an object is a property of its
// definition.
class SwaggerValidator {
 public:
  // NOT_FOUND when the file does not exist; INVALID_ARGUMENT when it is not a swagger document.
  [[nodiscard]] static common::StatusOr<SwaggerValidator> Load(const std::string& path);

  // Violations of `value` against `#/definitions/<definition>`, as "path: message" lines.
  std::vector<std::string> ValidateDefinition(const nlohmann::json& value,
                                              std::string_view definition) const;

  // Violations of a response body: the 200 schema of the operation `method path` (a concrete
  // path such as /api/v2/projects/p/models/m), or its `default` (runtimeError) schema for any
  // other status. A path the document does not have is itself a violation.
  std::vector<std::string> ValidateResponse(std::string_view method, std::string_view path,
                                            int http_status, const nlohmann::json& body) const;

 private:
  explicit SwaggerValidator(nlohmann::json document) : document_(std::move(document)) {}
  void Validate(const nlohmann::json& value, const nlohmann::json& schema, const std::string& at,
                std::vector<std::string>& errors) const;
  const nlohmann::json* FindOperation(std::string_view method, std::string_view path) const;

  nlohmann::json document_;
};

}  // namespace cmlr::emulator::testing
