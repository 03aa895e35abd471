#include "tests/support/swagger_validator.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace cmlr::testing {

namespace {

using nlohmann::json;

// Swagger formats that say more than their type, as JSON Schema patterns, and what they mean
// in a message.
struct FormatRule {
  std::string_view format;
  std::string_view pattern;
  std::string_view meaning;
};
constexpr FormatRule kFormatRules[] = {
    {"int64", "^-?[0-9]{1,19}$", "an int64 as a decimal string"},
    {"uint64", "^[0-9]{1,20}$", "a uint64 as a decimal string"},
    {"date-time",
     R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$)",
     "an RFC 3339 date-time"},
    {"byte", "^[A-Za-z0-9+/]*={0,2}$", "base64 bytes"},
};

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find(separator, start);
    parts.emplace_back(text.substr(start, at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// Adds what a Swagger `format` says to a JSON Schema.
void ApplyFormat(json& schema, const std::string& format) {
  if (format == "int32") {
    schema["minimum"] = std::numeric_limits<std::int32_t>::min();
    schema["maximum"] = std::numeric_limits<std::int32_t>::max();
    return;
  }
  for (const FormatRule& rule : kFormatRules) {
    if (rule.format == format) schema["pattern"] = rule.pattern;
  }
}

// A Swagger 2.0 schema as the JSON Schema (draft 4) that CML's gateway means by it: see the
// class comment for the rules.
json ToJsonSchema(const json& swagger) {
  if (!swagger.is_object()) return swagger;
  if (swagger.contains("$ref")) return json{{"$ref", swagger["$ref"]}};
  json out = json::object();
  for (const auto& [key, value] : swagger.items()) {
    if (key == "properties") {
      out[key] = json::object();
      for (const auto& [name, property] : value.items()) out[key][name] = ToJsonSchema(property);
    } else if (key == "items" || key == "additionalProperties") {
      out[key] = ToJsonSchema(value);
    } else if (key == "format" && value.is_string()) {
      ApplyFormat(out, value.get<std::string>());
    } else if (key != "description" && key != "title" && !key.starts_with("x-")) {
      out[key] = value;
    }
  }
  if (out.contains("properties") && !out.contains("type")) out["type"] = "object";
  if (out.value("type", "") == "object" && !out.contains("additionalProperties")) {
    out["additionalProperties"] = false;
  }
  return out;
}

std::string Article(std::string_view type) {
  if (type == "integer" || type == "object" || type == "array") return "an " + std::string(type);
  return "a " + std::string(type);
}

// A value for a message, cut short.
std::string Shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 60) + "...";
  return text;
}

// The steps of a valijson error context ("<root>", "[model_deployments]", "[0]") without the
// root and brackets.
std::vector<std::string> Steps(const std::vector<std::string>& context) {
  std::vector<std::string> steps;
  for (const std::string& item : context) {
    if (item.size() >= 2 && item.front() == '[' && item.back() == ']') {
      steps.push_back(item.substr(1, item.size() - 2));
    }
  }
  return steps;
}

std::string PathOf(const std::string& where, const std::vector<std::string>& steps) {
  std::string path = where;
  for (const std::string& step : steps) path += IsDigits(step) ? "[" + step + "]" : "." + step;
  return path;
}

const json* ValueAt(const json& value, const std::vector<std::string>& steps) {
  const json* at = &value;
  for (const std::string& step : steps) {
    if (at->is_object() && at->contains(step)) {
      at = &(*at)[step];
    } else if (at->is_array() && IsDigits(step) && std::stoul(step) < at->size()) {
      at = &(*at)[std::stoul(step)];
    } else {
      return nullptr;
    }
  }
  return at;
}

// The summaries valijson adds above an error already reported at a deeper path.
bool IsSummary(std::string_view description) {
  return description.starts_with("Failed to validate against schema associated with property") ||
         description.starts_with("Failed to validate against additional properties schema") ||
         description.starts_with("Failed to validate item #") ||
         description.starts_with("Failed to validate against child schema");
}

// Matches one concrete segment against a template segment like "{id}" or "{id}:stop": the
// number of literal characters matched (a tie-breaker between templates), or -1.
int MatchSegment(const std::string& pattern, const std::string& segment) {
  const std::size_t open = pattern.find('{');
  if (open == std::string::npos) return pattern == segment ? static_cast<int>(pattern.size()) : -1;
  const std::string prefix = pattern.substr(0, open);
  const std::string suffix = pattern.substr(pattern.find('}') + 1);
  if (segment.size() <= prefix.size() + suffix.size()) return -1;
  if (!segment.starts_with(prefix) || !segment.ends_with(suffix)) return -1;
  const std::string value =
      segment.substr(prefix.size(), segment.size() - prefix.size() - suffix.size());
  // A plain parameter must not swallow a custom verb of another route.
  if (suffix.empty() && value.find(':') != std::string::npos) return -1;
  return static_cast<int>(prefix.size() + suffix.size());
}

// A problem for each parameter of `query` ("a=1&b=2") that `operation` does not declare.
std::vector<std::string> UndeclaredQueryParameters(const json& operation, std::string_view query,
                                                   const std::string& what) {
  std::vector<std::string> declared;
  for (const json& parameter : operation.value("parameters", json::array())) {
    if (parameter.value("in", "") == "query") declared.push_back(parameter.value("name", ""));
  }
  std::vector<std::string> errors;
  for (const std::string& pair : Split(query, '&')) {
    const std::string name = pair.substr(0, pair.find('='));
    if (std::find(declared.begin(), declared.end(), name) == declared.end()) {
      errors.push_back(what + ": query parameter " + name + " is not declared");
    }
  }
  return errors;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string SwaggerExcerptPath() {
  return CMLR_SOURCE_DIR "/../shared/cml-apiv2-swagger-excerpt.json";
}

class SwaggerValidator::Impl {
 public:
  explicit Impl(json document) : document_(std::move(document)), definitions_(json::object()) {
    for (const auto& [name, schema] : document_["definitions"].items()) {
      definitions_[name] = ToJsonSchema(schema);
    }
  }

  // Compiles every definition, so that a schema valijson cannot read fails Load.
  common::Status CompileDefinitions() {
    try {
      for (const auto& [name, schema] : definitions_.items()) Compiled(Ref(name));
    } catch (const std::exception& e) {
      return common::InvalidArgumentError(std::string("unreadable schema: ") + e.what());
    }
    return common::OkStatus();
  }

  // Violations of `value` against a translated `schema`, paths starting at `where`.
  std::vector<std::string> Check(const json& value, const json& schema,
                                 const std::string& where) const {
    if (schema.contains("$ref") && Resolve(schema) == nullptr) {
      return {where + ": unresolvable $ref " + schema["$ref"].dump()};
    }
    valijson::ValidationResults results;
    const valijson::adapters::NlohmannJsonAdapter target(value);
    try {
      validator_.validate(Compiled(schema), target, &results);
    } catch (const std::exception& e) {
      return {where + ": unreadable schema " + schema.dump() + ": " + e.what()};
    }
    std::vector<std::string> errors;
    valijson::ValidationResults::Error error;
    while (results.popError(error)) {
      if (!IsSummary(error.description)) errors.push_back(Describe(error, value, schema, where));
    }
    return errors;
  }

  static json Ref(std::string_view definition) {
    return json{{"$ref", "#/definitions/" + std::string(definition)}};
  }

  // The operation object for `method` on a concrete `path` (the template matching the most
  // literal characters), or null.
  const json* FindOperation(std::string_view method, std::string_view path) const {
    const std::string verb = Lower(method);
    const std::vector<std::string> segments = Split(path, '/');
    const json* best = nullptr;
    int best_score = -1;
    for (const auto& [pattern, item] : document_["paths"].items()) {
      const std::vector<std::string> parts = Split(pattern, '/');
      if (!item.contains(verb) || parts.size() != segments.size()) continue;
      int score = 0;
      for (std::size_t i = 0; i < parts.size() && score >= 0; ++i) {
        const int s = MatchSegment(parts[i], segments[i]);
        score = s < 0 ? -1 : score + s;
      }
      if (score > best_score) {
        best_score = score;
        best = &item[verb];
      }
    }
    return best;
  }

 private:
  // The translated schema a `$ref` names, or null.
  const json* Resolve(const json& schema) const {
    const std::string ref = schema.value("$ref", "");
    constexpr std::string_view kPrefix = "#/definitions/";
    if (!ref.starts_with(kPrefix)) return nullptr;
    const auto it = definitions_.find(ref.substr(kPrefix.size()));
    return it == definitions_.end() ? nullptr : &*it;
  }

  const json& Follow(const json& schema) const {
    const json* target = schema.contains("$ref") ? Resolve(schema) : &schema;
    static const json kAny = json::object();
    return target == nullptr ? kAny : *target;
  }

  // The (translated) schema that applies at `steps` below `schema`, or null.
  const json* SchemaAt(const json& schema, const std::vector<std::string>& steps) const {
    const json* at = &Follow(schema);
    for (const std::string& step : steps) {
      if (at->contains("properties") && (*at)["properties"].contains(step)) {
        at = &(*at)["properties"][step];
      } else if (at->contains("items") && IsDigits(step)) {
        at = &(*at)["items"];
      } else if (at->contains("additionalProperties") &&
                 (*at)["additionalProperties"].is_object()) {
        at = &(*at)["additionalProperties"];
      } else {
        return nullptr;
      }
      at = &Follow(*at);
    }
    return at;
  }

  std::string Describe(const valijson::ValidationResults::Error& error, const json& value,
                       const json& schema, const std::string& where) const {
    const std::vector<std::string> steps = Steps(error.context);
    const std::string path = PathOf(where, steps);
    const std::string& text = error.description;
    if (text.starts_with("Object contains a property that could not be validated")) {
      const std::size_t close = text.rfind('\'');
      const std::size_t open = text.rfind('\'', close - 1);
      return path + "." + text.substr(open + 1, close - open - 1) +
             ": not a field of the definition";
    }
    const json* rule = SchemaAt(schema, steps);
    const json* got = ValueAt(value, steps);
    if (rule == nullptr || got == nullptr) return path + ": " + text;
    return path + ": " + Explain(text, *rule, *got);
  }

  static std::string Explain(const std::string& text, const json& rule, const json& got) {
    if (text.starts_with("Value type not permitted") && rule.contains("type")) {
      return "expected " + Article(rule["type"].get<std::string>()) + ", got " +
             std::string(got.type_name()) + " " + Shown(got);
    }
    if (text.starts_with("Failed to match regex") && rule.contains("pattern")) {
      for (const FormatRule& format : kFormatRules) {
        if (rule["pattern"] == format.pattern) {
          return "expected " + std::string(format.meaning) + ", got " + Shown(got);
        }
      }
    }
    if (text.starts_with("Failed to match against any enum") && rule.contains("enum")) {
      return "not one of the enum values " + rule["enum"].dump() + ", got " + Shown(got);
    }
    return text + " (got " + Shown(got) + ")";
  }

  const valijson::Schema& Compiled(const json& schema) const {
    const std::string key = schema.dump();
    auto it = compiled_.find(key);
    if (it != compiled_.end()) return *it->second;
    // One document holding the definitions, so that its `$ref`s resolve.
    const json root{{"definitions", definitions_}, {"allOf", json::array({schema})}};
    auto compiled = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft4);
    parser.populateSchema(valijson::adapters::NlohmannJsonAdapter(root), *compiled);
    return *compiled_.emplace(key, std::move(compiled)).first->second;
  }

  json document_;
  json definitions_;  // translated to JSON Schema
  mutable std::map<std::string, std::unique_ptr<valijson::Schema>> compiled_;
  mutable valijson::Validator validator_{valijson::Validator::kStrongTypes};
};

common::StatusOr<SwaggerValidator> SwaggerValidator::Load(const std::string& path) {
  if (!std::filesystem::exists(path)) return common::NotFoundError(path + " does not exist");
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  static std::map<std::string, std::shared_ptr<const Impl>> loaded;  // by content
  if (const auto it = loaded.find(content.str()); it != loaded.end()) {
    return SwaggerValidator(it->second);
  }
  json document = json::parse(content.str(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains("paths") ||
      !document["definitions"].is_object()) {
    return common::InvalidArgumentError(path + " is not a swagger document");
  }
  auto impl = std::make_shared<Impl>(std::move(document));
  if (common::Status status = impl->CompileDefinitions(); !status.ok()) {
    return status.Annotate(path);
  }
  loaded.emplace(content.str(), impl);
  return SwaggerValidator(std::move(impl));
}

std::vector<std::string> SwaggerValidator::ValidateDefinition(const json& value,
                                                              std::string_view definition) const {
  return impl_->Check(value, Impl::Ref(definition), "$");
}

std::vector<std::string> SwaggerValidator::ValidateRequest(std::string_view method,
                                                           std::string_view target,
                                                           std::string_view body) const {
  const std::size_t question = target.find('?');
  const std::string path(target.substr(0, question));
  const std::string what = std::string(method) + " " + path;
  const json* operation = impl_->FindOperation(method, path);
  if (operation == nullptr) return {what + ": no such operation in the swagger document"};

  std::vector<std::string> errors;
  if (question != std::string_view::npos) {
    errors = UndeclaredQueryParameters(*operation, target.substr(question + 1), what);
  }
  const json parameters = operation->value("parameters", json::array());
  const json* body_schema = nullptr;
  for (const json& parameter : parameters) {
    if (parameter.value("in", "") == "body") body_schema = &parameter["schema"];
  }
  if (body_schema == nullptr) {
    if (!body.empty()) errors.push_back(what + ": the operation declares no body");
    return errors;
  }
  const json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    errors.push_back(what + ": body is not JSON");
    return errors;
  }
  for (std::string& error : impl_->Check(value, ToJsonSchema(*body_schema), what + " body")) {
    errors.push_back(std::move(error));
  }
  return errors;
}

std::vector<std::string> SwaggerValidator::ValidateResponse(std::string_view method,
                                                            std::string_view path, int http_status,
                                                            const json& body) const {
  const json* operation = impl_->FindOperation(method, path);
  if (operation == nullptr) {
    // Unknown paths and methods answer with the runtimeError shape.
    if (http_status != 200) return ValidateDefinition(body, "runtimeError");
    return {std::string(method) + " " + std::string(path) + ": not an operation of the document"};
  }
  const std::string key = http_status == 200 ? "200" : "default";
  const json responses = operation->value("responses", json::object());
  if (!responses.contains(key) || !responses[key].contains("schema")) {
    return {std::string(method) + " " + std::string(path) + ": no schema for status " +
            std::to_string(http_status)};
  }
  return impl_->Check(body, ToJsonSchema(responses[key]["schema"]), "$");
}

}  // namespace cmlr::testing
