#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmlr::config {

// Limits that bound the work and memory one desired-state file can cause.
inline constexpr std::size_t kMaxFileBytes = 1 << 20;  // 1 MiB
inline constexpr int kMaxNestingDepth = 32;

struct YamlEntry;

// A YAML node as read from a desired-state file: only what validation needs (kind, position,
// text, whether a scalar was plain), with no anchors, aliases or tags left to resolve.
struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  int line = 1;  // 1-based position of the node's first character
  int column = 1;
  std::string value;  // kScalar: the text
  bool plain = true;  // kScalar: unquoted and not a block scalar, so it may be a number/bool
  std::vector<YamlNode> items;     // kSequence
  std::vector<YamlEntry> entries;  // kMap, in document order, keys unique

  // The value of `key` in a mapping, or null when absent (or when this is not a mapping).
  const YamlNode* Find(std::string_view key) const;
  const YamlEntry* FindEntry(std::string_view key) const;
};

struct YamlEntry {
  std::string key;
  int line = 1;  // the key's position
  int column = 1;
  YamlNode value;
};

// One YAML document of a stream, with the position of its start.
struct YamlDocument {
  int line = 1;
  int column = 1;
  YamlNode root;
};

// The first problem that stopped reading; documents before it are still returned.
struct YamlReadError {
  int line = 1;
  int column = 1;
  std::string message;
};

struct YamlReadResult {
  std::vector<YamlDocument> documents;
  std::optional<YamlReadError> error;
};

// Reads every document of `text`. Hardened for untrusted input: rejects text that is not UTF-8
// (or holds control characters), tabs in indentation, anchors and aliases (so an alias bomb
// costs nothing), explicit tags, non-scalar or duplicate mapping keys and nesting deeper than
// kMaxNestingDepth. Never throws; the work is linear in the size of `text`, which the caller
// bounds (kMaxFileBytes).
YamlReadResult ReadYamlDocuments(std::string_view text);

}  // namespace cmlr::config
