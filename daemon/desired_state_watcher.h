#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "config/loader.h"

namespace cmlr::daemon {

struct DesiredStateWatcherOptions {
  // Quiet time after the last event of a burst before the tree is re-read. Small on purpose:
  // the edit-to-first-write target (design section 10, P1) is 10 ms at the median.
  common::Duration debounce = std::chrono::milliseconds(5);
  // A burst that never goes quiet is still re-read this long after its first event.
  common::Duration max_delay = std::chrono::milliseconds(100);
  // Period of the unconditional re-read that catches anything inotify missed. Zero disables it.
  common::Duration resync = std::chrono::seconds(60);
};

// Watches the desired-state paths (each a file or a directory, as given to `--desired`) and
// re-reads the whole tree with config::LoadDesiredState after it changes, handing every result,
// good or bad, to the callback. It decides nothing about models: the caller compares snapshots
// (config::Snapshot::ChangedNames) and keeps its last good one when a load has errors.
//
// Changes are seen through inotify on the caller's io_context, robust to the ways a tree really
// changes: git-sync's atomic swap of a symbolic link to a new worktree, a ConfigMap mount's
// `..data` link swap, editors that write a temporary file and rename it over the original, a
// file deleted and recreated, and the watched directory itself replaced. To that end it watches,
// for each path, the directory holding it (and every symbolic link on the way to its target),
// and every directory of the resolved tree; the watches are re-armed before each load, because
// symbolic link targets move. A rename into place (a link swap, an editor's temporary file) is a
// complete publication and is loaded at once; other bursts of events are coalesced: a load starts
// `debounce` after the last event, and at most `max_delay` after the first. inotify queue
// overflow causes a load, and a periodic re-read (`resync`) covers anything else inotify cannot
// see (for example a link swapped several levels above the given path). When inotify is
// unavailable, only the periodic re-read remains.
//
// Loading is synchronous on the io_context thread (1000 models take well under 100 ms). The
// callback runs on that thread and must not throw. Start() does not load: the caller loads the
// initial state itself (it must fail fast on an invalid one).
//
// Not thread-safe: construct, call and destroy on the io_context's thread. The clock must
// outlive the io_context's last run. The watcher may be destroyed before the io_context has
// finished its pending work: its coroutines keep what they need alive and end on their own.
class DesiredStateWatcher {
 public:
  using Callback = std::function<void(const config::LoadResult&)>;

  DesiredStateWatcher(boost::asio::any_io_executor executor, common::Clock& clock,
                      std::vector<std::filesystem::path> paths, DesiredStateWatcherOptions options,
                      Callback callback);
  ~DesiredStateWatcher();

  DesiredStateWatcher(const DesiredStateWatcher&) = delete;
  DesiredStateWatcher& operator=(const DesiredStateWatcher&) = delete;

  // Arms the watches and starts the event reader and the periodic re-read. Once only; a no-op
  // after Stop().
  void Start();

  // Stops watching: cancels the reader, a pending debounced load and the periodic re-read. No
  // callback runs after it returns. Idempotent.
  void Stop();

  // Requests a load as soon as possible (SIGHUP), without waiting for the debounce. The load
  // runs on the executor after this call returns, never inside it, so it may be called from
  // the callback.
  void ReloadNow();

  // True between Start() and Stop() when inotify works; otherwise only the periodic re-read
  // sees changes.
  bool inotify_active() const;
  // Directories currently watched.
  std::size_t watch_count() const;
  // Events that were relevant to the desired state (each starts or extends a burst).
  std::uint64_t events() const;
  // Loads performed (each followed by one callback).
  std::uint64_t reloads() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cmlr::daemon
