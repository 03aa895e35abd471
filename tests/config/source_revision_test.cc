#include "config/source_revision.h"

#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "config/loader.h"
#include "tests/config/temp_dir.h"

namespace cmlr::config {
namespace {

namespace fs = std::filesystem;

constexpr char kCommit[] = "8f2c1e0b7d9a4c6e9f3b2a1d0c8e7f6a5b4c3d2e";

std::optional<std::string> RevisionOf(const fs::path& path) {
  return SourceRevision(path, fs::canonical(path));
}

// Verifies git-sync's layout: a `current` link to a worktree named after the commit, with or
// without the "rev-" prefix, also when the desired state is a folder inside it.
TEST(SourceRevisionTest, ReadsGitSyncWorktreeLinks) {
  TempDir dir;
  dir.Write(std::string(".worktrees/") + kCommit + "/models/a.yaml", "");
  fs::create_directory_symlink(dir.path() / ".worktrees" / kCommit, dir.path() / "current");
  EXPECT_EQ(RevisionOf(dir.path() / "current"), "8f2c1e0b7d9a");
  EXPECT_EQ(RevisionOf(dir.path() / "current" / "models"), "8f2c1e0b7d9a");

  dir.Write("rev-1a2b3c4d5e6f/x.yaml", "");
  fs::create_directory_symlink(dir.path() / "rev-1a2b3c4d5e6f", dir.path() / "link");
  EXPECT_EQ(RevisionOf(dir.path() / "link"), "1a2b3c4d5e6f");
  // Without a link, a folder named like a hash is just a folder.
  EXPECT_EQ(RevisionOf(dir.path() / "rev-1a2b3c4d5e6f"), std::nullopt);
}

// Verifies a plain clone: HEAD naming a branch (loose or packed ref), or a detached commit, in
// or above the desired folder; and a worktree whose .git is a file.
TEST(SourceRevisionTest, ReadsGitHead) {
  TempDir dir;
  dir.Write("repo/.git/HEAD", "ref: refs/heads/main\n");
  dir.Write("repo/.git/refs/heads/main", std::string(kCommit) + "\n");
  dir.Write("repo/models/a.yaml", "");
  EXPECT_EQ(RevisionOf(dir.path() / "repo" / "models"), "8f2c1e0b7d9a");

  dir.Write("packed/.git/HEAD", "ref: refs/heads/release\n");
  dir.Write("packed/.git/packed-refs", std::string("# pack-refs with: peeled\n") +
                                           "0123456789abcdef0123 refs/heads/main\n" +
                                           "fedcba9876543210fedc refs/heads/release\n");
  EXPECT_EQ(RevisionOf(dir.path() / "packed"), "fedcba987654");

  dir.Write("detached/.git/HEAD", std::string(kCommit) + "\n");
  EXPECT_EQ(RevisionOf(dir.path() / "detached"), "8f2c1e0b7d9a");

  dir.Write("repo/.git/worktrees/wt/HEAD", "ref: refs/heads/main\n");
  dir.Write("repo/.git/worktrees/wt/commondir", "../..\n");
  dir.Write("wt/.git", "gitdir: " + (dir.path() / "repo/.git/worktrees/wt").string() + "\n");
  EXPECT_EQ(RevisionOf(dir.path() / "wt"), "8f2c1e0b7d9a");
}

// Verifies the REVISION file, and nothing when there is no source of a revision.
TEST(SourceRevisionTest, ReadsRevisionFileElseNothing) {
  TempDir dir;
  dir.Write("plain/REVISION", "v1.4.2-3-gabc\n");
  dir.Write("plain/a.yaml", "");
  EXPECT_EQ(RevisionOf(dir.path() / "plain"), "v1.4.2-3-gabc");
  EXPECT_EQ(RevisionOf(dir.path() / "plain" / "a.yaml"), "v1.4.2-3-gabc");
  dir.Write("none/a.yaml", "");
  EXPECT_EQ(RevisionOf(dir.path() / "none"), std::nullopt);
}

// Verifies that a load carries the revision, in the snapshot and for a rejected tree too.
TEST(SourceRevisionTest, LoadsCarryTheRevision) {
  TempDir dir;
  dir.Write("REVISION", "abc1234\n");
  dir.Write("a.yaml", ValidDocument("a"));
  LoadResult good = LoadDesiredState({dir.path()});
  ASSERT_TRUE(good.snapshot);
  EXPECT_EQ(good.snapshot->revision(), "abc1234");
  dir.Write("b.yaml", "not: valid\n");
  LoadResult bad = LoadDesiredState({dir.path()});
  EXPECT_FALSE(bad.snapshot);
  EXPECT_EQ(bad.revision, "abc1234");
}

}  // namespace
}  // namespace cmlr::config
