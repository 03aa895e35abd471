#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cmlr::api::testing {

// Path of the swagger excerpt beside the project (never copied into it).
inline constexpr const char* kSwaggerExcerptPath =
    CMLR_SOURCE_DIR "/../shared/cml-apiv2-swagger-excerpt.json";

// Checks requests against a Swagger 2.0 document: the operation (method and path template,
// including custom verbs like ":stop"), its declared query parameters, and the body against
// the body parameter's definition (types, int64-as-string, enums, no undeclared fields).
class SwaggerValidator {
 public:
  // std::nullopt when the file is absent or unreadable.
  static std::optional<SwaggerValidator> Load(const std::string& path);

  // Every problem found, empty when the request conforms. `target` is path plus query.
  std::vector<std::string> ValidateRequest(std::string_view method, std::string_view target,
                                           std::string_view body) const;

  // Every problem of `value` against definitions/<definition>.
  std::vector<std::string> ValidateDefinition(const nlohmann::json& value,
                                              const std::string& definition) const;

 private:
  explicit SwaggerValidator(nlohmann::json document) : document_(std::move(document)) {}
  void Validate(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path,
                std::vector<std::string>& errors) const;

  nlohmann::json document_;
};

}  // namespace cmlr::api::testing
