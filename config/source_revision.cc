#include "config/source_revision.h"

#include <fstream>
#include <system_error>

namespace cmlr::config {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kShortHash = 12;

bool IsHash(std::string_view text) {
  if (text.size() < 7 || text.size() > 64) return false;
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The hash a git-sync worktree directory is named after, or "".
std::string WorktreeHash(const std::string& name) {
  const std::string_view view = name;
  if (IsHash(view)) return name;
  if (view.starts_with("rev-") && IsHash(view.substr(4))) return name.substr(4);
  return "";
}

std::optional<std::string> FirstLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty() || line.size() > 200) return std::nullopt;
  return line;
}

std::string Short(const std::string& hash) {
  return hash.size() > kShortHash ? hash.substr(0, kShortHash) : hash;
}

// The git directory of the repository that holds `dir`, or "".
fs::path GitDir(fs::path dir) {
  std::error_code ec;
  for (; !dir.empty(); dir = dir.parent_path()) {
    const fs::path dot_git = dir / ".git";
    if (fs::is_directory(dot_git, ec)) return dot_git;
    if (fs::is_regular_file(dot_git, ec)) {  // a worktree: "gitdir: PATH"
      const std::optional<std::string> line = FirstLine(dot_git);
      if (line && line->starts_with("gitdir: ")) {
        fs::path target = line->substr(8);
        return target.is_absolute() ? target : dir / target;
      }
    }
    if (dir == dir.root_path()) break;
  }
  return {};
}

std::optional<std::string> RefCommit(const fs::path& git_dir, const std::string& ref) {
  if (const auto loose = FirstLine(git_dir / ref); loose && IsHash(*loose)) return *loose;
  // A worktree's refs live in the main repository ("commondir"), packed or loose.
  fs::path common = git_dir;
  if (const auto commondir = FirstLine(git_dir / "commondir")) {
    common = fs::path(*commondir).is_absolute() ? fs::path(*commondir) : git_dir / *commondir;
    if (const auto loose = FirstLine(common / ref); loose && IsHash(*loose)) return *loose;
  }
  std::ifstream packed(common / "packed-refs");
  for (std::string line; std::getline(packed, line);) {
    const auto space = line.find(' ');
    if (space != std::string::npos && line.substr(space + 1) == ref &&
        IsHash(line.substr(0, space))) {
      return line.substr(0, space);
    }
  }
  return std::nullopt;
}

std::optional<std::string> GitHead(const fs::path& dir) {
  const fs::path git_dir = GitDir(dir);
  if (git_dir.empty()) return std::nullopt;
  const std::optional<std::string> head = FirstLine(git_dir / "HEAD");
  if (!head) return std::nullopt;
  if (IsHash(*head)) return Short(*head);
  if (!head->starts_with("ref: ")) return std::nullopt;
  const std::optional<std::string> commit = RefCommit(git_dir, head->substr(5));
  return commit ? std::optional<std::string>(Short(*commit)) : std::nullopt;
}

}  // namespace

std::optional<std::string> SourceRevision(const fs::path& given, const fs::path& resolved) {
  std::error_code ec;
  const fs::path dir = fs::is_directory(resolved, ec) ? resolved : resolved.parent_path();
  if (fs::absolute(given, ec).lexically_normal() != resolved.lexically_normal()) {
    for (fs::path p = resolved; !p.empty() && p != p.root_path(); p = p.parent_path()) {
      if (std::string hash = WorktreeHash(p.filename().string()); !hash.empty()) {
        return Short(hash);
      }
    }
  }
  if (auto head = GitHead(dir)) return head;
  return FirstLine(dir / "REVISION");
}

}  // namespace cmlr::config
