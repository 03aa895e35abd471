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
  // Told how long a name waited between being due and being started.
  using WaitObserver = std::function<void(common::Duration)>;

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

  void SetWaitObserver(WaitObserver observer) { wait_observer_ = std::move(observer); }

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
  boost::asio::awaitable<void> Process(std::string name);

  boost::asio::any_io_executor executor_;
  common::Clock& clock_;
  int concurrency_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> ready_;
  std::multimap<common::TimePoint, std::string> schedule_;
  std::size_t in_flight_ = 0;
  bool shutdown_ = false;
  Worker worker_;
  WaitObserver wait_observer_;
  boost::asio::steady_timer wake_;
};

}  // namespace cmlr::controllers
