#include "config/spec_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "common/duration.h"
#include "common/time_format.h"
#include "config/digest.h"
#include "config/yaml_json.h"
#include "config/yaml_reader.h"
#include "config/yaml_scalar.h"

namespace cmlr::config {

namespace {

using Kind = YamlNode::Kind;
using Keys = std::vector<std::string_view>;

constexpr int kMaxVersion = 1'000'000;
constexpr std::size_t kMaxTextLength = 4096;
constexpr std::size_t kMaxErrorsPerFile = 100;
constexpr common::Duration kMaxTimeout = std::chrono::hours(24);
constexpr common::Duration kMinVerifyTimeout = std::chrono::seconds(1);
constexpr common::Duration kMaxVerifyTimeout = std::chrono::minutes(10);

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// A value quoted in a message, cut short when long (an unclosed quote swallows whole files).
std::string Shown(std::string_view text) {
  constexpr std::size_t kMax = 60;
  if (text.size() <= kMax) return std::string(text);
  return fmt::format("{}...", text.substr(0, kMax));
}

std::string Join(const Keys& keys) {
  std::string out;
  for (const auto key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

bool IsValidName(std::string_view name) {
  return !name.empty() && name.size() <= static_cast<std::size_t>(kMaxNameLength) &&
         IsLowerAlnum(name.front()) && IsLowerAlnum(name.back()) &&
         std::all_of(name.begin(), name.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// Kubernetes-like label keys and values: alphanumerics, '-', '_', '.', at most 63, starting and
// ending alphanumeric (a value may also be empty).
bool IsValidLabelText(std::string_view text) {
  return !text.empty() && text.size() <= 63 && IsAlnum(text.front()) && IsAlnum(text.back()) &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool IsValidEnvName(std::string_view name) {
  return !name.empty() && !IsDigit(name.front()) &&
         std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '_'; });
}

// CML public identifiers ("abcd-1234-efgh-5678") and MLflow run ids: alphanumerics and '-'.
bool IsValidIdentifier(std::string_view id) {
  return !id.empty() && id.size() <= 128 && IsAlnum(id.front()) && IsAlnum(id.back()) &&
         std::all_of(id.begin(), id.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

// registry/repository:tag, as CML runtime identifiers are.
bool IsValidImage(std::string_view image) {
  if (image.empty() || image.size() > 512) return false;
  if (std::any_of(image.begin(), image.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' '; })) {
    return false;
  }
  const std::size_t slash = image.rfind('/');
  const std::size_t colon = image.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    return false;
  }
  return colon > 0 && colon + 1 < image.size() && image.front() != '/' && image.front() != ':';
}

// "a" or "a.b.c": keys joined by dots, none empty.
bool IsValidKeyPath(std::string_view path) {
  return !path.empty() && path.front() != '.' && path.back() != '.' &&
         path.find("..") == std::string_view::npos;
}

bool HasOuterSpace(std::string_view text) {
  return !text.empty() && (std::isspace(static_cast<unsigned char>(text.front())) != 0 ||
                           std::isspace(static_cast<unsigned char>(text.back())) != 0);
}

std::size_t Levenshtein(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Folded(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (c == '_' || c == '-') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// A place in the text to point at when a field is missing: the key that holds the mapping.
struct Place {
  int line = 1;
  int column = 1;
};

Place At(const YamlEntry& entry) { return Place{entry.line, entry.column}; }

class DocumentParser {
 public:
  DocumentParser(const std::string& file, std::vector<LoadError>& errors)
      : file_(file), errors_(errors) {}

  ParsedDocument Parse(const YamlNode& root) {
    ParsedDocument doc;
    const std::size_t errors_before = errors_.size();
    if (root.kind != Kind::kMap) {
      Error(root, "", fmt::format("expected a {} mapping, got {}", kKind, DescribeNode(root)));
      return doc;
    }
    const Place top{root.line, root.column};
    CheckKeys(root, "", {"apiVersion", "kind", "metadata", "spec"});
    const auto api_version = RequiredString(root, top, "", "apiVersion");
    const auto kind = RequiredString(root, top, "", "kind");
    if (api_version && *api_version != kApiVersion) {
      Error(
          *root.Find("apiVersion"), "apiVersion",
          fmt::format("unsupported apiVersion \"{}\"; expected \"{}\"", *api_version, kApiVersion));
    }
    if (kind && *kind != kKind) {
      Error(*root.Find("kind"), "kind",
            fmt::format("unsupported kind \"{}\"; expected \"{}\"", *kind, kKind));
    }
    if (errors_.size() != errors_before) return doc;  // not a document of ours: stop here

    ModelDeploymentSpec spec;
    spec.source = fmt::format("{}:{}", file_, root.line);
    if (const YamlEntry* metadata = RequiredMap(root, top, "", "metadata")) {
      ParseMetadata(*metadata, spec, doc);
    }
    if (const YamlEntry* spec_entry = RequiredMap(root, top, "", "spec")) {
      ParseSpec(*spec_entry, spec, doc);
    }
    if (errors_.size() == errors_before) {
      spec.digest = ComputeDigest(spec);
      doc.spec = std::move(spec);
    }
    return doc;
  }

 private:
  void Error(const YamlNode& at, std::string path, std::string message) {
    Error(Place{at.line, at.column}, std::move(path), std::move(message));
  }
  void Error(Place at, std::string path, std::string message) {
    errors_.push_back(LoadError{.file = file_,
                                .line = at.line,
                                .column = at.column,
                                .path = std::move(path),
                                .message = std::move(message)});
  }

  void CheckKeys(const YamlNode& map, const std::string& path, const Keys& allowed) {
    for (const YamlEntry& entry : map.entries) {
      if (std::find(allowed.begin(), allowed.end(), entry.key) != allowed.end()) continue;
      const std::string hint = SuggestKey(entry.key, allowed);
      Error(At(entry), Child(path, entry.key),
            hint.empty()
                ? fmt::format("unknown field \"{}\"; expected one of: {}", entry.key, Join(allowed))
                : fmt::format("unknown field \"{}\"; did you mean \"{}\"?", entry.key, hint));
    }
  }

  // True when `map` has a key that is a likely misspelling of `key`: its "did you mean" error
  // already says what is wrong, so a "missing" error would only add noise.
  // Keys in `known` are fields of their own (verify's "requests" is one letter from "request").
  static bool Misspelled(const YamlNode& map, std::string_view key, const Keys& known = {}) {
    return std::any_of(map.entries.begin(), map.entries.end(), [&](const YamlEntry& entry) {
      return entry.key != key && SuggestKey(entry.key, {key}) == key &&
             std::find(known.begin(), known.end(), entry.key) == known.end();
    });
  }

  // The entry `key` of `map`, reporting its absence at `parent` when required. `known`: the
  // mapping's other keys, when one is close enough to `key` to pass for a misspelling.
  const YamlEntry* Get(const YamlNode& map, Place parent, const std::string& path,
                       std::string_view key, bool required, const Keys& known = {}) {
    const YamlEntry* entry = map.FindEntry(key);
    if (entry == nullptr && required && !Misspelled(map, key, known)) {
      Error(parent, Child(path, key), "required field is missing");
    }
    return entry;
  }

  const YamlEntry* RequiredMap(const YamlNode& map, Place parent, const std::string& path,
                               std::string_view key) {
    const YamlEntry* entry = Get(map, parent, path, key, /*required=*/true);
    if (entry == nullptr || !ExpectMap(entry->value, Child(path, key))) return nullptr;
    return entry;
  }

  bool ExpectMap(const YamlNode& node, const std::string& path) {
    if (node.kind == Kind::kMap) return true;
    Error(node, path, fmt::format("expected a mapping, got {}", DescribeNode(node)));
    return false;
  }

  std::optional<std::string> String(const YamlNode& node, const std::string& path,
                                    bool allow_empty = false) {
    if (node.kind != Kind::kScalar || (node.plain && ClassifyScalar(node) != ScalarType::kString)) {
      std::string message = fmt::format("expected a string, got {}", DescribeNode(node));
      if (node.kind == Kind::kScalar && ClassifyScalar(node) != ScalarType::kNull) {
        message += fmt::format("; quote it (\"{}\") if you mean the text", node.value);
      }
      Error(node, path, std::move(message));
      return std::nullopt;
    }
    if (!allow_empty && node.value.empty()) {
      Error(node, path, "must not be empty");
      return std::nullopt;
    }
    if (node.value.size() > kMaxTextLength) {
      Error(node, path, fmt::format("longer than {} characters", kMaxTextLength));
      return std::nullopt;
    }
    return node.value;
  }

  std::optional<std::string> RequiredString(const YamlNode& map, Place parent,
                                            const std::string& path, std::string_view key) {
    const YamlEntry* entry = Get(map, parent, path, key, /*required=*/true);
    if (entry == nullptr) return std::nullopt;
    return String(entry->value, Child(path, key));
  }

  std::optional<std::string> Identifier(const YamlNode& node, const std::string& path,
                                        std::string_view what) {
    auto text = String(node, path);
    if (text && !IsValidIdentifier(*text)) {
      Error(node, path,
            fmt::format("invalid {} \"{}\": use letters, digits and '-' (like "
                        "abcd-1234-efgh-5678)",
                        what, Shown(*text)));
      return std::nullopt;
    }
    return text;
  }

  std::optional<std::string> DisplayName(const YamlNode& node, const std::string& path) {
    auto text = String(node, path);
    if (text && HasOuterSpace(*text)) {
      Error(node, path, "must not start or end with white space");
      return std::nullopt;
    }
    return text;
  }

  std::optional<bool> Bool(const YamlNode& node, const std::string& path) {
    if (node.kind == Kind::kScalar && ClassifyScalar(node) == ScalarType::kBool) {
      return node.value[0] == 't' || node.value[0] == 'T';
    }
    Error(node, path, fmt::format("expected true or false, got {}", DescribeNode(node)));
    return std::nullopt;
  }

  std::optional<int> Int(const YamlNode& node, const std::string& path, int min, int max) {
    const ScalarType type = node.kind == Kind::kScalar ? ClassifyScalar(node) : ScalarType::kNull;
    if (node.kind != Kind::kScalar || type != ScalarType::kInt) {
      std::string message = fmt::format("expected an integer, got {}", DescribeNode(node));
      if (!node.plain && IsDecimalInt(node.value)) {
        message += fmt::format("; write {} without quotes", node.value);
      }
      Error(node, path, std::move(message));
      return std::nullopt;
    }
    long long value = 0;
    std::string_view text = node.value;
    if (!text.empty() && text[0] == '+') text.remove_prefix(1);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
      Error(node, path, fmt::format("must be between {} and {}, got {}", min, max, node.value));
      return std::nullopt;
    }
    return static_cast<int>(value);
  }

  // A YAML number (an integer or a float), finite.
  std::optional<double> Number(const YamlNode& node, const std::string& path) {
    const ScalarType type = node.kind == Kind::kScalar ? ClassifyScalar(node) : ScalarType::kNull;
    if (node.kind != Kind::kScalar || (type != ScalarType::kInt && type != ScalarType::kFloat)) {
      std::string message = fmt::format("expected a number, got {}", DescribeNode(node));
      if (!node.plain && IsYamlFloat(node.value)) {
        message += fmt::format("; write {} without quotes", node.value);
      }
      Error(node, path, std::move(message));
      return std::nullopt;
    }
    const double value = std::strtod(node.value.c_str(), nullptr);
    if (!std::isfinite(value) || node.value.find_first_of("nN") != std::string::npos) {
      Error(node, path, fmt::format("expected a finite number, got {}", node.value));
      return std::nullopt;
    }
    return value;
  }

  // A duration with a unit, more than `min` (or at least `min` when `min` is not zero) and at
  // most `max`.
  std::optional<common::Duration> Timeout(const YamlNode& node, const std::string& path,
                                          common::Duration min = common::Duration::zero(),
                                          common::Duration max = kMaxTimeout) {
    if (node.kind == Kind::kScalar && node.plain &&
        (ClassifyScalar(node) == ScalarType::kInt || ClassifyScalar(node) == ScalarType::kFloat)) {
      Error(node, path,
            fmt::format("expected a duration with a unit such as 30m, got {}", node.value));
      return std::nullopt;
    }
    const auto text = String(node, path);
    if (!text) return std::nullopt;
    const auto duration = common::ParseDuration(*text);
    if (!duration.ok()) {
      Error(node, path,
            fmt::format("invalid duration \"{}\"; use a number and a unit (ms, s, m, h) such as "
                        "30m or 1h30m",
                        Shown(*text)));
      return std::nullopt;
    }
    const bool too_small = min == common::Duration::zero() ? *duration <= min : *duration < min;
    if (too_small || *duration > max) {
      Error(node, path,
            min == common::Duration::zero()
                ? fmt::format("must be more than 0s and at most {}, got {}",
                              common::FormatDuration(max), *text)
                : fmt::format("must be between {} and {}, got {}", common::FormatDuration(min),
                              common::FormatDuration(max), *text));
      return std::nullopt;
    }
    return *duration;
  }

  std::map<std::string, std::string> StringMap(const YamlNode& node, const std::string& path,
                                               bool labels) {
    std::map<std::string, std::string> out;
    if (!ExpectMap(node, path)) return out;
    for (const YamlEntry& entry : node.entries) {
      const std::string child = Child(path, entry.key);
      if (labels ? !IsValidLabelText(entry.key) : !IsValidEnvName(entry.key)) {
        Error(At(entry), child,
              labels ? fmt::format("invalid label key \"{}\": use at most 63 letters, digits, "
                                   "'-', '_' and '.', starting and ending with a letter or digit",
                                   entry.key)
                     : fmt::format("invalid environment variable name \"{}\": use letters, "
                                   "digits and '_', not starting with a digit",
                                   entry.key));
        continue;
      }
      auto value = String(entry.value, child, /*allow_empty=*/true);
      if (!value) continue;
      if (labels && !value->empty() && !IsValidLabelText(*value)) {
        Error(entry.value, child,
              fmt::format("invalid label value \"{}\": use at most 63 letters, digits, '-', '_' "
                          "and '.', starting and ending with a letter or digit",
                          Shown(*value)));
        continue;
      }
      out.emplace(entry.key, std::move(*value));
    }
    return out;
  }

  void ParseMetadata(const YamlEntry& entry, ModelDeploymentSpec& spec, ParsedDocument& doc) {
    const YamlNode& map = entry.value;
    const std::string path = "metadata";
    CheckKeys(map, path, {"name", "labels"});
    if (const YamlEntry* name = Get(map, At(entry), path, "name", /*required=*/true)) {
      if (auto text = String(name->value, "metadata.name")) {
        if (IsValidName(*text)) {
          spec.name = *text;
          doc.name = *text;
          doc.name_line = name->value.line;
          doc.name_column = name->value.column;
        } else {
          Error(name->value, "metadata.name",
                fmt::format("invalid name \"{}\": use 1 to {} lowercase letters, digits and '-', "
                            "starting and ending with a letter or digit",
                            Shown(*text), kMaxNameLength));
        }
      }
    }
    if (const YamlNode* labels = map.Find("labels")) {
      spec.labels = StringMap(*labels, "metadata.labels", /*labels=*/true);
    }
  }

  void ParseSpec(const YamlEntry& entry, ModelDeploymentSpec& spec, ParsedDocument& doc) {
    const YamlNode& map = entry.value;
    const Place here = At(entry);
    const std::string path = "spec";
    CheckKeys(map, path,
              {"projectId", "modelName", "description", "authentication", "registeredModel",
               "runtime", "resources", "environment", "verify", "sync"});
    if (const YamlEntry* project = Get(map, here, path, "projectId", true)) {
      if (auto id = Identifier(project->value, "spec.projectId", "project id")) {
        spec.project_id = *id;
        doc.project_id = *id;
      }
    }
    if (const YamlEntry* model_name = Get(map, here, path, "modelName", false)) {
      if (auto text = DisplayName(model_name->value, "spec.modelName")) {
        spec.model_name = *text;
        doc.model_name = *text;
        doc.model_name_line = model_name->value.line;
        doc.model_name_column = model_name->value.column;
      }
    } else if (!doc.name.empty()) {
      spec.model_name = doc.name;
      doc.model_name = doc.name;
      doc.model_name_line = doc.name_line;
      doc.model_name_column = doc.name_column;
    }
    if (const YamlNode* description = map.Find("description")) {
      if (auto text = String(*description, "spec.description", /*allow_empty=*/true)) {
        spec.description = *text;
      }
    }
    if (const YamlNode* authentication = map.Find("authentication")) {
      spec.authentication = Bool(*authentication, "spec.authentication").value_or(true);
    }
    if (const YamlEntry* model = RequiredMap(map, here, path, "registeredModel")) {
      ParseRegisteredModel(*model, spec.registered_model);
    }
    if (const YamlEntry* runtime = Get(map, here, path, "runtime", true)) {
      ParseRuntime(runtime->value, spec);
    }
    if (const YamlEntry* resources = RequiredMap(map, here, path, "resources")) {
      ParseResources(*resources, spec.resources);
    }
    if (const YamlNode* environment = map.Find("environment")) {
      spec.environment = StringMap(*environment, "spec.environment", /*labels=*/false);
    }
    if (const YamlEntry* verify = map.FindEntry("verify")) {
      if (ExpectMap(verify->value, "spec.verify")) spec.verify = ParseVerify(*verify);
    }
    if (const YamlEntry* sync = map.FindEntry("sync")) {
      if (ExpectMap(sync->value, "spec.sync")) ParseSync(*sync, spec.sync);
    }
  }

  void ParseRegisteredModel(const YamlEntry& entry, RegisteredModelRef& model) {
    const YamlNode& map = entry.value;
    const std::string path = "spec.registeredModel";
    CheckKeys(map, path, {"name", "id", "version", "fromExperimentRun"});
    const YamlEntry* name = map.FindEntry("name");
    const YamlEntry* id = map.FindEntry("id");
    if (name != nullptr && id != nullptr) {
      const YamlEntry* later = name->line > id->line ? name : id;
      Error(At(*later), Child(path, later->key), "name and id are mutually exclusive; give one");
    } else if (name == nullptr && id == nullptr && !Misspelled(map, "name") &&
               !Misspelled(map, "id")) {
      Error(At(entry), path, "one of name and id is required");
    }
    if (name != nullptr) {
      if (auto text = DisplayName(name->value, "spec.registeredModel.name")) model.name = *text;
    }
    if (id != nullptr) {
      if (auto text = Identifier(id->value, "spec.registeredModel.id", "registered model id")) {
        model.id = *text;
      }
    }
    const YamlEntry* version = map.FindEntry("version");
    const YamlEntry* run = map.FindEntry("fromExperimentRun");
    if (version != nullptr && run != nullptr) {
      const YamlEntry* later = version->line > run->line ? version : run;
      Error(At(*later), Child(path, later->key),
            "version and fromExperimentRun are mutually exclusive; give one");
    } else if (version == nullptr && run == nullptr && !Misspelled(map, "version") &&
               !Misspelled(map, "fromExperimentRun")) {
      Error(At(entry), path, "one of version and fromExperimentRun is required");
    }
    if (version != nullptr) {
      model.version = Int(version->value, "spec.registeredModel.version", 1, kMaxVersion);
    }
    if (run != nullptr && ExpectMap(run->value, "spec.registeredModel.fromExperimentRun")) {
      const std::string run_path = "spec.registeredModel.fromExperimentRun";
      CheckKeys(run->value, run_path, {"experimentId", "runId", "modelPath"});
      ExperimentRunSource source;
      if (const YamlEntry* e = Get(run->value, At(*run), run_path, "experimentId", true)) {
        source.experiment_id =
            Identifier(e->value, Child(run_path, "experimentId"), "experiment id").value_or("");
      }
      if (const YamlEntry* e = Get(run->value, At(*run), run_path, "runId", true)) {
        source.run_id = Identifier(e->value, Child(run_path, "runId"), "run id").value_or("");
      }
      if (const YamlEntry* e = Get(run->value, At(*run), run_path, "modelPath", true)) {
        source.model_path = DisplayName(e->value, Child(run_path, "modelPath")).value_or("");
      }
      model.from_experiment_run = std::move(source);
    }
  }

  void ParseRuntime(const YamlNode& node, ModelDeploymentSpec& spec) {
    const std::string path = "spec.runtime";
    if (node.kind == Kind::kMap) {
      CheckKeys(node, path, {"kernel", "edition", "editor"});
      RuntimeSelector selector;
      for (auto [key, field] :
           {std::pair{"kernel", &selector.kernel}, std::pair{"edition", &selector.edition},
            std::pair{"editor", &selector.editor}}) {
        if (const YamlNode* value = node.Find(key)) {
          *field = DisplayName(*value, Child(path, key)).value_or("");
        }
      }
      if (node.entries.empty()) {
        Error(node, path, "a runtime selector needs at least one of kernel, edition, editor");
      }
      spec.runtime = std::move(selector);
      return;
    }
    const auto image = String(node, path);
    if (!image) return;
    if (!IsValidImage(*image)) {
      Error(node, path,
            fmt::format("invalid runtime \"{}\": expected an image identifier "
                        "(registry/repository:tag) or a selector {{kernel, edition, editor}}",
                        Shown(*image)));
      return;
    }
    spec.runtime = *image;
  }

  std::optional<double> Memory(const YamlNode& node, const std::string& path) {
    if (node.kind == Kind::kScalar && node.plain &&
        (ClassifyScalar(node) == ScalarType::kInt || ClassifyScalar(node) == ScalarType::kFloat)) {
      const auto gib = Number(node, path);
      if (gib && *gib > kMaxMemoryGib) {
        Error(node, path,
              fmt::format("must be at most {}Gi, got {} (a plain number means GiB; did you mean "
                          "{}Mi?)",
                          kMaxMemoryGib, node.value, node.value));
        return std::nullopt;
      }
      return gib;
    }
    const auto text = String(node, path);
    if (!text) return std::nullopt;
    // number, optional spaces, unit
    std::string_view rest = *text;
    std::size_t i = 0;
    while (i < rest.size() && (IsDigit(rest[i]) || rest[i] == '.')) ++i;
    const std::string number(rest.substr(0, i));
    std::size_t unit_start = i;
    while (unit_start < rest.size() && rest[unit_start] == ' ') ++unit_start;
    const std::string unit(rest.substr(unit_start));
    const bool number_ok = IsYamlFloat(number) && number.find('e') == std::string::npos;
    if (number_ok && unit_start == i && (unit == "Gi" || unit == "Mi")) {
      return std::strtod(number.c_str(), nullptr) / (unit == "Mi" ? 1024.0 : 1.0);
    }
    const std::string folded = Folded(unit);
    std::string hint;
    if (number_ok) {
      if (folded == "gi" || folded == "g" || folded == "gb" || folded == "gib") {
        hint = fmt::format("use {}Gi", number);
      } else if (folded == "mi" || folded == "m" || folded == "mb" || folded == "mib") {
        hint = fmt::format("use {}Mi", number);
      } else if (folded.empty()) {
        hint = fmt::format("use {}Gi, or {} without quotes", number, number);
      }
    }
    Error(node, path,
          hint.empty()
              ? fmt::format("invalid memory \"{}\"; write a positive number with the unit Gi or "
                            "Mi (4Gi, 512Mi) or a plain number of GiB",
                            Shown(*text))
              : fmt::format("invalid memory \"{}\"; {} (units: Gi, Mi, or a plain number of GiB)",
                            Shown(*text), hint));
    return std::nullopt;
  }

  void ParseResources(const YamlEntry& entry, Resources& resources) {
    const YamlNode& map = entry.value;
    const std::string path = "spec.resources";
    CheckKeys(map, path, {"cpu", "memory", "gpus", "replicas"});
    if (const YamlEntry* cpu = Get(map, At(entry), path, "cpu", true)) {
      if (auto value = Number(cpu->value, "spec.resources.cpu")) {
        if (*value <= 0 || *value > kMaxCpu) {
          Error(
              cpu->value, "spec.resources.cpu",
              fmt::format("must be more than 0 and at most {}, got {}", kMaxCpu, cpu->value.value));
        } else {
          resources.cpu = *value;
        }
      }
    }
    if (const YamlEntry* memory = Get(map, At(entry), path, "memory", true)) {
      if (auto gib = Memory(memory->value, "spec.resources.memory")) {
        if (*gib <= 0 || *gib > kMaxMemoryGib) {
          Error(memory->value, "spec.resources.memory",
                fmt::format("must be more than 0 and at most {}Gi, got {}", kMaxMemoryGib,
                            memory->value.value));
        } else {
          resources.memory_gib = *gib;
        }
      }
    }
    if (const YamlNode* gpus = map.Find("gpus")) {
      resources.gpus = Int(*gpus, "spec.resources.gpus", 0, kMaxGpus).value_or(0);
    }
    if (const YamlNode* replicas = map.Find("replicas")) {
      resources.replicas = Int(*replicas, "spec.resources.replicas", 0, kMaxReplicas).value_or(1);
    }
  }

  void ParseSync(const YamlEntry& entry, SyncPolicy& sync) {
    const YamlNode& map = entry.value;
    const std::string path = "spec.sync";
    CheckKeys(map, path,
              {"selfHeal", "suspend", "buildTimeout", "deployTimeout", "maxAttempts", "rollback"});
    if (const YamlNode* self_heal = map.Find("selfHeal")) {
      sync.self_heal = Bool(*self_heal, "spec.sync.selfHeal").value_or(true);
    }
    if (const YamlNode* suspend = map.Find("suspend")) ParseSuspend(*suspend, sync.suspend);
    if (const YamlNode* timeout = map.Find("buildTimeout")) {
      sync.build_timeout = Timeout(*timeout, "spec.sync.buildTimeout").value_or(sync.build_timeout);
    }
    if (const YamlNode* timeout = map.Find("deployTimeout")) {
      sync.deploy_timeout =
          Timeout(*timeout, "spec.sync.deployTimeout").value_or(sync.deploy_timeout);
    }
    if (const YamlNode* attempts = map.Find("maxAttempts")) {
      sync.max_attempts = Int(*attempts, "spec.sync.maxAttempts", 1, kMaxAttempts).value_or(3);
    }
    if (const YamlNode* rollback = map.Find("rollback")) {
      sync.rollback = Bool(*rollback, "spec.sync.rollback").value_or(true);
    }
  }

  VerifySpec ParseVerify(const YamlEntry& entry) {
    const YamlNode& map = entry.value;
    const std::string path = "spec.verify";
    const Keys keys = {"request", "expect", "requests", "timeout"};
    CheckKeys(map, path, keys);
    VerifySpec verify;
    if (const YamlEntry* request = Get(map, At(entry), path, "request", true, keys)) {
      verify.request_json = VerifyRequest(request->value);
    }
    if (const YamlEntry* expect = map.FindEntry("expect")) {
      if (ExpectMap(expect->value, "spec.verify.expect")) ParseExpect(expect->value, verify);
    }
    if (const YamlNode* requests = map.Find("requests")) {
      verify.requests =
          Int(*requests, "spec.verify.requests", 1, kMaxVerifyRequests).value_or(verify.requests);
    }
    if (const YamlNode* timeout = map.Find("timeout")) {
      verify.timeout =
          Timeout(*timeout, "spec.verify.timeout", kMinVerifyTimeout, kMaxVerifyTimeout)
              .value_or(verify.timeout);
    }
    return verify;
  }

  // The request as canonical JSON text (keys sorted, compact), so that two spellings of the
  // same request give the same digest.
  std::string VerifyRequest(const YamlNode& node) {
    const std::string path = "spec.verify.request";
    if (!ExpectMap(node, path)) return {};
    JsonConversion conversion = YamlToJson(node, path);
    for (JsonProblem& problem : conversion.problems) {
      Error(Place{problem.line, problem.column}, std::move(problem.path),
            std::move(problem.message));
    }
    if (conversion.json.size() > kMaxVerifyRequestBytes) {
      Error(node, path,
            fmt::format("the request is {} bytes as JSON; at most {} ({} KiB) are allowed",
                        conversion.json.size(), kMaxVerifyRequestBytes,
                        kMaxVerifyRequestBytes / 1024));
      return {};
    }
    return std::move(conversion.json);
  }

  void ParseExpect(const YamlNode& map, VerifySpec& verify) {
    CheckKeys(map, "spec.verify.expect", {"status", "responseHas"});
    if (const YamlNode* status = map.Find("status")) {
      verify.expect_status =
          Int(*status, "spec.verify.expect.status", 100, 599).value_or(verify.expect_status);
    }
    if (const YamlNode* keys = map.Find("responseHas")) {
      verify.response_has = ResponseKeys(*keys, "spec.verify.expect.responseHas");
    }
  }

  // Key paths ("predictions", "result.score"), sorted and without repeats: all of them must
  // be present, so neither order nor repetition means anything.
  std::vector<std::string> ResponseKeys(const YamlNode& node, const std::string& path) {
    std::vector<std::string> keys;
    if (node.kind != Kind::kSequence) {
      Error(node, path, fmt::format("expected a list of keys, got {}", DescribeNode(node)));
      return keys;
    }
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      const std::string item_path = fmt::format("{}[{}]", path, i);
      auto key = String(node.items[i], item_path);
      if (key && !IsValidKeyPath(*key)) {
        Error(node.items[i], item_path,
              fmt::format("invalid key path \"{}\": use keys joined by single dots, like "
                          "predictions or result.score",
                          Shown(*key)));
      } else if (key) {
        keys.push_back(std::move(*key));
      }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
  }

  void ParseSuspend(const YamlNode& node, Suspend& suspend) {
    const std::string path = "spec.sync.suspend";
    if (node.kind == Kind::kScalar && ClassifyScalar(node) == ScalarType::kBool) {
      suspend.suspended = Bool(node, path).value_or(false);
      return;
    }
    if (node.kind != Kind::kMap) {
      Error(node, path,
            fmt::format("expected true, false or a mapping {{reason, until}}, got {}",
                        DescribeNode(node)));
      return;
    }
    CheckKeys(node, path, {"reason", "until"});
    if (node.entries.empty()) {
      Error(node, path, "an empty suspend mapping; write suspend: true or give a reason");
      return;
    }
    suspend.suspended = true;
    if (const YamlNode* reason = node.Find("reason")) {
      suspend.reason = String(*reason, "spec.sync.suspend.reason").value_or("");
    }
    if (const YamlNode* until = node.Find("until")) {
      if (auto text = String(*until, "spec.sync.suspend.until")) {
        auto time = common::ParseRfc3339(*text);
        if (time.ok()) {
          suspend.until = *time;
        } else {
          Error(*until, "spec.sync.suspend.until",
                fmt::format("invalid time \"{}\"; use RFC 3339 such as 2026-12-01T00:00:00Z",
                            Shown(*text)));
        }
      }
    }
  }

  const std::string& file_;
  std::vector<LoadError>& errors_;
};

bool IsBlank(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '#') {
      i = text.find('\n', i);
      if (i == std::string_view::npos) return true;
    } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string SuggestKey(std::string_view key, const std::vector<std::string_view>& candidates) {
  const std::string folded = Folded(key);
  std::string_view best;
  std::size_t best_distance = std::string_view::npos;
  for (const auto candidate : candidates) {
    if (Folded(candidate) == folded) return std::string(candidate);
    const std::size_t distance = Levenshtein(folded, Folded(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  // Close enough to be a typo: at most 2 edits, and fewer than a third of the key's length.
  if (best_distance <= 2 && best_distance * 3 < std::max<std::size_t>(folded.size(), 1) + 1) {
    return std::string(best);
  }
  return {};
}

ParsedFile ParseDesiredStateText(std::string_view text, const std::string& file) {
  ParsedFile result;
  if (IsBlank(text)) {
    result.errors.push_back(
        LoadError{.file = file,
                  .line = 1,
                  .column = 1,
                  .path = "",
                  .message = text.empty() ? "file is empty (a truncated write?)"
                                          : "file holds no YAML document (a truncated write?)"});
    return result;
  }
  YamlReadResult read = ReadYamlDocuments(text);
  DocumentParser parser(file, result.errors);
  int documents = 0;
  for (const YamlDocument& document : read.documents) {
    if (document.root.kind == Kind::kNull ||
        (document.root.kind == Kind::kScalar && document.root.plain &&
         ClassifyScalar(document.root) == ScalarType::kNull)) {
      continue;  // "---" with nothing after it
    }
    ++documents;
    result.documents.push_back(parser.Parse(document.root));
  }
  if (read.error) {
    result.errors.push_back(LoadError{.file = file,
                                      .line = read.error->line,
                                      .column = read.error->column,
                                      .path = "",
                                      .message = read.error->message});
  } else if (documents == 0) {
    result.errors.push_back(LoadError{.file = file,
                                      .line = 1,
                                      .column = 1,
                                      .path = "",
                                      .message = "file holds only empty YAML documents"});
  }
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const LoadError& a, const LoadError& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  if (result.errors.size() > kMaxErrorsPerFile) {
    const LoadError last = result.errors[kMaxErrorsPerFile - 1];
    result.errors.resize(kMaxErrorsPerFile - 1);
    result.errors.push_back(LoadError{.file = file,
                                      .line = last.line,
                                      .column = last.column,
                                      .path = "",
                                      .message = "too many errors; stopped reporting here"});
  }
  return result;
}

}  // namespace cmlr::config
