#include "emulator/listing.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace cmlr::emulator {

namespace {

using common::StatusOr;
using nlohmann::json;

const json* AtPath(const json& item, std::string_view path) {
  const json* current = &item;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!current->is_object()) return nullptr;
    const auto it = current->find(key);
    if (it == current->end()) return nullptr;
    current = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return current;
}

std::string AsText(const json* value) {
  if (value == nullptr || value->is_null()) return "";
  if (value->is_string()) return value->get<std::string>();
  return value->dump();
}

// -1, 0, 1; absent sorts first, then by type-aware comparison.
int Compare(const json* a, const json* b) {
  if (a == nullptr || b == nullptr) return (a != nullptr) - (b != nullptr);
  if (a->is_number() && b->is_number()) {
    const double x = a->get<double>();
    const double y = b->get<double>();
    return (x > y) - (x < y);
  }
  const std::string x = AsText(a);
  const std::string y = AsText(b);
  return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
}

std::uint64_t Fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string KeyList(const auto& map) {
  std::string out;
  for (const auto& [key, unused] : map) out += (out.empty() ? "" : " ") + key;
  return "[" + out + "]";
}

StatusOr<int> ParsePageSize(const std::string& text) {
  if (text.empty()) return kDefaultPageSize;
  int parsed = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, parsed);
  if (ec != std::errc() || ptr != end || parsed < 0) {
    return common::InvalidArgumentError(fmt::format("page_size: invalid value \"{}\"", text));
  }
  return parsed > 0 ? parsed : kDefaultPageSize;
}

// Keeps the items whose text at one of the key's paths contains the value (CML's substring
// search_filter), each key of the filter narrowing further.
common::Status ApplyFilter(std::vector<json>& items, const std::string& search_filter,
                           const ListSpec& spec) {
  if (search_filter.empty()) return common::OkStatus();
  const json filter = json::parse(search_filter, nullptr, false);
  if (filter.is_discarded() || !filter.is_object()) {
    return common::InvalidArgumentError("search_filter: expected a JSON object");
  }
  for (const auto& [key, value] : filter.items()) {
    const auto paths = spec.filter_keys.find(key);
    if (paths == spec.filter_keys.end()) {
      return common::InvalidArgumentError(
          fmt::format("search_filter: unsupported key \"{}\"; supported keys are: {}", key,
                      KeyList(spec.filter_keys)));
    }
    if (value.is_object() || value.is_array()) {
      return common::InvalidArgumentError(
          fmt::format("search_filter: value of \"{}\" must be a string", key));
    }
    const std::string needle = AsText(&value);
    std::erase_if(items, [&](const json& item) {
      return std::none_of(paths->second.begin(), paths->second.end(), [&](const auto& path) {
        const json* found = AtPath(item, path);
        const auto absent = spec.absent_values.find(path);
        const std::string text =
            found == nullptr && absent != spec.absent_values.end() ? absent->second : AsText(found);
        return text.find(needle) != std::string::npos;
      });
    });
  }
  return common::OkStatus();
}

// `sort` is a comma-separated list of keys, each optionally prefixed with - (descending) or +.
common::Status ApplySort(std::vector<json>& items, const std::string& sort, const ListSpec& spec) {
  std::vector<std::pair<std::string, bool>> keys;  // path, descending
  std::string_view rest = sort;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view key = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    bool descending = false;
    if (!key.empty() && (key.front() == '-' || key.front() == '+')) {
      descending = key.front() == '-';
      key.remove_prefix(1);
    }
    const auto path = spec.sort_keys.find(key);
    if (path == spec.sort_keys.end()) {
      return common::InvalidArgumentError(fmt::format(
          "sort: unsupported key \"{}\"; supported keys are: {}", key, KeyList(spec.sort_keys)));
    }
    keys.emplace_back(path->second, descending);
  }
  if (keys.empty()) return common::OkStatus();
  std::stable_sort(items.begin(), items.end(), [&](const json& a, const json& b) {
    for (const auto& [path, descending] : keys) {
      const int c = Compare(AtPath(a, path), AtPath(b, path));
      if (c != 0) return descending ? c > 0 : c < 0;
    }
    return false;
  });
  return common::OkStatus();
}

// A page token is "<query fingerprint, 16 hex digits>.<offset in hex>"; it is only good for the
// query that issued it. No token: the first page.
StatusOr<std::size_t> DecodePageToken(const std::string& token, std::uint64_t fingerprint) {
  if (token.empty()) return std::size_t{0};
  std::uint64_t token_fingerprint = 0;
  std::size_t offset = 0;
  bool ok = token.size() > 17 && token[16] == '.';
  if (ok) {
    const auto [p1, e1] = std::from_chars(token.data(), token.data() + 16, token_fingerprint, 16);
    const auto [p2, e2] =
        std::from_chars(token.data() + 17, token.data() + token.size(), offset, 16);
    ok = e1 == std::errc() && p1 == token.data() + 16 && e2 == std::errc() &&
         p2 == token.data() + token.size();
  }
  if (!ok) return common::InvalidArgumentError("page_token: malformed page token");
  if (token_fingerprint != fingerprint) {
    return common::InvalidArgumentError(
        "page_token: the token belongs to another query (search_filter, sort and page_size "
        "must be the same as on the first page)");
  }
  return offset;
}

}  // namespace

StatusOr<ListPage> ListItems(std::vector<json> items, const ListQuery& query,
                             const ListSpec& spec) {
  CMLR_ASSIGN_OR_RETURN(const int page_size, ParsePageSize(query.page_size));
  CMLR_RETURN_IF_ERROR(ApplyFilter(items, query.search_filter, spec));
  CMLR_RETURN_IF_ERROR(ApplySort(items, query.sort, spec));
  const std::uint64_t fingerprint = Fnv1a(
      fmt::format("{}\n{}\n{}\n{}", spec.scope, query.search_filter, query.sort, query.page_size));
  CMLR_ASSIGN_OR_RETURN(const std::size_t offset, DecodePageToken(query.page_token, fingerprint));

  ListPage page;
  const std::size_t end = std::min(items.size(), offset + static_cast<std::size_t>(page_size));
  for (std::size_t i = offset; i < end; ++i) page.items.push_back(std::move(items[i]));
  if (end < items.size()) page.next_page_token = fmt::format("{:016x}.{:x}", fingerprint, end);
  return page;
}

}  // namespace cmlr::emulator
