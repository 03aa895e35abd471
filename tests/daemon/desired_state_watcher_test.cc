#include "daemon/desired_state_watcher.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"

namespace cmlr::daemon {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A fresh directory under the system temp folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cmlr-watcher-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Writes `text` to `path` in place (truncating), creating parent directories.
void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A valid document for the model "fraud" serving registered model version `version`.
std::string Document(int version) {
  return fmt::format(R"(apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata:
  name: fraud
spec:
  projectId: "abcd-1234-efgh-5678"
  registeredModel:
    name: FraudCLF-alice
    version: {}
  runtime: docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:2024.02.1-b4
  resources:
    cpu: 2
    memory: 4Gi
)",
                     version);
}

// The version that a load says "fraud" serves, or nullopt when the load failed or lacks it.
std::optional<int> FraudVersion(const config::LoadResult& result) {
  if (!result.snapshot) return std::nullopt;
  const config::ModelDeploymentSpec* spec = result.snapshot->Find("fraud");
  if (spec == nullptr) return std::nullopt;
  return spec->registered_model.version;
}

class DesiredStateWatcherTest : public ::testing::Test {
 protected:
  // A watcher on the real clock (real inotify, real debounce).
  std::unique_ptr<DesiredStateWatcher> Watch(std::vector<fs::path> paths,
                                             DesiredStateWatcherOptions options = {}) {
    return Watch(real_clock_, std::move(paths), options);
  }

  std::unique_ptr<DesiredStateWatcher> Watch(common::Clock& clock, std::vector<fs::path> paths,
                                             DesiredStateWatcherOptions options) {
    auto watcher = std::make_unique<DesiredStateWatcher>(
        io_.get_executor(), clock, std::move(paths), options,
        [this](const config::LoadResult& result) { results_.push_back(result); });
    watcher->Start();
    return watcher;
  }

  // Runs the io_context until `done` or 5 s of real time pass; returns `done()`.
  bool RunUntil(const std::function<bool()>& done) {
    const common::TimePoint deadline = real_clock_.Now() + seconds(5);
    while (!done() && real_clock_.Now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_for(milliseconds(20));
    }
    return done();
  }

  // Rewrites `file` in place with "fraud" at `version` and runs until `watcher` has seen it.
  bool WriteInPlace(DesiredStateWatcher& watcher, const fs::path& file, int version) {
    const std::uint64_t before = watcher.events();
    WriteFile(file, Document(version));
    return RunUntil([&] { return watcher.events() > before; });
  }

  // Runs until a load reports "fraud" at `version`.
  bool RunUntilVersion(int version) {
    return RunUntil([&] { return !results_.empty() && FraudVersion(results_.back()) == version; });
  }

  void Poll() {
    if (io_.stopped()) io_.restart();
    io_.poll();
  }

  TempDir temp_;
  common::RealClock real_clock_;
  std::vector<config::LoadResult> results_;
  boost::asio::io_context io_;
};

// Verifies that git-sync's swap of the `current` link to a new worktree (followed by the removal
// of the old worktree) reloads the new content.
TEST_F(DesiredStateWatcherTest, ReloadsAfterGitSyncSymlinkSwap) {
  const fs::path root = temp_.path() / "root";
  WriteFile(root / ".worktrees" / "a" / "models" / "fraud.yaml", Document(3));
  fs::create_directory_symlink(".worktrees/a", root / "current");
  auto watcher = Watch({root / "current"});
  ASSERT_TRUE(watcher->inotify_active());

  WriteFile(root / ".worktrees" / "b" / "models" / "fraud.yaml", Document(4));
  fs::create_directory_symlink(".worktrees/b", root / "current.tmp");
  fs::rename(root / "current.tmp", root / "current");
  fs::remove_all(root / ".worktrees" / "a");

  ASSERT_TRUE(RunUntilVersion(4));
  EXPECT_TRUE(results_.back().errors.empty());
}

// Verifies that the watches follow the link after a swap: a second git-sync swap reloads too,
// and the watches of worktrees no longer in use are dropped.
TEST_F(DesiredStateWatcherTest, ReloadsAfterSecondGitSyncSwap) {
  const fs::path root = temp_.path() / "root";
  WriteFile(root / ".worktrees" / "a" / "fraud.yaml", Document(3));
  fs::create_directory_symlink(".worktrees/a", root / "current");
  auto watcher = Watch({root / "current"});
  const std::size_t watches = watcher->watch_count();  // root, .worktrees and .worktrees/a
  EXPECT_EQ(watches, 3u);

  for (const auto& [worktree, version] : {std::pair{"b", 4}, std::pair{"c", 5}}) {
    WriteFile(root / ".worktrees" / worktree / "fraud.yaml", Document(version));
    fs::create_directory_symlink(fs::path(".worktrees") / worktree, root / "current.tmp");
    fs::rename(root / "current.tmp", root / "current");
    ASSERT_TRUE(RunUntilVersion(version)) << "worktree " << worktree;
  }
  EXPECT_EQ(watcher->watch_count(), watches);
}

// Verifies that a git-sync swap is seen when the given path is a folder inside the worktree,
// below the swapped link.
TEST_F(DesiredStateWatcherTest, ReloadsAfterSwapOfLinkAboveGivenPath) {
  const fs::path root = temp_.path() / "root";
  WriteFile(root / ".worktrees" / "a" / "deploy" / "fraud.yaml", Document(3));
  fs::create_directory_symlink(".worktrees/a", root / "current");
  auto watcher = Watch({root / "current" / "deploy"});

  WriteFile(root / ".worktrees" / "b" / "deploy" / "fraud.yaml", Document(4));
  fs::create_directory_symlink(".worktrees/b", root / "current.tmp");
  fs::rename(root / "current.tmp", root / "current");

  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that a ConfigMap mount's `..data` swap reloads the new content when the mount
// directory is watched.
TEST_F(DesiredStateWatcherTest, ReloadsAfterConfigMapDataSwap) {
  const fs::path mount = temp_.path() / "config";
  WriteFile(mount / "..2026_01_01_00_00_00.1" / "fraud.yaml", Document(3));
  fs::create_directory_symlink("..2026_01_01_00_00_00.1", mount / "..data");
  fs::create_symlink("..data/fraud.yaml", mount / "fraud.yaml");
  auto watcher = Watch({mount});

  WriteFile(mount / "..2026_01_01_00_01_00.2" / "fraud.yaml", Document(4));
  fs::create_directory_symlink("..2026_01_01_00_01_00.2", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");
  fs::remove_all(mount / "..2026_01_01_00_00_00.1");

  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that a ConfigMap `..data` swap is seen when the given path is the mounted file, a
// link through `..data`.
TEST_F(DesiredStateWatcherTest, ReloadsAfterConfigMapDataSwapWhenWatchingTheFile) {
  const fs::path mount = temp_.path() / "config";
  WriteFile(mount / "..2026_01_01_00_00_00.1" / "fraud.yaml", Document(3));
  fs::create_directory_symlink("..2026_01_01_00_00_00.1", mount / "..data");
  fs::create_symlink("..data/fraud.yaml", mount / "fraud.yaml");
  auto watcher = Watch({mount / "fraud.yaml"});

  WriteFile(mount / "..2026_01_01_00_01_00.2" / "fraud.yaml", Document(4));
  fs::create_directory_symlink("..2026_01_01_00_01_00.2", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");
  fs::remove_all(mount / "..2026_01_01_00_00_00.1");

  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that an editor's save (write a temporary file, rename it over the original) reloads.
TEST_F(DesiredStateWatcherTest, ReloadsAfterEditorRenameOverFile) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(3));
  auto watcher = Watch({dir});

  WriteFile(dir / ".fraud.yaml.swp", Document(4));
  fs::rename(dir / ".fraud.yaml.swp", dir / "fraud.yaml");

  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that an in-place write to a file given directly reloads.
TEST_F(DesiredStateWatcherTest, ReloadsAfterInPlaceWriteToGivenFile) {
  const fs::path file = temp_.path() / "fraud.yaml";
  WriteFile(file, Document(3));
  auto watcher = Watch({file});

  WriteFile(file, Document(4));

  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that deleting a given file reports the failed load, and recreating it reloads it.
TEST_F(DesiredStateWatcherTest, ReloadsAfterDeleteAndRecreate) {
  const fs::path file = temp_.path() / "fraud.yaml";
  WriteFile(file, Document(3));
  auto watcher = Watch({file});

  fs::remove(file);
  ASSERT_TRUE(RunUntil([&] { return !results_.empty(); }));
  EXPECT_EQ(results_.front().snapshot, nullptr);
  EXPECT_FALSE(results_.front().errors.empty());

  WriteFile(file, Document(4));
  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that replacing the watched directory itself reloads, and that the watches move to
// the new directory (a later edit inside it reloads too).
TEST_F(DesiredStateWatcherTest, ReloadsAfterWatchedDirectoryReplaced) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(3));
  auto watcher = Watch({dir});

  const fs::path next = temp_.path() / "desired.next";
  WriteFile(next / "fraud.yaml", Document(4));
  fs::rename(dir, temp_.path() / "desired.old");
  fs::rename(next, dir);
  fs::remove_all(temp_.path() / "desired.old");
  ASSERT_TRUE(RunUntilVersion(4));

  WriteFile(dir / "fraud.yaml", Document(5));
  ASSERT_TRUE(RunUntilVersion(5));
}

// Verifies that a new file in a new subdirectory of the watched tree is seen, and then an edit
// inside that subdirectory as well.
TEST_F(DesiredStateWatcherTest, WatchesNewSubdirectories) {
  const fs::path dir = temp_.path() / "desired";
  fs::create_directories(dir);
  auto watcher = Watch({dir});

  WriteFile(dir / "team" / "fraud.yaml", Document(3));
  ASSERT_TRUE(RunUntilVersion(3));

  WriteFile(dir / "team" / "fraud.yaml", Document(4));
  ASSERT_TRUE(RunUntilVersion(4));
}

// Verifies that a burst of writes is coalesced into one load (two at most on a loaded machine)
// that sees the final content.
TEST_F(DesiredStateWatcherTest, CoalescesBurstOfWrites) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(1));
  auto watcher = Watch({dir}, {.debounce = milliseconds(50), .max_delay = seconds(2)});

  // The kernel merges identical events that are still queued, so each write of the model is
  // followed by a write of another file; the watcher reads events between the writes.
  for (int version = 2; version <= 11; ++version) {
    WriteFile(dir / "fraud.yaml", Document(version));
    WriteFile(dir / "notes.txt", std::to_string(version));
    Poll();
  }

  ASSERT_TRUE(RunUntilVersion(11));
  EXPECT_LE(results_.size(), 2u);
  EXPECT_GE(watcher->events(), 20u);
}

// Verifies that ReloadNow() loads once, after returning, without any change on disk.
TEST_F(DesiredStateWatcherTest, ReloadNowLoadsWithoutChange) {
  const fs::path file = temp_.path() / "fraud.yaml";
  WriteFile(file, Document(3));
  auto watcher = Watch({file});

  watcher->ReloadNow();
  EXPECT_TRUE(results_.empty());
  ASSERT_TRUE(RunUntil([&] { return !results_.empty(); }));
  EXPECT_EQ(FraudVersion(results_.front()), 3);
  EXPECT_EQ(watcher->reloads(), 1u);
}

// Verifies that Stop() ends every coroutine (the io_context runs out of work at once) and that
// no callback runs after it, not even one requested before.
TEST_F(DesiredStateWatcherTest, StopEndsWatchingAndCallbacks) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(3));
  auto watcher = Watch({dir}, {.resync = seconds(60)});
  watcher->ReloadNow();
  watcher->Stop();
  WriteFile(dir / "fraud.yaml", Document(4));

  io_.run_for(seconds(5));

  EXPECT_TRUE(io_.stopped());
  EXPECT_TRUE(results_.empty());
  EXPECT_FALSE(watcher->inotify_active());
}

// Verifies that the periodic re-read loads on its period, driven by the fake clock.
TEST_F(DesiredStateWatcherTest, ResyncsPeriodically) {
  const fs::path file = temp_.path() / "fraud.yaml";
  WriteFile(file, Document(3));
  testing::FakeClock clock;
  auto watcher = Watch(clock, {file}, {.resync = seconds(60)});
  Poll();

  clock.Advance(seconds(59));
  Poll();
  EXPECT_TRUE(results_.empty());

  clock.Advance(seconds(1));
  Poll();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(FraudVersion(results_.back()), 3);

  clock.Advance(seconds(60));
  Poll();
  EXPECT_EQ(results_.size(), 2u);
}

// Verifies that the load waits until the burst has been quiet for the debounce time, measured
// from its last event (fake clock, real inotify).
TEST_F(DesiredStateWatcherTest, DebounceCountsFromLastEvent) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(1));
  testing::FakeClock clock;
  auto watcher =
      Watch(clock, {dir}, {.debounce = milliseconds(100), .max_delay = seconds(1), .resync = {}});
  // In-place writes: a rename into place would be loaded at once (see below).
  auto write_in_place = [&](int version) {
    return WriteInPlace(*watcher, dir / "fraud.yaml", version);
  };

  ASSERT_TRUE(write_in_place(2));
  clock.Advance(milliseconds(60));
  Poll();
  ASSERT_TRUE(write_in_place(3));
  clock.Advance(milliseconds(60));  // 120 ms after the first event, 60 ms after the last
  Poll();
  EXPECT_TRUE(results_.empty());

  clock.Advance(milliseconds(40));
  Poll();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(FraudVersion(results_.back()), 3);
}

// Verifies that a rename into place (how git-sync, a ConfigMap and editors publish) is loaded
// at once, without waiting for the debounce (fake clock, real inotify).
TEST_F(DesiredStateWatcherTest, RenameIntoPlaceLoadsAtOnce) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(1));
  testing::FakeClock clock;
  auto watcher =
      Watch(clock, {dir}, {.debounce = milliseconds(100), .max_delay = seconds(1), .resync = {}});
  Poll();
  WriteFile(temp_.path() / "staging.yaml", Document(2));
  fs::rename(temp_.path() / "staging.yaml", dir / "fraud.yaml");
  ASSERT_TRUE(RunUntil([&] { return !results_.empty(); }));  // the fake clock never moved
  EXPECT_EQ(FraudVersion(results_.back()), 2);
}

// Verifies that a burst that never goes quiet is loaded `max_delay` after its first event.
TEST_F(DesiredStateWatcherTest, MaxDelayBoundsEndlessBurst) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(1));
  testing::FakeClock clock;
  auto watcher = Watch(
      clock, {dir}, {.debounce = milliseconds(100), .max_delay = milliseconds(250), .resync = {}});
  auto write_in_place = [&](int version) {
    return WriteInPlace(*watcher, dir / "fraud.yaml", version);
  };

  for (int version = 2; version <= 5; ++version) {  // events at 0, 80, 160 and 240 ms
    ASSERT_TRUE(write_in_place(version));
    clock.Advance(milliseconds(80));
    Poll();
    if (version < 5) {
      EXPECT_TRUE(results_.empty()) << "version " << version;
    }
  }

  ASSERT_EQ(results_.size(), 1u);  // at 250 ms, 10 ms after the last event
  EXPECT_EQ(FraudVersion(results_.back()), 5);
}

// Verifies that writes to names the loader skips (editor scratch files) do not cause a load.
TEST_F(DesiredStateWatcherTest, IgnoresHiddenScratchFiles) {
  const fs::path dir = temp_.path() / "desired";
  WriteFile(dir / "fraud.yaml", Document(3));
  auto watcher = Watch({dir});

  WriteFile(dir / ".fraud.yaml.swp", "scratch");
  WriteFile(dir / "notes.txt", "seen");  // a name the loader would skip too, but not hidden
  ASSERT_TRUE(RunUntil([&] { return !results_.empty(); }));

  EXPECT_EQ(watcher->events(), 2u);  // the creation and the close of notes.txt only
}

}  // namespace
}  // namespace cmlr::daemon
