#include "daemon/desired_state_watcher.h"

#include <sys/inotify.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cmlr::daemon {

namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

// Every directory gets the same mask: adding a watch for an inode that is already watched
// replaces its mask, and one mask for all keeps that harmless. IN_CLOSE_WRITE rather than
// IN_MODIFY, so that a file is not re-read halfway through being written.
constexpr std::uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_ONLYDIR;

// Symbolic links followed from one given path (the kernel's own limit is 40).
constexpr int kMaxLinkHops = 40;
// A runaway tree (a link to "/") must not exhaust the user's inotify watches.
constexpr std::size_t kMaxWatches = 4096;

// What matters in one watched directory.
struct WatchSpec {
  // Every entry that the loader reads (a directory of the desired tree).
  bool all = false;
  // Entries that matter whatever their name (a given path, a link on the way to its target).
  std::set<std::string> names;

  void Merge(const WatchSpec& other) {
    all = all || other.all;
    names.insert(other.names.begin(), other.names.end());
  }

  bool Matters(const std::string& name) const {
    if (names.contains(name)) return true;
    if (!all) return false;
    // The loader skips names starting with '.', so editor scratch files (".model.yaml.swp")
    // and `.git` do not matter; a ConfigMap's "..data" and "..2026_..." entries do, because the
    // top-level links lead through them.
    return !name.starts_with('.') || name.starts_with("..");
  }
};

using WatchPlan = std::map<fs::path, WatchSpec>;

// An absolute path without "." or ".." components, for walking its ancestors. ".." after a
// symbolic link means the link target's parent, so such paths are resolved by the file system.
fs::path Normalize(const fs::path& path) {
  fs::path normal = path.lexically_normal();
  if (!normal.has_filename() && normal.has_parent_path() && normal != normal.root_path()) {
    normal = normal.parent_path();
  }
  const bool has_dot_dot =
      std::any_of(normal.begin(), normal.end(), [](const fs::path& part) { return part == ".."; });
  if (!has_dot_dot) return normal;
  std::error_code ec;
  fs::path parent = fs::weakly_canonical(normal.parent_path(), ec);
  if (ec) return normal;
  return parent / normal.filename();
}

// Computes which directories to watch for a set of desired-state paths.
class PlanBuilder {
 public:
  void AddPath(const fs::path& path, int hops) {
    if (hops > kMaxLinkHops || plan_.size() >= kMaxWatches) return;
    AddAncestors(path);
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(path, ec);
    if (ec) return;  // missing for now: the watch on its parent sees it appear
    if (fs::is_symlink(status)) {
      const fs::path target = fs::read_symlink(path, ec);
      if (ec) return;
      AddPath(Normalize(target.is_absolute() ? target : path.parent_path() / target), hops + 1);
    } else if (fs::is_directory(status)) {
      AddTree(path, hops);
    }
  }

  WatchPlan Take() && { return std::move(plan_); }

 private:
  // Watches the directory holding `path` for its name. When a component above it is a
  // symbolic link, every directory from that link's parent down is watched for the next
  // component too, so a swap of the link (git-sync pointing at `root/link/sub/dir`) is seen.
  void AddAncestors(const fs::path& path) {
    std::vector<fs::path> prefixes;  // prefixes[k] holds the first k components after the root
    std::vector<std::string> names;  // names[k] is component k+1
    fs::path prefix = path.root_path();
    prefixes.push_back(prefix);
    for (const fs::path& part : path.relative_path()) {
      prefix /= part;
      prefixes.push_back(prefix);
      names.push_back(part.string());
    }
    if (names.empty()) return;
    std::size_t top = names.size();
    for (std::size_t k = 1; k < names.size(); ++k) {
      std::error_code ec;
      if (fs::is_symlink(fs::symlink_status(prefixes[k], ec))) {
        top = k;
        break;
      }
    }
    for (std::size_t k = top; k <= names.size(); ++k) {
      plan_[prefixes[k - 1]].names.insert(names[k - 1]);
    }
  }

  // Watches every directory that the loader walks under `dir`, following links as it does.
  void AddTree(const fs::path& dir, int hops) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(dir, ec);
    if (ec || !visited_.insert(canonical).second || plan_.size() >= kMaxWatches) return;
    plan_[canonical].all = true;
    for (fs::directory_iterator it(canonical, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& entry = it->path();
      if (entry.filename().string().starts_with('.')) continue;
      std::error_code status_ec;
      const fs::file_status status = it->symlink_status(status_ec);
      if (status_ec) continue;
      if (fs::is_symlink(status)) {
        AddPath(entry, hops + 1);
      } else if (fs::is_directory(status)) {
        AddTree(entry, hops);
      }
    }
  }

  WatchPlan plan_;
  std::set<fs::path> visited_;
};

// Completion of the watcher's coroutines: a callback that throws ends io_context::run() with
// its exception instead of silently ending the coroutine (net::detached would swallow it).
void RethrowOnError(std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
}

}  // namespace

class DesiredStateWatcher::Impl : public std::enable_shared_from_this<DesiredStateWatcher::Impl> {
 public:
  Impl(net::any_io_executor executor, common::Clock& clock, std::vector<fs::path> paths,
       DesiredStateWatcherOptions options, Callback callback)
      : executor_(std::move(executor)),
        clock_(clock),
        options_(options),
        callback_(std::move(callback)) {
    for (const fs::path& path : paths) {
      std::error_code ec;
      fs::path absolute = fs::absolute(path, ec);
      paths_.push_back(ec ? path : absolute);
    }
  }

  void Start() {
    if (started_ || stopped_) return;
    started_ = true;
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0) {
      stream_.emplace(executor_, fd);
      Arm();
      net::co_spawn(executor_, ReadEvents(shared_from_this()), RethrowOnError);
    }
    if (options_.resync > common::Duration::zero()) {
      net::co_spawn(executor_, ResyncPeriodically(shared_from_this()),
                    net::bind_cancellation_slot(resync_cancel_.slot(), RethrowOnError));
    }
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    if (stream_) {
      boost::system::error_code ignored;
      stream_->close(ignored);
      stream_.reset();
    }
    watches_.clear();
    resync_cancel_.emit(net::cancellation_type::terminal);
    debounce_cancel_.emit(net::cancellation_type::terminal);
  }

  void ReloadNow() {
    net::post(executor_, [self = shared_from_this()] { self->Reload(); });
  }

  bool inotify_active() const { return stream_.has_value(); }
  std::size_t watch_count() const { return watches_.size(); }
  std::uint64_t events() const { return events_; }
  std::uint64_t reloads() const { return reloads_; }

 private:
  struct Burst {
    common::TimePoint first;
    common::TimePoint last;
  };

  // Re-arms the watches for the tree as it is now. Runs before each load, so that any change
  // after the load started raises an event against the new watches.
  void Arm() {
    if (!stream_) return;
    PlanBuilder builder;
    for (const fs::path& path : paths_) builder.AddPath(Normalize(path), 0);
    std::map<int, WatchSpec> next;
    for (const auto& [dir, spec] : std::move(builder).Take()) {
      const int wd = ::inotify_add_watch(stream_->native_handle(), dir.c_str(), kWatchMask);
      if (wd >= 0) next[wd].Merge(spec);  // two paths to one inode share a descriptor
    }
    for (const auto& [wd, spec] : watches_) {
      if (!next.contains(wd)) ::inotify_rm_watch(stream_->native_handle(), wd);
    }
    watches_ = std::move(next);
  }

  // True when an event can change what the loader reads.
  bool Matters(const inotify_event& event, const std::string& name) {
    if ((event.mask & IN_Q_OVERFLOW) != 0) return true;  // events were lost: re-read
    const auto it = watches_.find(event.wd);
    if (it == watches_.end()) return false;  // a watch removed by Arm(); already re-read
    if ((event.mask & IN_IGNORED) != 0) {
      watches_.erase(it);  // the directory is gone
      return true;
    }
    if (!name.empty()) return it->second.Matters(name);
    return (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) != 0;
  }

  net::awaitable<void> ReadEvents([[maybe_unused]] std::shared_ptr<Impl> self) {
    // Big enough for hundreds of events with names: a git-sync swap produces a few dozen.
    std::vector<char> buffer(64 * 1024);
    while (!stopped_ && stream_) {
      boost::system::error_code ec;
      const std::size_t size = co_await stream_->async_read_some(
          net::buffer(buffer), net::redirect_error(net::use_awaitable, ec));
      if (ec || stopped_) break;  // closed by Stop(), or inotify broke: the resync remains
      HandleEvents(buffer.data(), size);
    }
  }

  // Not in the coroutine: inotify_event ends in a flexible array, which a frame cannot hold.
  void HandleEvents(const char* data, std::size_t size) {
    std::size_t offset = 0;
    bool published = false;
    while (offset + sizeof(inotify_event) <= size) {
      inotify_event event;
      std::memcpy(&event, data + offset, sizeof(event));
      const char* name_start = data + offset + sizeof(event);
      const std::size_t name_room = std::min<std::size_t>(event.len, size - offset - sizeof(event));
      const std::string name(name_start, ::strnlen(name_start, name_room));
      offset += sizeof(event) + event.len;
      if (!Matters(event, name)) continue;
      NoteEvent();
      published |= (event.mask & IN_MOVED_TO) != 0;
    }
    // A rename into place is how a complete tree or file is published (git-sync's and a
    // ConfigMap's link swap, an editor's temporary file): nothing to wait for, load now. Later
    // events of the same burst are still coalesced into one more load.
    if (published) Reload();
  }

  void NoteEvent() {
    ++events_;
    const common::TimePoint now = clock_.Now();
    if (burst_) {
      burst_->last = now;
    } else {
      burst_ = Burst{.first = now, .last = now};
    }
    if (!debouncing_) {
      debouncing_ = true;
      net::co_spawn(executor_, Debounce(shared_from_this()),
                    net::bind_cancellation_slot(debounce_cancel_.slot(), RethrowOnError));
    }
  }

  // Loads once the burst has been quiet for `debounce`, or `max_delay` after it began.
  net::awaitable<void> Debounce([[maybe_unused]] std::shared_ptr<Impl> self) {
    while (!stopped_ && burst_) {
      const common::TimePoint due =
          std::min(burst_->last + options_.debounce, burst_->first + options_.max_delay);
      if (clock_.Now() >= due) {
        Reload();
        continue;
      }
      const common::Status slept = co_await clock_.SleepUntil(due);
      if (!slept.ok()) break;
    }
    debouncing_ = false;
  }

  net::awaitable<void> ResyncPeriodically([[maybe_unused]] std::shared_ptr<Impl> self) {
    while (!stopped_) {
      // Not `if (!(co_await ...).ok())`: GCC 12 miscompiles that here (SIGILL on first resume).
      const common::Status slept = co_await clock_.SleepFor(options_.resync);
      if (!slept.ok()) break;
      Reload();
    }
  }

  void Reload() {
    if (stopped_) return;
    burst_.reset();  // this load covers every event so far
    Arm();
    const config::LoadResult result = config::LoadDesiredState(paths_);
    ++reloads_;
    callback_(result);
  }

  net::any_io_executor executor_;
  common::Clock& clock_;
  std::vector<fs::path> paths_;
  const DesiredStateWatcherOptions options_;
  const Callback callback_;

  std::optional<net::posix::stream_descriptor> stream_;
  std::map<int, WatchSpec> watches_;  // by watch descriptor
  std::optional<Burst> burst_;
  bool debouncing_ = false;
  bool started_ = false;
  bool stopped_ = false;
  net::cancellation_signal resync_cancel_;
  net::cancellation_signal debounce_cancel_;
  std::uint64_t events_ = 0;
  std::uint64_t reloads_ = 0;
};

DesiredStateWatcher::DesiredStateWatcher(net::any_io_executor executor, common::Clock& clock,
                                         std::vector<fs::path> paths,
                                         DesiredStateWatcherOptions options, Callback callback)
    : impl_(std::make_shared<Impl>(std::move(executor), clock, std::move(paths), options,
                                   std::move(callback))) {}

DesiredStateWatcher::~DesiredStateWatcher() { impl_->Stop(); }

void DesiredStateWatcher::Start() { impl_->Start(); }
void DesiredStateWatcher::Stop() { impl_->Stop(); }
void DesiredStateWatcher::ReloadNow() { impl_->ReloadNow(); }
bool DesiredStateWatcher::inotify_active() const { return impl_->inotify_active(); }
std::size_t DesiredStateWatcher::watch_count() const { return impl_->watch_count(); }
std::uint64_t DesiredStateWatcher::events() const { return impl_->events(); }
std::uint64_t DesiredStateWatcher::reloads() const { return impl_->reloads(); }

}  // namespace cmlr::daemon
