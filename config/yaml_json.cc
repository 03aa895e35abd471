#include "config/yaml_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/yaml_scalar.h"

namespace cmlr::config {

namespace {

using nlohmann::json;
using Kind = YamlNode::Kind;

// An integer keeps its exact value when it fits 64 bits, else becomes the nearest double.
json IntegerValue(std::string_view text) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  const char* end = text.data() + text.size();
  std::int64_t signed_value = 0;
  if (const auto r = std::from_chars(text.data(), end, signed_value); r.ec == std::errc()) {
    return signed_value;
  }
  std::uint64_t unsigned_value = 0;
  if (const auto r = std::from_chars(text.data(), end, unsigned_value); r.ec == std::errc()) {
    return unsigned_value;
  }
  return std::strtod(std::string(text).c_str(), nullptr);
}

class Converter {
 public:
  json Convert(const YamlNode& node, const std::string& path) {
    switch (node.kind) {
      case Kind::kNull:
        return nullptr;
      case Kind::kSequence:
        return Sequence(node, path);
      case Kind::kMap:
        return Mapping(node, path);
      case Kind::kScalar:
        break;
    }
    return Scalar(node, path);
  }

  std::vector<JsonProblem>& problems() { return problems_; }

 private:
  json Sequence(const YamlNode& node, const std::string& path) {
    json out = json::array();
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      out.push_back(Convert(node.items[i], fmt::format("{}[{}]", path, i)));
    }
    return out;
  }

  json Mapping(const YamlNode& node, const std::string& path) {
    json out = json::object();
    for (const YamlEntry& entry : node.entries) {
      out[entry.key] = Convert(entry.value, fmt::format("{}.{}", path, entry.key));
    }
    return out;
  }

  json Scalar(const YamlNode& node, const std::string& path) {
    switch (ClassifyScalar(node)) {
      case ScalarType::kNull:
        return nullptr;
      case ScalarType::kBool:
        return node.value[0] == 't' || node.value[0] == 'T';
      case ScalarType::kInt:
        return IntegerValue(node.value);
      case ScalarType::kFloat:
        return Float(node, path);
      case ScalarType::kYaml11:
        Problem(node, path,
                fmt::format("ambiguous value {}; quote it (\"{}\") if you mean the text",
                            DescribeNode(node), node.value));
        return nullptr;
      case ScalarType::kString:
        break;
    }
    return node.value;
  }

  json Float(const YamlNode& node, const std::string& path) {
    const double value = std::strtod(node.value.c_str(), nullptr);
    if (std::isfinite(value) && node.value.find_first_of("nN") == std::string::npos) return value;
    Problem(
        node, path,
        fmt::format("expected a finite number, got {} (JSON has no NaN or infinity)", node.value));
    return nullptr;
  }

  void Problem(const YamlNode& node, const std::string& path, std::string message) {
    problems_.push_back(JsonProblem{node.line, node.column, path, std::move(message)});
  }

  std::vector<JsonProblem> problems_;
};

}  // namespace

JsonConversion YamlToJson(const YamlNode& node, const std::string& path) {
  Converter converter;
  const json value = converter.Convert(node, path);
  JsonConversion out;
  out.problems = std::move(converter.problems());
  // The reader refused text that is not UTF-8, so nothing is replaced; the handler only keeps
  // dump() from throwing.
  if (out.problems.empty()) out.json = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

}  // namespace cmlr::config
