#pragma once

#include <string>
#include <string_view>

#include "config/yaml_reader.h"

namespace cmlr::config {

// What a YAML 1.2 core-schema reader makes of a node (kYaml11: a plain scalar that YAML 1.2
// reads as text but YAML 1.1 tools such as PyYAML read as a boolean or number: "yes", "on",
// "0x1F", "1_000", "12:30"). Quoted and block scalars are always kString.
enum class ScalarType { kNull, kBool, kInt, kFloat, kYaml11, kString };

// The type of a scalar or null node (a collection classifies as kNull: check kind first).
ScalarType ClassifyScalar(const YamlNode& node);

// "[-+]?[0-9]+".
bool IsDecimalInt(std::string_view text);

// A YAML 1.2 core-schema float, the integers and ".inf" included (".nan" not).
bool IsYamlFloat(std::string_view text);

// What a node is, for messages: "a list", "a mapping", "null", "a boolean", "an integer",
// "a number", "a string", or "yes, which YAML 1.1 tools read as a boolean or number".
std::string DescribeNode(const YamlNode& node);

}  // namespace cmlr::config
