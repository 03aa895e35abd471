#include "tests/emulator/swagger_validator.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include <fmt/format.h>

namespace cmlr::emulator::testing {

namespace {

using nlohmann::json;

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return out;
}

// A template segment "{id}" matches any non-empty segment; "{id}:stop" one ending in ":stop".
bool SegmentMatches(std::string_view pattern, std::string_view segment) {
  if (pattern.empty() || pattern.front() != '{') return pattern == segment;
  const auto close = pattern.find('}');
  const std::string_view suffix = pattern.substr(close + 1);
  if (segment.size() <= suffix.size() || !segment.ends_with(suffix)) return false;
  // A plain parameter must not swallow a custom verb of another route.
  return !suffix.empty() || segment.find(':') == std::string_view::npos;
}

}  // namespace

common::StatusOr<SwaggerValidator> SwaggerValidator::Load(const std::string& path) {
  if (!std::filesystem::exists(path)) return common::NotFoundError(path + " does not exist");
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  json document = json::parse(content.str(), nullptr, false);
  if (document.is_discarded() || !document.contains("definitions") || !document.contains("paths")) {
    return common::InvalidArgumentError(path + " is not a swagger document");
  }
  return SwaggerValidator(std::move(document));
}

std::vector<std::string> SwaggerValidator::ValidateDefinition(const json& value,
                                                              std::string_view definition) const {
  std::vector<std::string> errors;
  Validate(value, json{{"$ref", "#/definitions/" + std::string(definition)}}, "$", errors);
  return errors;
}

const json* SwaggerValidator::FindOperation(std::string_view method, std::string_view path) const {
  std::string lower(method);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto segments = Split(path);
  for (const auto& [pattern, operations] : document_["paths"].items()) {
    const auto parts = Split(pattern);
    if (parts.size() != segments.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < parts.size() && match; ++i) {
      match = SegmentMatches(parts[i], segments[i]);
    }
    if (match && operations.contains(lower)) return &operations[lower];
  }
  return nullptr;
}

std::vector<std::string> SwaggerValidator::ValidateResponse(std::string_view method,
                                                            std::string_view path, int http_status,
                                                            const json& body) const {
  std::vector<std::string> errors;
  const json* operation = FindOperation(method, path);
  if (operation == nullptr) {
    // Unknown paths and methods answer with the runtimeError shape.
    if (http_status != 200) return ValidateDefinition(body, "runtimeError");
    errors.push_back(fmt::format("{} {}: not an operation of the document", method, path));
    return errors;
  }
  const json& responses = (*operation)["responses"];
  const std::string key = http_status == 200 ? "200" : "default";
  if (!responses.contains(key) || !responses[key].contains("schema")) {
    errors.push_back(fmt::format("{} {}: no schema for status {}", method, path, http_status));
    return errors;
  }
  Validate(body, responses[key]["schema"], "$", errors);
  return errors;
}

void SwaggerValidator::Validate(const json& value, const json& schema, const std::string& at,
                                std::vector<std::string>& errors) const {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    constexpr std::string_view kPrefix = "#/definitions/";
    const std::string name = ref.substr(kPrefix.size());
    if (!ref.starts_with(kPrefix) || !document_["definitions"].contains(name)) {
      errors.push_back(fmt::format("{}: unresolvable $ref {}", at, ref));
      return;
    }
    Validate(value, document_["definitions"][name], at, errors);
    return;
  }
  const std::string type = schema.value("type", "object");
  const std::string format = schema.value("format", "");
  auto fail = [&](std::string message) { errors.push_back(at + ": " + std::move(message)); };
  if (type == "object") {
    if (!value.is_object()) return fail("expected an object, got " + value.dump());
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, member] : value.items()) {
      const std::string member_at = at + "." + key;
      if (properties.contains(key)) {
        Validate(member, properties[key], member_at, errors);
      } else if (schema.contains("additionalProperties")) {
        Validate(member, schema["additionalProperties"], member_at, errors);
      } else {
        errors.push_back(member_at + ": not a field of the definition");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) return fail("expected an array");
    for (std::size_t i = 0; i < value.size(); ++i) {
      Validate(value[i], schema.value("items", json::object()), fmt::format("{}[{}]", at, i),
               errors);
    }
  } else if (type == "string") {
    if (!value.is_string()) return fail("expected a string, got " + value.dump());
    const std::string text = value.get<std::string>();
    if (format == "int64" || format == "uint64") {
      const bool digits =
          !text.empty() && std::all_of(text.begin() + (text[0] == '-'), text.end(),
                                       [](unsigned char c) { return std::isdigit(c) != 0; });
      if (!digits || text == "-") fail("expected an int64 as a decimal string, got " + text);
    }
    // RFC 3339 syntax, whatever the year: Go's zero time 0001-01-01T00:00:00Z is a valid one.
    static const std::regex kDateTime(
        R"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))");
    if (format == "date-time" && !std::regex_match(text, kDateTime)) {
      fail("expected an RFC 3339 date-time, got " + text);
    }
    if (schema.contains("enum")) {
      const auto& values = schema["enum"];
      if (std::find(values.begin(), values.end(), value) == values.end()) {
        fail("not one of the enum values: " + text);
      }
    }
  } else if (type == "integer") {
    if (!value.is_number_integer()) return fail("expected an integer, got " + value.dump());
    if (format == "int32") {
      const auto n = value.get<std::int64_t>();
      if (n < std::numeric_limits<std::int32_t>::min() ||
          n > std::numeric_limits<std::int32_t>::max()) {
        fail("int32 out of range");
      }
    }
  } else if (type == "number") {
    if (!value.is_number()) return fail("expected a number, got " + value.dump());
  } else if (type == "boolean") {
    if (!value.is_boolean()) return fail("expected a boolean, got " + value.dump());
  } else {
    fail("unsupported schema type " + type);
  }
}

}  // namespace cmlr::emulator::testing
