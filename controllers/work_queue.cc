#include "controllers/work_queue.h"

#include <exception>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cmlr::controllers {

namespace net = boost::asio;

WorkQueue::WorkQueue(net::any_io_executor executor, common::Clock& clock, int concurrency)
    : executor_(executor),
      clock_(clock),
      concurrency_(std::max(1, concurrency)),
      wake_(executor, net::steady_timer::time_point::max()) {}

void WorkQueue::Wake() { wake_.cancel(); }

void WorkQueue::Unschedule(const std::string& name, Entry& entry) {
  if (!entry.scheduled) return;
  auto [first, last] = schedule_.equal_range(*entry.scheduled);
  for (auto it = first; it != last; ++it) {
    if (it->second == name) {
      schedule_.erase(it);
      break;
    }
  }
  entry.scheduled.reset();
}

void WorkQueue::MakeReady(const std::string& name) {
  Entry& entry = entries_[name];
  Unschedule(name, entry);
  if (entry.processing) {
    if (!entry.again && observer_.added) observer_.added();
    entry.again = true;
    return;
  }
  if (entry.queued) return;
  if (observer_.added) observer_.added();
  entry.queued = true;
  entry.due_at = clock_.Now();
  ready_.push_back(name);
  Wake();
}

void WorkQueue::Add(const std::string& name) {
  if (shutdown_) return;
  MakeReady(name);
}

void WorkQueue::AddAfter(const std::string& name, common::Duration delay) {
  if (shutdown_) return;
  if (delay <= common::Duration::zero()) {
    MakeReady(name);
    return;
  }
  Entry& entry = entries_[name];
  const common::TimePoint at = clock_.Now() + delay;
  if (entry.queued || (entry.scheduled && *entry.scheduled <= at)) return;
  Unschedule(name, entry);
  entry.scheduled = at;
  schedule_.emplace(at, name);
  Wake();
}

void WorkQueue::Forget(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  Unschedule(name, it->second);
  it->second.again = false;
  if (it->second.queued) {
    std::erase(ready_, name);
    it->second.queued = false;
  }
  if (!it->second.processing) entries_.erase(it);
}

std::optional<common::TimePoint> WorkQueue::ScheduledAt(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return it->second.scheduled;
}

void WorkQueue::ReportState() {
  if (!observer_.state) return;
  const common::TimePoint now = clock_.Now();
  common::Duration unfinished{};
  common::Duration longest{};
  for (const auto& [name, started] : running_) {
    const common::Duration age = std::max(common::Duration::zero(), now - started);
    unfinished += age;
    longest = std::max(longest, age);
  }
  observer_.state(ready_.size(), unfinished, longest);
}

net::awaitable<void> WorkQueue::Process(std::string name) {
  const common::TimePoint started = clock_.Now();
  try {
    co_await worker_(name);
  } catch (const std::exception&) {
    // The worker's own last-resort handler reports; the queue only keeps going.
  }
  if (observer_.finished) observer_.finished(clock_.Now() - started);
  running_.erase(name);
  --in_flight_;
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    it->second.processing = false;
    if (it->second.again && !shutdown_) {
      it->second.again = false;
      MakeReady(name);
    }
  }
  Wake();
}

net::awaitable<void> WorkQueue::Run(Worker worker) {
  using net::experimental::awaitable_operators::operator||;
  worker_ = std::move(worker);
  boost::system::error_code ec;
  while (!shutdown_) {
    const common::TimePoint now = clock_.Now();
    while (!schedule_.empty() && schedule_.begin()->first <= now) {
      const std::string name = schedule_.begin()->second;
      MakeReady(name);  // removes it from schedule_
    }
    while (in_flight_ < static_cast<std::size_t>(concurrency_) && !ready_.empty()) {
      std::string name = std::move(ready_.front());
      ready_.pop_front();
      Entry& entry = entries_[name];
      entry.queued = false;
      entry.processing = true;
      ++in_flight_;
      running_[name] = clock_.Now();
      if (observer_.started) observer_.started(clock_.Now() - entry.due_at);
      net::co_spawn(executor_, Process(std::move(name)), net::detached);
    }
    ReportState();
    // Wake for the earliest scheduled name and, while passes run and someone watches their
    // ages, every kProgressPeriod; or at once on a change (Add, a pass ending).
    std::optional<common::TimePoint> wake_at;
    if (!schedule_.empty()) wake_at = schedule_.begin()->first;
    if (!running_.empty() && observer_.state) {
      const common::TimePoint tick = clock_.Now() + kProgressPeriod;
      if (!wake_at || tick < *wake_at) wake_at = tick;
    }
    wake_.expires_at(net::steady_timer::time_point::max());
    if (!wake_at) {
      co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    } else {
      co_await (clock_.SleepUntil(*wake_at) ||
                wake_.async_wait(net::redirect_error(net::use_awaitable, ec)));
    }
  }
  while (in_flight_ > 0) {
    wake_.expires_at(net::steady_timer::time_point::max());
    co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  ReportState();
}

void WorkQueue::ShutDown() {
  shutdown_ = true;
  Wake();
}

}  // namespace cmlr::controllers
