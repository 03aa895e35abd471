#include "controllers/shared_listings.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_cml_client.h"

namespace cmlr::controllers {
namespace {

namespace net = boost::asio;
using std::chrono::seconds;

// The in-memory CML, except that listing models takes a second of (fake) time, as a real call
// takes a while: passes that ask meanwhile must wait for it, not start their own.
class SlowListingCml : public testing::FakeCmlClient {
 public:
  explicit SlowListingCml(testing::FakeClock& clock) : FakeCmlClient(clock), clock_(clock) {}

  Result<std::vector<api::Model>> ListModels(std::string project_id,
                                             api::ListOptions options) override {
    ++started_;
    const common::Status slept = co_await clock_.SleepFor(seconds(1));
    if (!slept.ok()) co_return slept;
    co_return co_await FakeCmlClient::ListModels(std::move(project_id), std::move(options));
  }
  int started() const { return started_; }

 private:
  testing::FakeClock& clock_;
  int started_ = 0;
};

class SharedListingsTest : public ::testing::Test {
 protected:
  using Answer = common::StatusOr<SharedListings::Models>;

  // Starts a ProjectModels call; its answer lands in the returned slot.
  std::shared_ptr<std::optional<Answer>> Ask(const std::string& project) {
    auto answer = std::make_shared<std::optional<Answer>>();
    net::co_spawn(
        io_,
        [this, project, answer]() -> net::awaitable<void> {
          *answer = co_await listings_.ProjectModels(project);
        },
        net::detached);
    io_.poll();
    return answer;
  }

  void Advance(common::Duration duration) {
    clock_.Advance(duration);
    io_.poll();
  }

  // Creates a model named `name` in `project` through the client, as someone else would.
  void CreateModel(const std::string& project, const std::string& name) {
    api::CreateModelRequest request;
    request.name = name;
    net::co_spawn(
        io_,
        [this, project, request]() -> net::awaitable<void> {
          auto created = co_await cml_.CreateModel(project, request);
          EXPECT_TRUE(created.ok()) << created.status();
        },
        net::detached);
    io_.poll();
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  testing::FakeClock clock_;
  SlowListingCml cml_{clock_};
  SharedListings listings_{cml_, clock_, seconds(15)};
};

// Verifies that passes asking while a listing is fetched share that one fetch.
TEST_F(SharedListingsTest, ConcurrentAsksShareOneFetch) {
  CreateModel("p1", "a");
  auto first = Ask("p1");
  auto second = Ask("p1");
  auto third = Ask("p1");
  EXPECT_FALSE(first->has_value());
  Advance(seconds(1));
  ASSERT_TRUE(first->has_value() && second->has_value() && third->has_value());
  ASSERT_TRUE((*first)->ok()) << (*first)->status();
  EXPECT_EQ(cml_.started(), 1);
  EXPECT_EQ((***first)->size(), 1u);
  EXPECT_EQ(***first, ***second);  // the same listing, not copies
  EXPECT_EQ(***first, ***third);
}

// Verifies that a listing serves for max_age and is fetched again after it.
TEST_F(SharedListingsTest, KeptForMaxAgeThenFetchedAgain) {
  Ask("p1");
  Advance(seconds(1));
  CreateModel("p1", "late");
  Advance(seconds(10));
  auto cached = Ask("p1");
  ASSERT_TRUE(cached->has_value() && (*cached)->ok());
  EXPECT_EQ(cml_.started(), 1);
  EXPECT_TRUE((***cached)->empty());  // up to max_age old, by contract

  Advance(seconds(5));  // 16 s after the first fetch began
  auto fresh = Ask("p1");
  Advance(seconds(1));
  ASSERT_TRUE(fresh->has_value() && (*fresh)->ok());
  EXPECT_EQ(cml_.started(), 2);
  EXPECT_EQ((***fresh)->size(), 1u);
}

// Verifies that a failed fetch reaches every waiter and is not kept.
TEST_F(SharedListingsTest, FailuresReachWaitersAndAreNotKept) {
  cml_.FailNext("list_models", common::UnavailableError("gateway down"));
  auto first = Ask("p1");
  auto second = Ask("p1");
  Advance(seconds(1));
  ASSERT_TRUE(first->has_value() && second->has_value());
  EXPECT_EQ((*first)->status().code(), common::StatusCode::kUnavailable);
  EXPECT_EQ((*second)->status().code(), common::StatusCode::kUnavailable);

  auto retried = Ask("p1");
  Advance(seconds(1));
  ASSERT_TRUE(retried->has_value());
  EXPECT_TRUE((*retried)->ok()) << (*retried)->status();
  EXPECT_EQ(cml_.started(), 2);
}

// Verifies that each project has its own listing.
TEST_F(SharedListingsTest, ProjectsAreListedSeparately) {
  CreateModel("p1", "a");
  CreateModel("p2", "b");
  CreateModel("p2", "c");
  auto one = Ask("p1");
  auto two = Ask("p2");
  Advance(seconds(1));
  ASSERT_TRUE(one->has_value() && (*one)->ok() && two->has_value() && (*two)->ok());
  EXPECT_EQ((***one)->size(), 1u);
  EXPECT_EQ((***two)->size(), 2u);
  EXPECT_EQ(cml_.started(), 2);
}

}  // namespace
}  // namespace cmlr::controllers
