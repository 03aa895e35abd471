#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cmlr::emulator {

// The query parameters of a list call (cml-apiv2.md section 8).
struct ListQuery {
  std::string search_filter;  // a JSON object, serialised
  std::string sort;           // "-created_at,+name"
  std::string page_size;      // as sent; empty or "0": the default of 10
  std::string page_token;
};

// What a list operation supports. Keys map to one or more dotted paths into the encoded item
// (a filter matches when any path's value contains the filter value, case-sensitively).
struct ListSpec {
  // Identifies the query (operation and path ids), so a token of another query is refused.
  std::string scope;
  std::map<std::string, std::vector<std::string>, std::less<>> filter_keys;
  std::map<std::string, std::string, std::less<>> sort_keys;
  // Text to compare for a path the encoded item omits (zero values are omitted on the wire,
  // e.g. "false" for auth_enabled); "" when not listed.
  std::map<std::string, std::string, std::less<>> absent_values;
};

struct ListPage {
  std::vector<nlohmann::json> items;
  std::string next_page_token;  // empty on the last page
};

inline constexpr int kDefaultPageSize = 10;

// Filters, sorts (stable; creation order otherwise) and pages encoded items. INVALID_ARGUMENT
// for a malformed or unsupported search_filter or sort key, a bad page_size, or a page token
// that is malformed or belongs to another query.
[[nodiscard]] common::StatusOr<ListPage> ListItems(std::vector<nlohmann::json> items,
                                                   const ListQuery& query, const ListSpec& spec);

}  // namespace cmlr::emulator
