#include "api/paging.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace cmlr::api {
namespace {

namespace net = boost::asio;

template <typename T>
T RunSync(net::awaitable<T> awaitable) {
  net::io_context io;
  std::optional<T> result;
  net::co_spawn(
      io,
      [&result, awaitable = std::move(awaitable)]() mutable -> net::awaitable<void> {
        result.emplace(co_await std::move(awaitable));
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return std::move(*result);
}

// Verifies that the tracker follows tokens and stops on an empty token.
TEST(PagingTest, TrackerStopsOnEmptyToken) {
  PageTokenTracker tracker(10);
  EXPECT_EQ(tracker.token(), "");
  EXPECT_TRUE(*tracker.Next("a"));
  EXPECT_EQ(tracker.token(), "a");
  EXPECT_TRUE(*tracker.Next("b"));
  EXPECT_FALSE(*tracker.Next(""));
  EXPECT_EQ(tracker.pages(), 3);
}

// Verifies that a repeated token is an error rather than an endless loop.
TEST(PagingTest, TrackerRejectsRepeatedToken) {
  PageTokenTracker tracker(10);
  EXPECT_TRUE(*tracker.Next("a"));
  EXPECT_TRUE(*tracker.Next("b"));
  auto again = tracker.Next("a");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), common::StatusCode::kInternal);
  EXPECT_NE(again.status().message().find("repeated page token"), std::string::npos);
}

// Verifies that the page cap stops a list that never ends.
TEST(PagingTest, TrackerStopsAtPageCap) {
  PageTokenTracker tracker(3);
  EXPECT_TRUE(*tracker.Next("1"));
  EXPECT_TRUE(*tracker.Next("2"));
  auto capped = tracker.Next("3");
  ASSERT_FALSE(capped.ok());
  EXPECT_NE(capped.status().message().find("more than 3 pages"), std::string::npos);
}

// Verifies that the query carries search_filter (compact JSON), sort, page_size and the token,
// percent-encoded.
TEST(PagingTest, BuildsListQuery) {
  ListOptions options{
      .search_filter = {{"name", "fraud clf"}}, .sort = "-created_at", .page_size = 50};
  EXPECT_EQ(BuildListQuery(options, ""),
            "?search_filter=%7B%22name%22%3A%22fraud%20clf%22%7D&sort=-created_at&page_size=50");
  EXPECT_EQ(BuildListQuery(ListOptions{}, "t/2="), "?page_size=100&page_token=t%2F2%3D");
}

// Verifies that FetchAllPages concatenates every page and passes each next token on.
TEST(PagingTest, FetchAllPagesFollowsTokens) {
  std::vector<std::string> tokens_seen;
  PageFetcher<int> fetch = [&](std::string token) -> net::awaitable<common::StatusOr<Page<int>>> {
    tokens_seen.push_back(token);
    const int n = token.empty() ? 0 : std::stoi(token);
    Page<int> page{.items = {n, n + 1}, .next_page_token = n < 4 ? std::to_string(n + 2) : ""};
    co_return page;
  };
  auto all = RunSync(FetchAllPages<int>(fetch));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(tokens_seen, (std::vector<std::string>{"", "2", "4"}));
}

// Verifies that an error on a later page fails the whole list (no partial result).
TEST(PagingTest, FetchAllPagesFailsOnPageError) {
  PageFetcher<int> fetch = [](std::string token) -> net::awaitable<common::StatusOr<Page<int>>> {
    if (token.empty()) co_return Page<int>{.items = {1}, .next_page_token = "x"};
    co_return common::UnavailableError("boom");
  };
  auto all = RunSync(FetchAllPages<int>(fetch));
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), common::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cmlr::api
