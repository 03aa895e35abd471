#include "daemon/status_table.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace cmlr::daemon {

using nlohmann::json;

namespace {

constexpr std::string_view kMissing = "-";
constexpr std::string_view kColumnGap = "   ";
constexpr std::size_t kMaxCellWidth = 48;
constexpr std::size_t kMinMessageWidth = 24;

const json* Member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A scalar as text; "-" for a missing, null, empty or structured value.
std::string Text(const json* value) {
  if (value == nullptr) return std::string(kMissing);
  if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    return text.empty() ? std::string(kMissing) : text;
  }
  if (value->is_number() || value->is_boolean()) return value->dump();
  return std::string(kMissing);
}

std::string Text(const json& object, std::string_view key) { return Text(Member(object, key)); }

// One line, at most `width` bytes, never cut inside a UTF-8 sequence, "..." where it was cut.
std::string Shorten(std::string text, std::size_t width) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  if (text.size() <= width) return text;
  std::size_t cut = width > 3 ? width - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

std::string Replicas(const json& live) {
  const json* replicas = Member(live, "replicas");
  const json* desired = Member(live, "desiredReplicas");
  if (replicas == nullptr && desired == nullptr) return std::string(kMissing);
  return Text(replicas) + "/" + Text(desired);
}

std::string Version(const json& live) {
  const json* version = Member(live, "version");
  // The status store reports 0 before a version has been observed.
  if (version != nullptr && version->is_number() && version->get<double>() == 0) {
    return std::string(kMissing);
  }
  return Text(version);
}

std::string LastAction(const json& entry) {
  const json* history = Member(entry, "history");
  if (history == nullptr || !history->is_array() || history->empty()) {
    return std::string(kMissing);
  }
  const json& last = history->back();  // newest last
  std::string text = Text(last, "operation");
  const json* http_status = Member(last, "httpStatus");
  const json* error = Member(last, "error");
  const bool failed =
      error != nullptr && ((error->is_boolean() && error->get<bool>()) ||
                           (error->is_string() && !error->get<std::string>().empty()));
  if (http_status != nullptr && http_status->is_number() && http_status->get<double>() > 0) {
    text += " " + http_status->dump();
  } else if (failed) {
    text += " failed";
  }
  return text;
}

std::string ReadyMessage(const json& entry) {
  const json* conditions = Member(entry, "conditions");
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const json& condition : *conditions) {
    const json* type = Member(condition, "type");
    if (type != nullptr && type->is_string() && type->get<std::string>() == "Ready") {
      const std::string message = Text(condition, "message");
      return message == kMissing ? "" : message;
    }
  }
  return "";
}

}  // namespace

std::string FormatStatusTable(const json& status_response) {
  std::string header;
  if (const std::string revision = Text(status_response, "revision"); revision != kMissing) {
    header += "Revision: " + Shorten(revision, kMaxCellWidth) + "\n";
  }
  if (const json* desired = Member(status_response, "desiredState");
      desired != nullptr && Text(*desired, "result") == "failure") {
    header += Shorten(fmt::format("Desired state: the latest was rejected at {} ({} errors), the "
                                  "previous one is in force: {}",
                                  Text(*desired, "at"), Text(*desired, "errors"),
                                  Text(*desired, "message")),
                      kMaxStatusLineWidth) +
              "\n";
  }
  if (!header.empty()) header += "\n";
  const json* models = Member(status_response, "models");
  if (models == nullptr || !models->is_array() || models->empty()) {
    return header + "No models: the daemon has no model in its desired state or status yet.\n";
  }
  constexpr std::size_t kColumns = 7;
  using Row = std::array<std::string, kColumns>;
  std::vector<Row> rows;
  rows.push_back({"NAME", "SYNC", "HEALTH", "VERSION", "REPLICAS", "LAST ACTION", "MESSAGE"});
  for (const json& entry : *models) {
    const json* live_member = Member(entry, "live");
    const json& live = live_member != nullptr ? *live_member : json::object();
    rows.push_back({Shorten(Text(entry, "name"), kMaxCellWidth + 16),
                    Shorten(Text(entry, "sync"), kMaxCellWidth),
                    Shorten(Text(entry, "health"), kMaxCellWidth), Version(live), Replicas(live),
                    Shorten(LastAction(entry), kMaxCellWidth), ReadyMessage(entry)});
  }
  std::array<std::size_t, kColumns> widths{};
  for (const Row& row : rows) {
    for (std::size_t i = 0; i + 1 < kColumns; ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string table = header;
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t i = 0; i + 1 < kColumns; ++i) {
      line += row[i];
      line.append(widths[i] - row[i].size(), ' ');
      line += kColumnGap;
    }
    const std::size_t room =
        std::max(kMinMessageWidth,
                 kMaxStatusLineWidth > line.size() ? kMaxStatusLineWidth - line.size() : 0);
    line += Shorten(row[kColumns - 1], room);
    while (line.ends_with(' ')) line.pop_back();
    table += line;
    table += '\n';
  }
  return table;
}

std::string FormatStatusDetail(const json& entry) {
  std::string text;
  const auto line = [&text](const std::string& content) {
    text += Shorten(content, kMaxStatusLineWidth);
    while (text.ends_with(' ')) text.pop_back();
    text += '\n';
  };

  line("Conditions:");
  const json* conditions = Member(entry, "conditions");
  if (conditions == nullptr || !conditions->is_array() || conditions->empty()) {
    line("  -");
  } else {
    std::size_t type_width = 0, status_width = 0, reason_width = 0;
    for (const json& c : *conditions) {
      type_width = std::max(type_width, Text(c, "type").size());
      status_width = std::max(status_width, Text(c, "status").size());
      reason_width = std::max(reason_width, Shorten(Text(c, "reason"), kMaxCellWidth).size());
    }
    for (const json& c : *conditions) {
      const std::string message = Text(c, "message");
      line(fmt::format("  {:<{}}   {:<{}}   {:<{}}   since {}{}", Text(c, "type"), type_width,
                       Text(c, "status"), status_width, Shorten(Text(c, "reason"), kMaxCellWidth),
                       reason_width, Text(c, "lastTransitionTime"),
                       message == kMissing ? "" : "   " + message));
    }
  }

  line("Planned action: " + (Text(entry, "plannedAction") == kMissing
                                 ? std::string("none")
                                 : Text(entry, "plannedAction")));
  if (const json* diffs = Member(entry, "diffs"); diffs != nullptr && diffs->is_array()) {
    for (const json& diff : *diffs) {
      line(fmt::format("  {}: {} -> {}", Text(diff, "field"), Text(diff, "live"),
                       Text(diff, "desired")));
    }
  }

  const json* live_member = Member(entry, "live");
  const json& live = live_member != nullptr ? *live_member : json::object();
  const auto with_status = [&live](std::string_view id, std::string_view status) {
    const std::string id_text = Text(live, id);
    const std::string status_text = Text(live, status);
    return status_text == kMissing ? id_text : fmt::format("{} ({})", id_text, status_text);
  };
  line(fmt::format("Live: model {}, build {}, deployment {}", Text(live, "modelId"),
                   with_status("buildId", "buildStatus"),
                   with_status("deploymentId", "deploymentStatus")));
  line(fmt::format("  version {}, runtime {}, replicas {}", Version(live), Text(live, "runtime"),
                   Replicas(live)));
  if (const json* verification = Member(entry, "verification"); verification != nullptr) {
    const std::string message = Text(*verification, "message");
    line(fmt::format("Verification: {} at {}{}", Text(*verification, "result"),
                     Text(*verification, "at"), message == kMissing ? "" : ": " + message));
  }
  line(fmt::format("Last synced: {}, next reconcile: {}", Text(entry, "lastSyncedAt"),
                   Text(entry, "nextReconcileAt")));
  if (const std::string revision = Text(entry, "revision"); revision != kMissing) {
    line("Revision: " + revision);
  }

  const json* history = Member(entry, "history");
  if (history != nullptr && history->is_array() && !history->empty()) {
    line("History (newest last):");
    const std::size_t skip =
        history->size() > kStatusDetailHistory ? history->size() - kStatusDetailHistory : 0;
    for (std::size_t i = skip; i < history->size(); ++i) {
      const json& h = (*history)[i];
      const json* http_status = Member(h, "httpStatus");
      const std::string code =
          http_status != nullptr && http_status->is_number() && http_status->get<double>() > 0
              ? http_status->dump()
              : std::string(kMissing);
      const std::string message = Text(h, "message");
      line(fmt::format("  {}   {} {}{}", Text(h, "time"), Text(h, "operation"), code,
                       message == kMissing ? "" : "   " + message));
    }
  }
  return text;
}

}  // namespace cmlr::daemon
