#include "config/yaml_json.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/yaml_reader.h"

namespace cmlr::config {
namespace {

JsonConversion Convert(const std::string& yaml) {
  const YamlReadResult read = ReadYamlDocuments(yaml);
  EXPECT_FALSE(read.error) << read.error->message;
  if (read.documents.empty()) return {};
  return YamlToJson(read.documents[0].root, "request");
}

std::string Json(const std::string& yaml) {
  const JsonConversion conversion = Convert(yaml);
  EXPECT_TRUE(conversion.problems.empty()) << conversion.problems.front().message;
  return conversion.json;
}

// Verifies that scalars get the JSON type a YAML 1.2 core-schema reader gives them, and that
// quoting always means a string.
TEST(YamlJsonTest, TypesScalarsLikeYaml12) {
  EXPECT_EQ(Json("{i: 42, neg: -7, plus: +5, zeros: 007}"),
            R"({"i":42,"neg":-7,"plus":5,"zeros":7})");
  EXPECT_EQ(Json("{f: 35.5, e: 1e3, half: .5, neg: -0.25}"),
            R"({"e":1000.0,"f":35.5,"half":0.5,"neg":-0.25})");
  EXPECT_EQ(Json("{u: 18446744073709551615, huge: 123456789012345678901234567890}"),
            R"({"huge":1.2345678901234568e+29,"u":18446744073709551615})");
  EXPECT_EQ(Json("{a: true, b: True, c: FALSE}"), R"({"a":true,"b":true,"c":false})");
  EXPECT_EQ(Json("{a: null, b: ~, c: , d: Null}"), R"({"a":null,"b":null,"c":null,"d":null})");
  EXPECT_EQ(Json(R"({a: "42", b: 'true', c: "null", d: hello world, e: "yes"})"),
            R"({"a":"42","b":"true","c":"null","d":"hello world","e":"yes"})");
  EXPECT_EQ(Json("text: |\n  two\n  lines\n"), R"({"text":"two\nlines\n"})");
  EXPECT_EQ(Json("{\"caf\xC3\xA9\": \"\xE2\x82\xAC\"}"), "{\"caf\xC3\xA9\":\"\xE2\x82\xAC\"}");
}

// Verifies that sequences become arrays in order, mappings objects with sorted keys, nested
// to any depth the reader allows, and that keys are always strings.
TEST(YamlJsonTest, ConvertsCollections) {
  EXPECT_EQ(Json("{z: [1, a, null, [2, {y: 1, x: 2}]], a: {}, m: []}"),
            R"({"a":{},"m":[],"z":[1,"a",null,[2,{"x":2,"y":1}]]})");
  EXPECT_EQ(Json("{1: one, true: yes-text}"), R"({"1":"one","true":"yes-text"})");
  EXPECT_EQ(Json("- 1\n- two\n"), R"([1,"two"])");
}

// Verifies that values without a faithful JSON form are problems at their place and path, all
// of them, and that no JSON is produced then.
TEST(YamlJsonTest, RefusesNonFiniteAndAmbiguousValues) {
  const JsonConversion conversion = Convert("a: [.nan, -.inf, 1e999]\nb: {c: on, d: 0x1F}\n");
  EXPECT_TRUE(conversion.json.empty());
  std::vector<std::string> problems;
  for (const JsonProblem& p : conversion.problems) {
    problems.push_back(std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + p.path +
                       ": " + p.message);
  }
  EXPECT_EQ(problems,
            (std::vector<std::string>{
                "1:5: request.a[0]: expected a finite number, got .nan (JSON has no NaN or "
                "infinity)",
                "1:11: request.a[1]: expected a finite number, got -.inf (JSON has no NaN or "
                "infinity)",
                "1:18: request.a[2]: expected a finite number, got 1e999 (JSON has no NaN or "
                "infinity)",
                "2:8: request.b.c: ambiguous value on, which YAML 1.1 tools read as a boolean or "
                "number; quote it (\"on\") if you mean the text",
                "2:15: request.b.d: ambiguous value 0x1F, which YAML 1.1 tools read as a boolean "
                "or number; quote it (\"0x1F\") if you mean the text"}));
}

}  // namespace
}  // namespace cmlr::config
