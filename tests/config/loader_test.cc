#include "config/loader.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/yaml_reader.h"
#include "tests/config/temp_dir.h"

namespace cmlr::config {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Names(const LoadResult& result) {
  std::vector<std::string> names;
  if (result.snapshot == nullptr) return names;
  for (const auto& [name, spec] : result.snapshot->models()) names.push_back(name);
  return names;
}

// Errors as strings, with the temp directory's path cut off.
std::vector<std::string> Errors(const LoadResult& result, const TempDir& dir) {
  std::vector<std::string> out;
  const std::string prefix = dir.path().string() + "/";
  for (const LoadError& error : result.errors) {
    std::string text = error.ToString();
    if (text.rfind(prefix, 0) == 0) text = text.substr(prefix.size());
    out.push_back(text);
  }
  return out;
}

// Verifies that a directory is read recursively: *.yaml and *.yml only, dot names skipped.
TEST(LoaderTest, ReadsDirectoryTree) {
  TempDir dir;
  dir.Write("a.yaml", ValidDocument("a"));
  dir.Write("team/b.yml", ValidDocument("b") + "---\n" + ValidDocument("c"));
  dir.Write("team/deeper/d.yaml", ValidDocument("d"));
  dir.Write("README.md", "not yaml");
  dir.Write("notes.txt", "apiVersion: nonsense");
  dir.Write(".git/config.yaml", "garbage: [");
  dir.Write(".hidden.yaml", "garbage: [");
  dir.Write("team/.draft.yaml", "garbage: [");
  const LoadResult result = LoadDesiredState({dir.path()});
  EXPECT_THAT(Errors(result, dir), IsEmpty());
  EXPECT_THAT(Names(result), ElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(result.files, 3);
  EXPECT_EQ(result.snapshot->Find("c")->source, (dir.path() / "team/b.yml").string() + ":16");
}

// Verifies that files and directories can be mixed, and a file reached twice is read once.
TEST(LoaderTest, ReadsEachFileOnce) {
  TempDir dir;
  const fs::path a = dir.Write("models/a.yaml", ValidDocument("a"));
  const fs::path b = dir.Write("b.txt", ValidDocument("b"));
  fs::create_symlink("a.yaml", dir.path() / "models/alias.yaml");
  const LoadResult result = LoadDesiredState({dir.path() / "models", a, b});
  EXPECT_THAT(Errors(result, dir), IsEmpty());
  EXPECT_THAT(Names(result), ElementsAre("a", "b"));
  EXPECT_EQ(result.files, 2);
}

// Verifies that a tree with no documents is a valid, empty desired state.
TEST(LoaderTest, EmptyTreeIsValid) {
  TempDir dir;
  dir.Write("README.md", "nothing here");
  const LoadResult result = LoadDesiredState({dir.path()});
  ASSERT_NE(result.snapshot, nullptr);
  EXPECT_EQ(result.snapshot->size(), 0u);
  EXPECT_EQ(result.files, 0);
}

// Verifies that every error of every file is reported and no snapshot is made.
TEST(LoaderTest, ReportsErrorsOfAllFiles) {
  TempDir dir;
  dir.Write("a.yaml", ValidDocument("a"));
  const std::string doc = ValidDocument("b");
  dir.Write("b.yaml", std::string(doc).replace(doc.find("cpu: 2"), 6, "cpu: -2"));
  dir.Write("c.yaml", "");
  dir.Write("d.yaml", ValidDocument("a"));
  const LoadResult result = LoadDesiredState({dir.path()});
  EXPECT_EQ(result.snapshot, nullptr);
  EXPECT_THAT(
      Errors(result, dir),
      ElementsAre("b.yaml:13:10: spec.resources.cpu: must be more than 0 and at most 256, got -2",
                  "c.yaml:1:1: file is empty (a truncated write?)",
                  "d.yaml:4:9: metadata.name: duplicate name \"a\"; already defined at " +
                      (dir.path() / "a.yaml").string() + ":4"));
  EXPECT_EQ(result.files, 4);
}

// Verifies that two documents may not drive the same CML model, even with the default name.
TEST(LoaderTest, RefusesTwoDocumentsForOneModel) {
  const std::string a = ValidDocument("a");
  const std::string b = ValidDocument("b");
  const std::string text =
      std::string(a).replace(a.find("  modelName: a-endpoint\n"), 24, "") + "---\n" +
      std::string(b).replace(b.find("modelName: b-endpoint"), 21, "modelName: a");
  const LoadResult result = LoadDesiredStateFromText(text, "f.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].ToString(),
            "f.yaml:21:14: spec.modelName: model \"a\" in project abcd-1234-efgh-5678 is already "
            "driven by \"a\" at f.yaml:4");
}

// Verifies that missing paths, oversized files and FIFOs are errors, and nothing blocks.
TEST(LoaderTest, RefusesBadFiles) {
  TempDir dir;
  const std::string big = ValidDocument("a") + "# " + std::string(kMaxFileBytes, 'x') + "\n";
  dir.Write("big.yaml", big);
  ASSERT_EQ(::mkfifo((dir.path() / "fifo.yaml").c_str(), 0600), 0);
  const LoadResult result = LoadDesiredState({dir.path(), dir.path() / "missing.yaml"});
  EXPECT_EQ(result.snapshot, nullptr);
  EXPECT_THAT(Errors(result, dir),
              ElementsAre("big.yaml:1:1: file is " + std::to_string(big.size()) +
                              " bytes; the limit is 1 MiB (1048576 bytes)",
                          "fifo.yaml:1:1: not a regular file",
                          "missing.yaml:1:1: no such file or directory (or a broken symbolic "
                          "link)"));
}

// Verifies that symbolic link loops are detected, in directories and on files.
TEST(LoaderTest, DetectsSymlinkLoops) {
  TempDir dir;
  dir.Write("models/a.yaml", ValidDocument("a"));
  fs::create_directory_symlink("..", dir.path() / "models/up");
  fs::create_symlink("self.yaml", dir.path() / "self.yaml");
  fs::create_symlink("broken-target.yaml", dir.path() / "broken.yaml");
  fs::create_symlink("nowhere", dir.path() / "ignored.txt");
  const LoadResult result = LoadDesiredState({dir.path()});
  EXPECT_EQ(result.snapshot, nullptr);
  EXPECT_THAT(Errors(result, dir),
              ElementsAre("broken.yaml:1:1: no such file or directory (or a broken symbolic link)",
                          "models/up:1:1: symbolic link loop: this directory contains itself",
                          "self.yaml:1:1: symbolic link loop"));
}

// Verifies that a ConfigMap mount is read through its top-level links only.
TEST(LoaderTest, ReadsConfigMapMount) {
  TempDir dir;
  dir.Write("..2026_11_27_05_00_00.000000001/a.yaml", ValidDocument("a"));
  dir.Write("..2026_11_27_05_00_00.000000001/b.yaml", ValidDocument("b"));
  fs::create_directory_symlink("..2026_11_27_05_00_00.000000001", dir.path() / "..data");
  fs::create_symlink("..data/a.yaml", dir.path() / "a.yaml");
  fs::create_symlink("..data/b.yaml", dir.path() / "b.yaml");
  const LoadResult result = LoadDesiredState({dir.path()});
  EXPECT_THAT(Errors(result, dir), IsEmpty());
  EXPECT_THAT(Names(result), ElementsAre("a", "b"));
  EXPECT_EQ(result.files, 2);
  EXPECT_EQ(result.snapshot->Find("a")->source, (dir.path() / "a.yaml").string() + ":1");
}

// Verifies a git-sync style update: the `root` link is swapped atomically to a new revision,
// and the next load sees exactly the new revision and its changed names.
TEST(LoaderTest, FollowsGitSyncSymlinkSwap) {
  TempDir dir;
  dir.Write(".worktrees/rev1/models/a.yaml", ValidDocument("a"));
  dir.Write(".worktrees/rev1/models/b.yaml", ValidDocument("b"));
  fs::create_directory_symlink(".worktrees/rev1", dir.path() / "root");
  const LoadResult first = LoadDesiredState({dir.path() / "root" / "models"});
  ASSERT_THAT(Errors(first, dir), IsEmpty());
  EXPECT_EQ(first.snapshot->Find("a")->source, (dir.path() / "root/models/a.yaml").string() + ":1");

  const std::string b = ValidDocument("b");
  dir.Write(".worktrees/rev2/models/b.yaml", std::string(b).replace(b.find("cpu: 2"), 6, "cpu: 3"));
  dir.Write(".worktrees/rev2/models/c.yaml", ValidDocument("c"));
  fs::create_directory_symlink(".worktrees/rev2", dir.path() / "root.tmp");
  fs::rename(dir.path() / "root.tmp", dir.path() / "root");  // what git-sync does
  const LoadResult second = LoadDesiredState({dir.path() / "root" / "models"});
  ASSERT_THAT(Errors(second, dir), IsEmpty());
  EXPECT_THAT(Names(second), ElementsAre("b", "c"));
  EXPECT_THAT(Snapshot::ChangedNames(first.snapshot.get(), *second.snapshot),
              ElementsAre("a", "b", "c"));

  // The whole checkout as --desired: the `root` link is followed, `.worktrees` skipped.
  const LoadResult whole = LoadDesiredState({dir.path()});
  ASSERT_THAT(Errors(whole, dir), IsEmpty());
  EXPECT_THAT(Names(whole), ElementsAre("b", "c"));
}

// Verifies that a tree of many files (parsed on several threads) gives every model and every
// error, in file order.
TEST(LoaderTest, LoadsManyFilesInOrder) {
  TempDir dir;
  std::vector<std::string> expected_names;
  for (int i = 0; i < 40; ++i) {
    const std::string name = fmt::format("m{:02}", i);
    dir.Write(fmt::format("f{:02}.yaml", i), ValidDocument(name));
    expected_names.push_back(name);
  }
  const LoadResult good = LoadDesiredState({dir.path()});
  EXPECT_THAT(Errors(good, dir), IsEmpty());
  EXPECT_EQ(Names(good), expected_names);
  EXPECT_EQ(good.files, 40);

  dir.Write("f07.yaml", "");
  dir.Write("f33.yaml", "a: [");
  const LoadResult bad = LoadDesiredState({dir.path()});
  EXPECT_EQ(bad.snapshot, nullptr);
  EXPECT_THAT(Errors(bad, dir),
              ElementsAre("f07.yaml:1:1: file is empty (a truncated write?)",
                          "f33.yaml:1:1: YAML syntax error: end of sequence flow not found"));
}

// Verifies that loading again from unchanged files gives equal digests.
TEST(LoaderTest, ReloadGivesNoChanges) {
  TempDir dir;
  dir.Write("a.yaml", ValidDocument("a"));
  const LoadResult first = LoadDesiredState({dir.path()});
  const LoadResult second = LoadDesiredState({dir.path()});
  ASSERT_NE(first.snapshot, nullptr);
  ASSERT_NE(second.snapshot, nullptr);
  EXPECT_THAT(Snapshot::ChangedNames(first.snapshot.get(), *second.snapshot), IsEmpty());
}

}  // namespace
}  // namespace cmlr::config
