#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace cmlr::config {

// The commit a desired-state path comes from (design section 12), found without running git:
//   1. when `given` reached `resolved` (its canonical path) through a symbolic link, the
//      innermost component of `resolved` named like a commit (`<hash>` or `rev-<hash>`, hex
//      of 7 to 64 digits): git-sync's worktree behind its `current` link;
//   2. else `.git/HEAD` in or above `resolved` (a worktree's `.git` file is followed), and the
//      ref it names (loose, or in packed-refs): the commit, shortened to 12 digits;
//   3. else the first line of a `REVISION` file in `resolved` (or beside it, for a file);
//   4. else nullopt.
// Never throws; unreadable files count as absent.
std::optional<std::string> SourceRevision(const std::filesystem::path& given,
                                          const std::filesystem::path& resolved);

}  // namespace cmlr::config
