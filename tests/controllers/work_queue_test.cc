#include "controllers/work_queue.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"

namespace cmlr::controllers {
namespace {

namespace net = boost::asio;
using std::chrono::seconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  // Each pass takes `work_time` of fake time, so overlap can be observed.
  void Start(int concurrency, common::Duration work_time = seconds(1)) {
    queue_ = std::make_unique<WorkQueue>(io_.get_executor(), clock_, concurrency);
    net::co_spawn(io_, queue_->Run([this, work_time](std::string name) -> net::awaitable<void> {
      ++active_[name];
      max_active_name_ = std::max(max_active_name_, active_[name]);
      ++running_;
      max_running_ = std::max(max_running_, running_);
      started_.push_back(name);
      (void)co_await clock_.SleepFor(work_time);
      --running_;
      --active_[name];
    }),
                  net::detached);
    io_.poll();
  }

  void Advance(common::Duration d) {
    for (auto t = common::Duration::zero(); t < d; t += std::chrono::milliseconds(100)) {
      clock_.Advance(std::chrono::milliseconds(100));
      io_.poll();
    }
  }

  void TearDown() override {
    queue_->ShutDown();
    Advance(seconds(5));
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  testing::FakeClock clock_;
  std::unique_ptr<WorkQueue> queue_;
  std::map<std::string, int> active_;
  int running_ = 0, max_running_ = 0, max_active_name_ = 0;
  std::vector<std::string> started_;
};

// Verifies that a name added many times is queued once.
TEST_F(WorkQueueTest, DeduplicatesNames) {
  Start(4);
  queue_->ShutDown();  // nothing runs; just check the queue
  WorkQueue queue(io_.get_executor(), clock_, 1);
  queue.Add("a");
  queue.Add("a");
  queue.Add("b");
  EXPECT_EQ(queue.depth(), 2u);
}

// Verifies that at most `concurrency` names run at once and one name never runs twice at once.
TEST_F(WorkQueueTest, BoundsConcurrencyAndNeverOverlapsOneName) {
  Start(2);
  for (const char* name : {"a", "b", "c", "d"}) queue_->Add(name);
  io_.poll();
  queue_->Add("a");  // while "a" is processed: runs again right after
  Advance(seconds(5));
  EXPECT_EQ(max_running_, 2);
  EXPECT_EQ(max_active_name_, 1);
  EXPECT_EQ(std::count(started_.begin(), started_.end(), "a"), 2);
  EXPECT_EQ(started_.size(), 5u);
}

// Verifies that delayed adds fire at their time and the earliest due time wins.
TEST_F(WorkQueueTest, DelayedAddsKeepEarliestDueTime) {
  Start(1, std::chrono::milliseconds(1));
  queue_->AddAfter("a", seconds(10));
  queue_->AddAfter("a", seconds(3));
  queue_->AddAfter("a", seconds(20));
  Advance(seconds(2));
  EXPECT_TRUE(started_.empty());
  Advance(seconds(2));
  EXPECT_EQ(started_.size(), 1u);
  Advance(seconds(30));
  EXPECT_EQ(started_.size(), 1u);  // the later adds were superseded
}

// Verifies that Forget cancels a scheduled name.
TEST_F(WorkQueueTest, ForgetCancelsScheduledName) {
  Start(1);
  queue_->AddAfter("a", seconds(1));
  queue_->Forget("a");
  Advance(seconds(3));
  EXPECT_TRUE(started_.empty());
}

// Verifies the metrics the queue reports: adds counted as client-go counts them (not for a name
// already waiting, but for one added while it runs), the wait and work of each pass, and the
// ages of the running passes refreshed every second while they run, back to zero after.
TEST_F(WorkQueueTest, ReportsAddsDurationsAndAgesOfRunningPasses) {
  Start(2, seconds(10));
  int adds = 0;
  std::vector<common::Duration> waits, works;
  std::size_t depth = 99;
  common::Duration unfinished{}, longest{};
  queue_->SetObserver({.added = [&] { ++adds; },
                       .started = [&](common::Duration d) { waits.push_back(d); },
                       .finished = [&](common::Duration d) { works.push_back(d); },
                       .state =
                           [&](std::size_t d, common::Duration u, common::Duration l) {
                             depth = d;
                             unfinished = u;
                             longest = l;
                           }});
  queue_->Add("a");
  queue_->Add("a");
  queue_->Add("b");
  queue_->Add("c");
  EXPECT_EQ(adds, 3);
  io_.poll();
  EXPECT_EQ(depth, 1u);  // "c" waits for a worker
  Advance(seconds(3));
  EXPECT_EQ(longest, seconds(3));
  EXPECT_EQ(unfinished, seconds(6));
  queue_->Add("a");  // while "a" runs: counted, runs again after
  queue_->Add("a");
  EXPECT_EQ(adds, 4);
  Advance(seconds(40));
  EXPECT_EQ(works.size(), 4u);
  EXPECT_EQ(works.front(), seconds(10));
  ASSERT_EQ(waits.size(), 4u);
  EXPECT_EQ(waits[0], common::Duration::zero());
  EXPECT_EQ(waits[2], seconds(10));  // "c" waited for the first pass to end
  EXPECT_EQ(depth, 0u);
  EXPECT_EQ(unfinished, common::Duration::zero());
  EXPECT_EQ(longest, common::Duration::zero());
  queue_->SetObserver({});  // the locals it refers to end here; TearDown still runs the queue
}

}  // namespace
}  // namespace cmlr::controllers
