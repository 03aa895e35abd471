#include "config/yaml_reader.h"

#include <string>

#include <gtest/gtest.h>

namespace cmlr::config {
namespace {

// Verifies that documents, keys, positions and the plain/quoted distinction are read.
TEST(YamlReaderTest, ReadsDocumentsWithPositions) {
  const YamlReadResult result = ReadYamlDocuments("a: 1\nb:\n  c: \"x\"\n---\n- y\n");
  ASSERT_FALSE(result.error) << result.error->message;
  ASSERT_EQ(result.documents.size(), 2u);
  const YamlNode& first = result.documents[0].root;
  ASSERT_EQ(first.kind, YamlNode::Kind::kMap);
  ASSERT_EQ(first.entries.size(), 2u);
  EXPECT_EQ(first.entries[1].key, "b");
  EXPECT_EQ(first.entries[1].line, 2);
  const YamlNode* c = first.entries[1].value.Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->value, "x");
  EXPECT_FALSE(c->plain);
  EXPECT_EQ(c->line, 3);
  EXPECT_EQ(c->column, 6);
  EXPECT_TRUE(first.Find("a")->plain);
  EXPECT_EQ(result.documents[1].root.kind, YamlNode::Kind::kSequence);
  EXPECT_EQ(result.documents[1].root.line, 5);
}

// Verifies that an empty value is positioned at its key, not at the next line.
TEST(YamlReaderTest, PlacesEmptyValueAtItsKey) {
  const YamlReadResult result = ReadYamlDocuments("a:\nb: 1\n");
  ASSERT_FALSE(result.error);
  const YamlNode* a = result.documents[0].root.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->kind, YamlNode::Kind::kNull);
  EXPECT_EQ(a->line, 1);
}

// Verifies that a duplicate key is an error at the second occurrence.
TEST(YamlReaderTest, RejectsDuplicateKeys) {
  const YamlReadResult result = ReadYamlDocuments("a: 1\nb: 2\na: 3\n");
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->line, 3);
  EXPECT_EQ(result.error->column, 1);
  EXPECT_EQ(result.error->message, "duplicate key \"a\" (first at line 1)");
}

// Verifies that anchors and aliases are refused, so an alias bomb costs nothing.
TEST(YamlReaderTest, RejectsAnchorsAndAliases) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'z'; ++c) {
    bomb += std::string(1, c) + ": [*" + std::string(1, static_cast<char>(c - 1)) + ", *" +
            std::string(1, static_cast<char>(c - 1)) + "]\n";
  }
  const YamlReadResult result = ReadYamlDocuments(bomb);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->line, 1);
  EXPECT_EQ(result.error->column, 4);
}

// Verifies that deep nesting is refused with an error, not a stack overflow.
TEST(YamlReaderTest, BoundsNestingDepth) {
  std::string block = "a:\n  ";
  for (int i = 0; i < 200000; ++i) block += "- ";
  block += "x\n";
  for (const std::string& text :
       {std::string(kMaxFileBytes / 2, '[') + std::string(kMaxFileBytes / 2, ']'), block}) {
    const YamlReadResult result = ReadYamlDocuments(text);
    ASSERT_TRUE(result.error);
    EXPECT_EQ(result.error->message, "nesting deeper than 32 levels");
  }
  std::string flow_maps;
  for (int i = 0; i < 100000; ++i) flow_maps += "{a: ";
  EXPECT_TRUE(ReadYamlDocuments(flow_maps).error);
}

// Verifies that a document nested exactly at the limit is still read.
TEST(YamlReaderTest, AcceptsNestingAtTheLimit) {
  const std::string text =
      std::string(kMaxNestingDepth, '[') + std::string(kMaxNestingDepth, ']') + "\n";
  EXPECT_FALSE(ReadYamlDocuments(text).error);
  const std::string deeper =
      std::string(kMaxNestingDepth + 1, '[') + std::string(kMaxNestingDepth + 1, ']') + "\n";
  EXPECT_TRUE(ReadYamlDocuments(deeper).error);
}

// Verifies that tabs are refused in indentation but allowed inside values and comments.
TEST(YamlReaderTest, RejectsTabIndentation) {
  const YamlReadResult bad = ReadYamlDocuments("a:\n\tb: 1\n");
  ASSERT_TRUE(bad.error);
  EXPECT_EQ(bad.error->line, 2);
  EXPECT_EQ(bad.error->column, 1);
  EXPECT_FALSE(ReadYamlDocuments("a: \"x\ty\"\nb: 1\t# tab\n\t# comment\n").error);
}

// Verifies that binary data and invalid UTF-8 are refused with their position.
TEST(YamlReaderTest, RejectsBinaryAndInvalidUtf8) {
  const YamlReadResult nul = ReadYamlDocuments(std::string("a: 1\nb: \0", 10));
  ASSERT_TRUE(nul.error);
  EXPECT_EQ(nul.error->line, 2);
  EXPECT_EQ(nul.error->column, 4);
  const YamlReadResult utf8 = ReadYamlDocuments("a: caf\xC3\xA9\nb: \xC3\x28\n");
  ASSERT_TRUE(utf8.error);
  EXPECT_EQ(utf8.error->line, 2);
  EXPECT_EQ(utf8.error->column, 4);
  EXPECT_FALSE(ReadYamlDocuments("\xEF\xBB\xBF"
                                 "a: caf\xC3\xA9\n")
                   .error);
}

// Verifies that explicit tags and collection keys are refused.
TEST(YamlReaderTest, RejectsTagsAndCollectionKeys) {
  EXPECT_TRUE(ReadYamlDocuments("a: !!int 3\n").error);
  EXPECT_TRUE(ReadYamlDocuments("{[a]: 1}\n").error);
  EXPECT_TRUE(ReadYamlDocuments("? [a]\n: 1\n").error);
}

// Verifies that syntax errors carry yaml-cpp's position, and documents before them are kept.
TEST(YamlReaderTest, ReportsSyntaxErrors) {
  const YamlReadResult result = ReadYamlDocuments("a: 1\n---\nb: [1, 2\n");
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.documents.size(), 1u);
  EXPECT_EQ(result.error->line, 4);
  EXPECT_NE(result.error->message.find("YAML syntax error"), std::string::npos);
}

// Verifies that a stray ',' after a block mapping, which yaml-cpp 0.7 reports as an endless
// stream of empty documents, is a syntax error (found by tests/fuzz/desired_state_fuzzer).
TEST(YamlReaderTest, RejectsStrayCommaInsteadOfLoopingForever) {
  const YamlReadResult result = ReadYamlDocuments(" a: 1\n,\n");
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->line, 2);
  EXPECT_EQ(result.error->column, 1);
  EXPECT_EQ(result.error->message, "YAML syntax error: unexpected ','");
  EXPECT_LE(result.documents.size(), 2u);
}

}  // namespace
}  // namespace cmlr::config
