#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"

namespace cmlr::controllers {

// The queue of model names due for a reconcile pass (client-go's workqueue semantics on one
// io_context thread): a name is queued at most once, never processed by two workers at once
// (an Add while it is processed runs it again right after), at most `concurrency` names are
// processed at a time, and a delayed Add keeps the earliest due time.
class WorkQueue {
 public:
  using Worker = std::function<boost::asio::awaitable<void>(std::string name)>;

  // What the queue tells its metrics (client-go's workqueue metrics provider, in spirit). Every
  // member is optional; all are called on the queue's thread, never re-entrantly.
  struct Observer {
    // A name became due and was not due already (an Add of a name already waiting is not
    // counted, as in client-go; an Add while it is processed is).
    std::function<void()> added;
    // A pass started: how long the name waited between being due and being started.
    std::function<void(common::Duration waited)> started;
    // A pass ended: how long the worker took.
    std::function<void(common::Duration worked)> finished;
    // After every change, and every kProgressPeriod while a pass runs: the names waiting, the
    // sum of the running passes' ages and the age of the oldest one (zero when none runs).
    std::function<void(std::size_t depth, common::Duration unfinished, common::Duration longest)>
        state;
  };
  // How often `state` is refreshed while passes run, so that a stuck pass shows as a growing
  // age between two scrapes.
  static constexpr common::Duration kProgressPeriod = std::chrono::seconds(1);

  WorkQueue(boost::asio::any_io_executor executor, common::Clock& clock, int concurrency);

  // Due now.
  void Add(const std::string& name);
  // Due after `delay`, unless it is due earlier already.
  void AddAfter(const std::string& name, common::Duration delay);
  // Drops a name's scheduled or queued entry (not a pass in progress).
  void Forget(const std::string& name);

  // Names due and waiting for a worker.
  std::size_t depth() const { return ready_.size(); }
  std::size_t in_flight() const { return in_flight_; }
  // The due time of a name scheduled for later, if any (tests, status).
  std::optional<common::TimePoint> ScheduledAt(const std::string& name) const;

  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  // Runs `worker` for due names until ShutDown(), then waits for passes in progress.
  boost::asio::awaitable<void> Run(Worker worker);
  // Stops starting new passes. Idempotent.
  void ShutDown();

 private:
  struct Entry {
    std::optional<common::TimePoint> scheduled;  // its key in schedule_
    bool queued = false;
    bool processing = false;
    bool again = false;  // added while processing
    common::TimePoint due_at{};
  };

  void MakeReady(const std::string& name);
  void Unschedule(const std::string& name, Entry& entry);
  void Wake();
  void ReportState();
  boost::asio::awaitable<void> Process(std::string name);

  boost::asio::any_io_executor executor_;
  common::Clock& clock_;
  int concurrency_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> ready_;
  std::multimap<common::TimePoint, std::string> schedule_;
  std::size_t in_flight_ = 0;
  // Start times of the passes in progress (at most `concurrency` entries).
  std::map<std::string, common::TimePoint> running_;
  bool shutdown_ = false;
  Worker worker_;
  Observer observer_;
  boost::asio::steady_timer wake_;
};

}  // namespace cmlr::controllers
