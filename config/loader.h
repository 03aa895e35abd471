#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_error.h"
#include "config/snapshot.h"

namespace cmlr::config {

struct LoadResult {
  std::shared_ptr<const Snapshot> snapshot;  // null when there is any error
  std::vector<LoadError> errors;             // every error of every file, in file order
  int files = 0;                             // files read
  // The commit the first path comes from (source_revision.h), found for a rejected load too.
  std::optional<std::string> revision;
};

// Loads the desired state from every path, each a file or a directory: either a complete
// snapshot and no error, or every error found and no snapshot (design section 3).
//
// A file is read whatever its name; a directory is walked recursively in name order, reading
// `*.yaml` and `*.yml` files and skipping every name that starts with '.' (`.git`, and the
// `..data` internals of a ConfigMap mount, whose top-level links are followed). Symbolic links
// are followed; a link loop, a broken link with a YAML name, a file over kMaxFileBytes (1 MiB)
// and anything but a regular file are errors. A file reached twice (two links, or a file also
// named inside a given directory) is read once. A directory given as a symbolic link (git-sync's
// `root` link) is resolved once at the start, so one load never mixes two revisions.
//
// Besides the rules of each document, checks across documents: metadata.name is unique, and no
// two documents drive the same CML model (projectId and modelName). With no documents at all
// the snapshot is valid and empty. Never throws; the caller decides what to do with errors
// (the daemon keeps its last good snapshot).
LoadResult LoadDesiredState(const std::vector<std::filesystem::path>& paths);

// The same for text that is not in a file (tests, stdin): `file` names it in errors.
LoadResult LoadDesiredStateFromText(std::string_view text, const std::string& file);

}  // namespace cmlr::config
