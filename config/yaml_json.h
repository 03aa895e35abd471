#pragma once

#include <string>
#include <vector>

#include "config/yaml_reader.h"

namespace cmlr::config {

// A value of a YAML tree that has no faithful JSON form, with its place and path.
struct JsonProblem {
  int line = 1;
  int column = 1;
  std::string path;  // "spec.verify.request.data[0][3]"
  std::string message;
};

struct JsonConversion {
  std::string json;  // compact, object keys sorted; empty when there are problems
  std::vector<JsonProblem> problems;
};

// Converts `node` to JSON as a YAML 1.2 core-schema reader types it: plain scalars that read as
// integers or floats become numbers, true/false booleans, null, ~ and empty values null, quoted
// and block scalars strings, sequences arrays, mappings objects. Refused, each as a problem at
// its place (`path` names `node` in the messages): non-finite numbers (.nan, .inf, 1e999; JSON
// has none) and plain scalars that YAML 1.1 tools read differently ("yes", "0x1F", "12:30"),
// which must be quoted to mean text. Never throws.
JsonConversion YamlToJson(const YamlNode& node, const std::string& path);

}  // namespace cmlr::config
