#include "tests/api/swagger_validator.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>

namespace cmlr::api::testing {

using nlohmann::json;

namespace {

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find(separator, start);
    parts.emplace_back(text.substr(start, at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

// Matches one concrete segment against a template segment like "{id}" or "{id}:stop".
// Returns the number of literal characters matched (a tie-breaker), or -1.
int MatchSegment(const std::string& pattern, const std::string& segment) {
  const std::size_t open = pattern.find('{');
  if (open == std::string::npos) return pattern == segment ? static_cast<int>(pattern.size()) : -1;
  const std::size_t close = pattern.find('}');
  const std::string prefix = pattern.substr(0, open);
  const std::string suffix = pattern.substr(close + 1);
  if (segment.size() <= prefix.size() + suffix.size()) return -1;
  if (!segment.starts_with(prefix) || !segment.ends_with(suffix)) return -1;
  const std::string value =
      segment.substr(prefix.size(), segment.size() - prefix.size() - suffix.size());
  if (suffix.empty() && value.find(':') != std::string::npos) return -1;
  return static_cast<int>(prefix.size() + suffix.size());
}

bool IsInt64String(const std::string& text) {
  std::int64_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && result.ec == std::errc() && result.ptr == text.data() + text.size();
}

}  // namespace

std::optional<SwaggerValidator> SwaggerValidator::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  json document = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains("paths")) return std::nullopt;
  return SwaggerValidator(std::move(document));
}

std::vector<std::string> SwaggerValidator::ValidateRequest(std::string_view method,
                                                           std::string_view target,
                                                           std::string_view body) const {
  std::vector<std::string> errors;
  std::string lower(method);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::size_t question = target.find('?');
  const std::string path(target.substr(0, question));
  const std::string query =
      question == std::string_view::npos ? std::string() : std::string(target.substr(question + 1));
  const std::vector<std::string> segments = Split(path, '/');

  const json* operation = nullptr;
  std::string operation_path;
  int best = -1;
  for (const auto& [pattern, item] : document_["paths"].items()) {
    if (!item.contains(lower)) continue;
    const std::vector<std::string> parts = Split(pattern, '/');
    if (parts.size() != segments.size()) continue;
    int score = 0;
    for (std::size_t i = 0; i < parts.size() && score >= 0; ++i) {
      const int s = MatchSegment(parts[i], segments[i]);
      score = s < 0 ? -1 : score + s;
    }
    if (score > best) {
      best = score;
      operation = &item[lower];
      operation_path = pattern;
    }
  }
  const std::string what = std::string(method) + " " + path;
  if (operation == nullptr) {
    errors.push_back(what + ": no such operation in the swagger document");
    return errors;
  }

  const json* body_schema = nullptr;
  std::vector<std::string> query_names;
  static const json kNoParameters = json::array();
  const json& parameters =
      operation->contains("parameters") ? (*operation)["parameters"] : kNoParameters;
  for (const json& parameter : parameters) {
    if (parameter.value("in", "") == "body") body_schema = &parameter["schema"];
    if (parameter.value("in", "") == "query") query_names.push_back(parameter["name"]);
  }
  if (!query.empty()) {
    for (const std::string& pair : Split(query, '&')) {
      const std::string name = pair.substr(0, pair.find('='));
      if (std::find(query_names.begin(), query_names.end(), name) == query_names.end()) {
        errors.push_back(what + ": query parameter " + name + " is not declared");
      }
    }
  }
  if (body_schema == nullptr) {
    if (!body.empty()) errors.push_back(what + ": the operation declares no body");
    return errors;
  }
  json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    errors.push_back(what + ": body is not JSON");
    return errors;
  }
  Validate(value, *body_schema, what + " body", errors);
  return errors;
}

std::vector<std::string> SwaggerValidator::ValidateDefinition(const json& value,
                                                              const std::string& definition) const {
  std::vector<std::string> errors;
  Validate(value, json{{"$ref", "#/definitions/" + definition}}, definition, errors);
  return errors;
}

void SwaggerValidator::Validate(const json& value, const json& schema, const std::string& path,
                                std::vector<std::string>& errors) const {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    const std::string name = ref.substr(ref.rfind('/') + 1);
    if (!document_["definitions"].contains(name)) {
      errors.push_back(path + ": unknown definition " + name);
      return;
    }
    Validate(value, document_["definitions"][name], path, errors);
    return;
  }
  const std::string type = schema.value("type", "object");
  const std::string format = schema.value("format", "");
  if (type == "object") {
    if (!value.is_object()) {
      errors.push_back(path + ": expected an object");
      return;
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, item] : value.items()) {
      if (properties.contains(key)) {
        Validate(item, properties[key], path + "." + key, errors);
      } else if (schema.contains("additionalProperties")) {
        Validate(item, schema["additionalProperties"], path + "." + key, errors);
      } else {
        errors.push_back(path + "." + key + ": not a field of the definition");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) {
      errors.push_back(path + ": expected an array");
      return;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      Validate(value[i], schema["items"], path + "[" + std::to_string(i) + "]", errors);
    }
  } else if (type == "string") {
    if (!value.is_string()) {
      errors.push_back(path + ": expected a string");
      return;
    }
    if (format == "int64" && !IsInt64String(value)) {
      errors.push_back(path + ": expected an int64 in a string");
    }
    if (schema.contains("enum")) {
      const json& values = schema["enum"];
      if (std::find(values.begin(), values.end(), value) == values.end()) {
        errors.push_back(path + ": not one of " + values.dump());
      }
    }
  } else if (type == "integer") {
    if (!value.is_number_integer()) {
      errors.push_back(path + ": expected an integer");
    } else if (format == "int32" &&
               (value.get<std::int64_t>() < std::numeric_limits<int32_t>::min() ||
                value.get<std::int64_t>() > std::numeric_limits<int32_t>::max())) {
      errors.push_back(path + ": out of int32 range");
    }
  } else if (type == "number") {
    if (!value.is_number()) errors.push_back(path + ": expected a number");
  } else if (type == "boolean") {
    if (!value.is_boolean()) errors.push_back(path + ": expected a boolean");
  }
}

}  // namespace cmlr::api::testing
