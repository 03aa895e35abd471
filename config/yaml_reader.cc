#include "config/yaml_reader.h"

#include <sstream>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "common/utf8.h"

namespace cmlr::config {

const YamlEntry* YamlNode::FindEntry(std::string_view key) const {
  for (const YamlEntry& entry : entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

const YamlNode* YamlNode::Find(std::string_view key) const {
  const YamlEntry* entry = FindEntry(key);
  return entry == nullptr ? nullptr : &entry->value;
}

namespace {

// Thrown by the event handler to stop the parser at the first unacceptable construct.
struct ReadAbort {
  YamlReadError error;
};

int Line(const YAML::Mark& mark) { return mark.line < 0 ? 1 : mark.line + 1; }
int Column(const YAML::Mark& mark) { return mark.column < 0 ? 1 : mark.column + 1; }

[[noreturn]] void Abort(const YAML::Mark& mark, std::string message) {
  throw ReadAbort{YamlReadError{Line(mark), Column(mark), std::move(message)}};
}

// Reports the first byte that is not valid UTF-8 or is a control character other than tab,
// line feed and carriage return. A leading byte order mark is allowed.
std::optional<YamlReadError> CheckText(std::string_view text) {
  int line = 1;
  int column = 1;
  std::size_t i = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
      ++i;
      continue;
    }
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7F) {
        return YamlReadError{line, column,
                             fmt::format("control character 0x{:02X} is not allowed; this does "
                                         "not look like a YAML text file",
                                         c)};
      }
      ++i;
      ++column;
      continue;
    }
    const std::size_t length = common::Utf8Length(text.substr(i));
    if (length == 0) {
      return YamlReadError{line, column, "invalid UTF-8; this does not look like a YAML text file"};
    }
    i += length;
    ++column;
  }
  return std::nullopt;
}

// YAML forbids tabs in indentation, and yaml-cpp would otherwise misread some of them.
std::optional<YamlReadError> CheckIndentation(std::string_view text) {
  int line = 1;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view row = text.substr(start, end - start);
    const std::size_t content = row.find_first_not_of(" \t\r");
    const std::size_t tab = row.find('\t');
    if (tab != std::string_view::npos && content != std::string_view::npos && tab < content &&
        row[content] != '#') {
      return YamlReadError{line, static_cast<int>(tab) + 1,
                           "tab character in indentation; YAML indents with spaces"};
    }
    start = end + 1;
    ++line;
  }
  return std::nullopt;
}

// Builds YamlNode trees from parser events, refusing what a desired-state file never needs.
class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string_view text) : text_(text) {}

  std::vector<YamlDocument>& documents() { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 leaves some stray tokens unconsumed (a ',' after a block mapping, as in
    // " a: 1\n,\n") and reports an empty document at that same token forever: a document that
    // does not start after the previous one is a syntax error, not one more document.
    if (last_start_ >= 0 && mark.pos <= last_start_) {
      const std::size_t at = static_cast<std::size_t>(mark.pos);
      const char c = at < text_.size() ? text_[at] : '\0';
      Abort(mark, c > ' ' && c < 0x7f ? fmt::format("YAML syntax error: unexpected '{}'", c)
                                      : std::string("YAML syntax error: unexpected text"));
    }
    last_start_ = mark.pos;
    current_ = YamlDocument{.line = Line(mark), .column = Column(mark), .root = {}};
    stack_.clear();
  }
  void OnDocumentEnd() override { documents_.push_back(std::move(current_)); }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    CheckAnchor(mark, anchor);
    YamlNode node;
    node.kind = YamlNode::Kind::kNull;
    node.line = Line(mark);
    node.column = Column(mark);
    Add(mark, std::move(node), /*key_allowed=*/true);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    Abort(mark, "YAML anchors and aliases (&name, *name) are not supported in desired-state files");
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    YamlNode node;
    node.kind = YamlNode::Kind::kScalar;
    node.line = Line(mark);
    node.column = Column(mark);
    node.value = value;
    node.plain = tag == "?";
    Add(mark, std::move(node), /*key_allowed=*/true);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(mark, tag, anchor, YamlNode::Kind::kSequence);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(mark, tag, anchor, YamlNode::Kind::kMap);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    YamlNode node;
    std::optional<YamlEntry> pending;  // kMap: a key read, its value not yet
    std::unordered_map<std::string, int> key_lines;
  };

  static void CheckAnchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      Abort(mark,
            "YAML anchors and aliases (&name, *name) are not supported in desired-state files");
    }
  }

  static void CheckTag(const YAML::Mark& mark, const std::string& tag) {
    if (!tag.empty() && tag != "?" && tag != "!") {
      Abort(mark, fmt::format("explicit YAML tags ({}) are not supported", tag));
    }
  }

  void Open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
            YamlNode::Kind kind) {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    if (!stack_.empty() && stack_.back().node.kind == YamlNode::Kind::kMap &&
        !stack_.back().pending) {
      Abort(mark, "mapping keys must be plain strings, not collections");
    }
    if (static_cast<int>(stack_.size()) >= kMaxNestingDepth) {
      Abort(mark, fmt::format("nesting deeper than {} levels", kMaxNestingDepth));
    }
    Frame frame;
    frame.node.kind = kind;
    frame.node.line = Line(mark);
    frame.node.column = Column(mark);
    stack_.push_back(std::move(frame));
  }

  void Close() {
    YamlNode node = std::move(stack_.back().node);
    stack_.pop_back();
    Add(YAML::Mark(), std::move(node), /*key_allowed=*/false);
  }

  void Add(const YAML::Mark& mark, YamlNode node, bool key_allowed) {
    if (stack_.empty()) {
      current_.root = std::move(node);
      return;
    }
    Frame& top = stack_.back();
    if (top.node.kind == YamlNode::Kind::kSequence) {
      top.node.items.push_back(std::move(node));
      return;
    }
    if (top.pending) {
      if (node.kind == YamlNode::Kind::kNull) {
        // yaml-cpp places an empty value where the next token starts; the key is more useful.
        node.line = top.pending->line;
        node.column = top.pending->column;
      }
      top.pending->value = std::move(node);
      top.node.entries.push_back(std::move(*top.pending));
      top.pending.reset();
      return;
    }
    if (!key_allowed || node.kind != YamlNode::Kind::kScalar) {
      Abort(mark, "mapping keys must be plain strings");
    }
    const auto [it, inserted] = top.key_lines.emplace(node.value, node.line);
    if (!inserted) {
      throw ReadAbort{YamlReadError{
          node.line, node.column,
          fmt::format("duplicate key \"{}\" (first at line {})", node.value, it->second)}};
    }
    top.pending = YamlEntry{
        .key = std::move(node.value), .line = node.line, .column = node.column, .value = {}};
  }

  std::string_view text_;
  int last_start_ = -1;  // byte offset of the previous document's start
  YamlDocument current_;
  std::vector<YamlDocument> documents_;  // complete ones only
  std::vector<Frame> stack_;
};

}  // namespace

YamlReadResult ReadYamlDocuments(std::string_view text) {
  YamlReadResult result;
  if (auto error = CheckText(text)) {
    result.error = std::move(error);
    return result;
  }
  if (auto error = CheckIndentation(text)) {
    result.error = std::move(error);
    return result;
  }
  TreeBuilder builder(text);
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const ReadAbort& abort) {
    result.error = abort.error;
  } catch (const YAML::DeepRecursion& e) {
    result.error = YamlReadError{Line(e.mark), Column(e.mark),
                                 fmt::format("nesting deeper than {} levels", kMaxNestingDepth)};
  } catch (const YAML::Exception& e) {
    result.error = YamlReadError{Line(e.mark), Column(e.mark), "YAML syntax error: " + e.msg};
  } catch (const std::exception& e) {
    result.error = YamlReadError{1, 1, std::string("cannot read YAML: ") + e.what()};
  }
  result.documents = std::move(builder.documents());
  return result;
}

}  // namespace cmlr::config
