#include "api/paging.h"

#include <algorithm>

#include "api/http_transport.h"

namespace cmlr::api {

std::string BuildListQuery(const ListOptions& options, std::string_view page_token) {
  std::string query;
  const auto add = [&query](std::string_view key, std::string_view value) {
    query += query.empty() ? '?' : '&';
    query += key;
    query += '=';
    query += PercentEncode(value);
  };
  if (options.search_filter.is_object() && !options.search_filter.empty()) {
    add("search_filter", options.search_filter.dump());
  }
  if (!options.sort.empty()) add("sort", options.sort);
  if (options.page_size > 0) add("page_size", std::to_string(options.page_size));
  if (!page_token.empty()) add("page_token", page_token);
  return query;
}

common::StatusOr<bool> PageTokenTracker::Next(std::string_view next_page_token) {
  ++pages_;
  if (next_page_token.empty()) return false;
  if (std::find(seen_.begin(), seen_.end(), next_page_token) != seen_.end()) {
    return common::InternalError("server repeated page token after " + std::to_string(pages_) +
                                 " pages");
  }
  if (pages_ >= max_pages_) {
    return common::InternalError("list has more than " + std::to_string(max_pages_) + " pages");
  }
  seen_.emplace_back(next_page_token);
  token_ = std::string(next_page_token);
  return true;
}

}  // namespace cmlr::api
