#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "api/wire_types.h"
#include "common/status.h"

namespace cmlr::api {

// How to list: the same values are sent with every page (the API requires it).
struct ListOptions {
  // A JSON object, sent compactly as the `search_filter` query value; an empty object or null
  // is not sent. CML matches it as a case-sensitive substring: re-check equality yourself.
  nlohmann::json search_filter = nlohmann::json::object();
  std::string sort;  // e.g. "-created_at"; empty is not sent
  int page_size = 100;
};

inline constexpr int kDefaultMaxPages = 1000;

// The query string of one list request, starting with '?': search_filter, sort, page_size and
// (when not empty) page_token, each percent-encoded.
std::string BuildListQuery(const ListOptions& options, std::string_view page_token);

// Decides whether to fetch another page, given each page's next_page_token. Stops (returns
// false) on an absent or empty token. A token seen before, or more than `max_pages` pages, is
// an error (INTERNAL, "... repeated page token" / "... more than N pages"): returning a partial
// list would make a missing object look absent.
class PageTokenTracker {
 public:
  explicit PageTokenTracker(int max_pages = kDefaultMaxPages) : max_pages_(max_pages) {}

  // Records one fetched page. true: fetch the next page with token().
  [[nodiscard]] common::StatusOr<bool> Next(std::string_view next_page_token);

  // The token to send with the next request ("" for the first page).
  const std::string& token() const { return token_; }
  int pages() const { return pages_; }

 private:
  int max_pages_;
  int pages_ = 0;
  std::string token_;
  std::vector<std::string> seen_;
};

template <typename T>
using PageFetcher =
    std::function<boost::asio::awaitable<common::StatusOr<Page<T>>>(std::string page_token)>;

// Fetches pages until the end and returns every item in order, or the first error.
template <typename T>
boost::asio::awaitable<common::StatusOr<std::vector<T>>> FetchAllPages(
    PageFetcher<T> fetch, int max_pages = kDefaultMaxPages) {
  PageTokenTracker tracker(max_pages);
  std::vector<T> all;
  while (true) {
    common::StatusOr<Page<T>> page = co_await fetch(tracker.token());
    if (!page.ok()) co_return page.status();
    for (T& item : page->items) all.push_back(std::move(item));
    common::StatusOr<bool> more = tracker.Next(page->next_page_token);
    if (!more.ok()) co_return more.status();
    if (!*more) break;
  }
  co_return all;
}

}  // namespace cmlr::api
