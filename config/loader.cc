#include "config/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "config/source_revision.h"
#include "config/spec_parser.h"
#include "config/yaml_reader.h"

namespace cmlr::config {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxDirectoryDepth = 64;
constexpr std::size_t kMaxParseThreads = 4;
constexpr std::size_t kFilesPerThread = 8;

using FileId = std::pair<dev_t, ino_t>;

bool HasYamlName(const std::string& name) {
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

// A file read, or a problem found where a file or directory was expected.
struct SourceFile {
  std::string name;  // as shown in errors
  std::string text;
  std::optional<LoadError> error;
};

// Walks the given paths and reads the files, collecting errors instead of stopping.
class TreeReader {
 public:
  std::vector<SourceFile>& files() { return files_; }
  // The source revision of the first path read.
  const std::optional<std::string>& revision() const { return revision_; }

  void ReadPath(const fs::path& path) {
    const std::string name = path.string();
    struct stat info {};
    if (::stat(name.c_str(), &info) != 0) {
      FileError(name, StatErrorMessage(errno));
      return;
    }
    // Resolve a top-level link once, so a git-sync swap during the walk cannot mix revisions
    // (nor the revision read from the link with the files read).
    std::error_code ec;
    fs::path real = fs::canonical(path, ec);
    if (ec) real = path;
    if (!revision_read_) {
      revision_ = SourceRevision(path, real);
      revision_read_ = true;
    }
    if (S_ISDIR(info.st_mode)) {
      std::vector<FileId> ancestors;
      WalkDirectory(real, name, info, ancestors, 0);
    } else if (S_ISREG(info.st_mode)) {
      ReadFile(name, name);
    } else {
      FileError(name, "not a regular file or directory");
    }
  }

 private:
  static std::string StatErrorMessage(int error) {
    switch (error) {
      case ELOOP:
        return "symbolic link loop";
      case ENOENT:
        return "no such file or directory (or a broken symbolic link)";
      default:
        return std::strerror(error);
    }
  }

  void FileError(const std::string& name, std::string message) {
    files_.push_back(SourceFile{
        .name = name,
        .text = {},
        .error = LoadError{
            .file = name, .line = 1, .column = 1, .path = "", .message = std::move(message)}});
  }

  // `real` is the directory to read, `shown` the name used in messages.
  void WalkDirectory(const fs::path& real, const std::string& shown, const struct stat& info,
                     std::vector<FileId>& ancestors, int depth) {
    const FileId id{info.st_dev, info.st_ino};
    if (std::find(ancestors.begin(), ancestors.end(), id) != ancestors.end()) {
      FileError(shown, "symbolic link loop: this directory contains itself");
      return;
    }
    if (!visited_.insert(id).second) return;  // reached before by another route
    if (depth > kMaxDirectoryDepth) {
      FileError(shown, fmt::format("directories nested deeper than {}", kMaxDirectoryDepth));
      return;
    }
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(real, ec), end; !ec && it != end; it.increment(ec)) {
      std::string entry = it->path().filename().string();
      if (!entry.empty() && entry[0] != '.') names.push_back(std::move(entry));
    }
    if (ec) {
      FileError(shown, "cannot read directory: " + ec.message());
      return;
    }
    std::sort(names.begin(), names.end());
    ancestors.push_back(id);
    for (const std::string& entry : names) {
      const fs::path real_child = real / entry;
      const std::string shown_child = (fs::path(shown) / entry).string();
      struct stat child {};
      if (::stat(real_child.c_str(), &child) != 0) {
        const int error = errno;
        // A broken link or loop that does not look like desired state is none of our business.
        if (HasYamlName(entry) || error == ELOOP) FileError(shown_child, StatErrorMessage(error));
        continue;
      }
      if (S_ISDIR(child.st_mode)) {
        WalkDirectory(real_child, shown_child, child, ancestors, depth + 1);
      } else if (HasYamlName(entry)) {
        if (S_ISREG(child.st_mode)) {
          ReadFile(real_child.string(), shown_child);
        } else {
          FileError(shown_child, "not a regular file");
        }
      }
    }
    ancestors.pop_back();
  }

  void ReadFile(const std::string& real, const std::string& shown) {
    // O_NONBLOCK: a FIFO swapped in after the stat() must not hang the load.
    const int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      FileError(shown, StatErrorMessage(errno));
      return;
    }
    std::string text;
    std::string error;
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      error = std::strerror(errno);
    } else if (!S_ISREG(info.st_mode)) {
      error = "not a regular file";
    } else if (!read_files_.insert(FileId{info.st_dev, info.st_ino}).second) {
      ::close(fd);
      return;  // the same file through another name
    } else if (static_cast<std::size_t>(info.st_size) > kMaxFileBytes) {
      error = fmt::format("file is {} bytes; the limit is 1 MiB ({} bytes)", info.st_size,
                          kMaxFileBytes);
    } else {
      // Read at most one byte past the limit, in case the file grew since fstat().
      text.resize(static_cast<std::size_t>(info.st_size) + 1);
      std::size_t size = 0;
      while (size < kMaxFileBytes + 1) {
        if (size == text.size()) text.resize(std::min(text.size() * 2, kMaxFileBytes + 1));
        const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          error = std::strerror(errno);
          break;
        }
        if (n == 0) break;
        size += static_cast<std::size_t>(n);
      }
      text.resize(size);
      if (error.empty() && size > kMaxFileBytes) {
        error = fmt::format("file is larger than the limit of 1 MiB ({} bytes)", kMaxFileBytes);
      }
    }
    ::close(fd);
    if (!error.empty()) {
      FileError(shown, std::move(error));
      return;
    }
    files_.push_back(SourceFile{.name = shown, .text = std::move(text), .error = {}});
  }

  std::vector<SourceFile> files_;
  std::optional<std::string> revision_;
  bool revision_read_ = false;
  std::set<FileId> visited_;
  std::set<FileId> read_files_;
};

std::string Place(const std::string& file, int line) { return fmt::format("{}:{}", file, line); }

// Parses the files, on a few threads when there are many: parsing is a pure function of each
// file's text, and yaml-cpp dominates the time of a load.
std::vector<ParsedFile> ParseAll(const std::vector<SourceFile>& files) {
  std::vector<ParsedFile> parsed(files.size());
  const auto parse_from = [&](std::size_t first, std::size_t stride) {
    for (std::size_t i = first; i < files.size(); i += stride) {
      if (!files[i].error) parsed[i] = ParseDesiredStateText(files[i].text, files[i].name);
    }
  };
  const std::size_t threads =
      files.size() < kFilesPerThread
          ? 1
          : std::min<std::size_t>({kMaxParseThreads, files.size() / kFilesPerThread,
                                   std::max(1u, std::thread::hardware_concurrency())});
  std::vector<std::thread> workers;
  try {
    for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(parse_from, t, threads);
  } catch (const std::system_error&) {
    // No more threads to be had: the slots of the missing ones are parsed on this one.
  }
  for (std::size_t t = 0; t < threads; ++t) {
    if (t == 0 || t > workers.size()) parse_from(t, threads);
  }
  for (std::thread& worker : workers) worker.join();
  return parsed;
}

// Parses every file, then runs the checks across documents and builds the snapshot.
LoadResult Assemble(std::vector<SourceFile> files, std::optional<std::string> revision) {
  LoadResult result;
  result.revision = revision;
  std::vector<LoadError> errors;
  struct Seen {
    std::string file;
    int line;
  };
  std::map<std::string, Seen> names;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, Seen>> model_names;
  std::vector<ModelDeploymentSpec> specs;
  std::vector<ParsedFile> parsed_files = ParseAll(files);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const SourceFile& file = files[i];
    if (file.error) {
      errors.push_back(*file.error);
      continue;
    }
    ++result.files;
    ParsedFile& parsed = parsed_files[i];
    std::vector<LoadError> file_errors = std::move(parsed.errors);
    for (ParsedDocument& doc : parsed.documents) {
      if (!doc.name.empty()) {
        const auto [it, inserted] = names.try_emplace(doc.name, Seen{file.name, doc.name_line});
        if (!inserted) {
          file_errors.push_back(
              LoadError{.file = file.name,
                        .line = doc.name_line,
                        .column = doc.name_column,
                        .path = "metadata.name",
                        .message = fmt::format("duplicate name \"{}\"; already defined at {}",
                                               doc.name, Place(it->second.file, it->second.line))});
          doc.spec.reset();
        }
      }
      if (!doc.project_id.empty() && !doc.model_name.empty() && !doc.name.empty()) {
        const auto [it, inserted] =
            model_names.try_emplace(std::pair{doc.project_id, doc.model_name},
                                    std::pair{doc.name, Seen{file.name, doc.model_name_line}});
        if (!inserted && it->second.first != doc.name) {
          file_errors.push_back(LoadError{
              .file = file.name,
              .line = doc.model_name_line,
              .column = doc.model_name_column,
              .path = "spec.modelName",
              .message = fmt::format("model \"{}\" in project {} is already driven by \"{}\" at {}",
                                     doc.model_name, doc.project_id, it->second.first,
                                     Place(it->second.second.file, it->second.second.line))});
          doc.spec.reset();
        }
      }
      if (doc.spec) specs.push_back(std::move(*doc.spec));
    }
    std::stable_sort(file_errors.begin(), file_errors.end(),
                     [](const LoadError& a, const LoadError& b) {
                       return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                     });
    errors.insert(errors.end(), std::make_move_iterator(file_errors.begin()),
                  std::make_move_iterator(file_errors.end()));
  }
  if (!errors.empty()) {
    result.errors = std::move(errors);
    return result;
  }
  auto snapshot = Snapshot::Create(std::move(specs), std::move(revision));
  if (!snapshot.ok()) {
    // Unreachable: names were checked above. Kept so that no path yields a bad snapshot.
    result.errors.push_back(LoadError{
        .file = "", .line = 1, .column = 1, .path = "", .message = snapshot.status().message()});
    return result;
  }
  result.snapshot = std::move(snapshot).value();
  return result;
}

}  // namespace

LoadResult LoadDesiredState(const std::vector<std::filesystem::path>& paths) {
  TreeReader reader;
  for (const auto& path : paths) reader.ReadPath(path);
  return Assemble(std::move(reader.files()), reader.revision());
}

LoadResult LoadDesiredStateFromText(std::string_view text, const std::string& file) {
  std::vector<SourceFile> files;
  files.push_back(SourceFile{.name = file, .text = std::string(text), .error = {}});
  return Assemble(std::move(files), std::nullopt);
}

}  // namespace cmlr::config
