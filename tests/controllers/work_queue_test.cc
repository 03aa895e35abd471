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

}  // namespace
}  // namespace cmlr::controllers
