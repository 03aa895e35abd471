#include "emulator/quirks.h"

#include <array>
#include <variant>

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::emulator {

namespace {

using common::Duration;
using common::Status;
using common::StatusOr;
using nlohmann::json;

using Flag = bool Quirks::*;
using Timed = std::optional<Duration> Quirks::*;

struct QuirkSpec {
  std::string_view name;
  std::variant<Flag, Timed> member;
};

constexpr std::array<QuirkSpec, 10> kQuirks = {{
    {"list-lag", &Quirks::list_lag},
    {"forbidden-for-missing", &Quirks::forbidden_for_missing},
    {"sparse-lists", &Quirks::sparse_lists},
    {"patch-replaces", &Quirks::patch_replaces},
    {"nan-metrics", &Quirks::nan_metrics},
    {"zero-times", &Quirks::zero_times},
    {"lenient", &Quirks::lenient},
    {"gateway-v1-codes", &Quirks::gateway_v1_codes},
    {"registration", &Quirks::registration},
    {"succeeded-phase", &Quirks::succeeded_phase},
}};

std::string KnownNames() {
  std::string out;
  for (const auto& spec : kQuirks) {
    out += out.empty() ? "" : ", ";
    out += spec.name;
    if (std::holds_alternative<Timed>(spec.member)) out += "=DURATION";
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// Turns one quirk on (`value` absent: no "=") or, with `off`, off.
Status Apply(Quirks& quirks, std::string_view name, std::optional<std::string_view> value,
             bool off = false) {
  const QuirkSpec* spec = nullptr;
  for (const auto& candidate : kQuirks) {
    if (candidate.name == name) spec = &candidate;
  }
  if (spec == nullptr) {
    return common::InvalidArgumentError(
        fmt::format("quirk \"{}\": unknown; known quirks are: {}", name, KnownNames()));
  }
  if (const Flag* flag = std::get_if<Flag>(&spec->member)) {
    if (value) {
      return common::InvalidArgumentError(fmt::format("quirk \"{}\": takes no value", name));
    }
    quirks.*(*flag) = !off;
    return common::OkStatus();
  }
  const Timed timed = std::get<Timed>(spec->member);
  if (off) {
    quirks.*timed = std::nullopt;
    return common::OkStatus();
  }
  if (!value) {
    return common::InvalidArgumentError(
        fmt::format("quirk \"{}\": needs a duration, e.g. {}=5s", name, name));
  }
  auto duration = common::ParseDuration(*value);
  if (!duration.ok()) return duration.status().Annotate(fmt::format("quirk \"{}\"", name));
  quirks.*timed = *duration;
  return common::OkStatus();
}

Status ApplyItem(Quirks& quirks, std::string_view item) {
  item = Trim(item);
  if (item.empty()) return common::OkStatus();
  const auto eq = item.find('=');
  if (eq == std::string_view::npos) return Apply(quirks, item, std::nullopt);
  return Apply(quirks, Trim(item.substr(0, eq)), Trim(item.substr(eq + 1)));
}

StatusOr<Quirks> ParseObject(const json& object) {
  Quirks quirks;
  for (const auto& [name, value] : object.items()) {
    if (value.is_null() || value == false) {
      CMLR_RETURN_IF_ERROR(Apply(quirks, name, std::nullopt, true));
    } else if (value == true) {
      CMLR_RETURN_IF_ERROR(Apply(quirks, name, std::nullopt));
    } else if (value.is_string()) {
      CMLR_RETURN_IF_ERROR(Apply(quirks, name, value.get_ref<const std::string&>()));
    } else {
      return common::InvalidArgumentError(
          fmt::format("quirk \"{}\": expected true, false or a duration string", name));
    }
  }
  return quirks;
}

}  // namespace

StatusOr<Quirks> ParseQuirks(std::string_view list) {
  Quirks quirks;
  while (!list.empty()) {
    const auto comma = list.find(',');
    CMLR_RETURN_IF_ERROR(ApplyItem(quirks, list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return quirks;
}

StatusOr<Quirks> ParseQuirksJson(const json& body) {
  if (!body.is_object() || !body.contains("quirks") || body.size() != 1) {
    return common::InvalidArgumentError(
        "expected {\"quirks\": \"a,b=5s\"}, {\"quirks\": [\"a\", \"b=5s\"]} or "
        "{\"quirks\": {\"a\": true, \"b\": \"5s\"}}");
  }
  const json& quirks = body["quirks"];
  if (quirks.is_string()) return ParseQuirks(quirks.get_ref<const std::string&>());
  if (quirks.is_object()) return ParseObject(quirks);
  if (!quirks.is_array()) return common::InvalidArgumentError("quirks: expected a list");
  Quirks out;
  for (const auto& item : quirks) {
    if (!item.is_string()) return common::InvalidArgumentError("quirks: expected strings");
    CMLR_RETURN_IF_ERROR(ApplyItem(out, item.get_ref<const std::string&>()));
  }
  return out;
}

std::string FormatQuirks(const Quirks& quirks) {
  std::string out;
  for (const auto& spec : kQuirks) {
    std::string item;
    if (const Flag* flag = std::get_if<Flag>(&spec.member)) {
      if (quirks.*(*flag)) item = spec.name;
    } else if (const auto& value = quirks.*std::get<Timed>(spec.member)) {
      item = fmt::format("{}={}", spec.name, common::FormatDuration(*value));
    }
    if (item.empty()) continue;
    out += out.empty() ? "" : ",";
    out += item;
  }
  return out;
}

json QuirksToJson(const Quirks& quirks) {
  json active = json::object();
  for (const auto& spec : kQuirks) {
    const std::string name(spec.name);
    if (const Flag* flag = std::get_if<Flag>(&spec.member)) {
      if (quirks.*(*flag)) active[name] = true;
    } else if (const auto& value = quirks.*std::get<Timed>(spec.member)) {
      active[name] = common::FormatDuration(*value);
    }
  }
  return json{{"quirks", FormatQuirks(quirks)}, {"active", std::move(active)}};
}

}  // namespace cmlr::emulator
