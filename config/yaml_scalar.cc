#include "config/yaml_scalar.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace cmlr::config {

namespace {

using Kind = YamlNode::Kind;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsDecimalInt(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

bool IsYamlFloat(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s == ".inf" || s == ".Inf" || s == ".INF") return true;
  std::size_t i = 0;
  std::size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    const std::size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

namespace {

// Plain scalars that YAML 1.1 tools (PyYAML, many editors and linters) read as booleans or
// numbers although YAML 1.2 reads them as text: "yes", "on", "0x1F", "1_000", "12:30".
bool IsYaml11NonString(std::string_view s) {
  static constexpr std::string_view kWords[] = {"y",  "Y",   "yes", "Yes", "YES", "n",
                                                "N",  "no",  "No",  "NO",  "on",  "On",
                                                "ON", "off", "Off", "OFF"};
  if (std::find(std::begin(kWords), std::end(kWords), s) != std::end(kWords)) return true;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) return true;
  if (s.empty() || !IsDigit(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsDigit(c) || c == '_' || c == ':' || c == '.'; }) &&
         (s.find('_') != std::string_view::npos || s.find(':') != std::string_view::npos);
}

}  // namespace

ScalarType ClassifyScalar(const YamlNode& node) {
  if (node.kind == Kind::kNull) return ScalarType::kNull;
  if (!node.plain) return ScalarType::kString;
  const std::string& v = node.value;
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") return ScalarType::kNull;
  if (v == "true" || v == "True" || v == "TRUE" || v == "false" || v == "False" || v == "FALSE") {
    return ScalarType::kBool;
  }
  if (IsDecimalInt(v)) return ScalarType::kInt;
  if (IsYamlFloat(v) || v == ".nan" || v == ".NaN" || v == ".NAN") return ScalarType::kFloat;
  if (IsYaml11NonString(v)) return ScalarType::kYaml11;
  return ScalarType::kString;
}

std::string DescribeNode(const YamlNode& node) {
  switch (node.kind) {
    case Kind::kSequence:
      return "a list";
    case Kind::kMap:
      return "a mapping";
    default:
      break;
  }
  switch (ClassifyScalar(node)) {
    case ScalarType::kNull:
      return "null";
    case ScalarType::kBool:
      return "a boolean";
    case ScalarType::kInt:
      return "an integer";
    case ScalarType::kFloat:
      return "a number";
    case ScalarType::kYaml11:
      return fmt::format("{}, which YAML 1.1 tools read as a boolean or number", node.value);
    case ScalarType::kString:
      break;
  }
  return "a string";
}

}  // namespace cmlr::config
