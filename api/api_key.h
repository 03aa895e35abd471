#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "common/clock.h"
#include "common/status.h"

namespace cmlr::api {

// A value that must never be printed: the CML API v2 key. Streaming or fmt-formatting it shows
// "[redacted]"; only Reveal() gives the text, for the one place that builds the
// Authorization header.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "[redacted]"; }

 private:
  std::string value_;
};

// Reads an environment variable; std::nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> SystemEnv(const char* name);

// The APIv2 key: from `key_file` when it is not empty (surrounding whitespace and the trailing
// newline trimmed), else from the environment variable CDSW_APIV2_KEY.
// INVALID_ARGUMENT when the file cannot be read, when the key is empty, or when it holds
// characters that cannot go into an HTTP header; the message names the file or the variable,
// never the key.
[[nodiscard]] common::StatusOr<Secret> LoadApiKey(const std::string& key_file,
                                                  const EnvLookup& env = SystemEnv);

// Where the clients take the key from, each time they send it. A file-backed source re-reads
// the file when it changed (a rotated Kubernetes Secret: the kubelet swaps the `..data`
// symlink, which stat follows), so a new key takes effect without a restart; an environment or
// fixed key never changes. Used on one thread (the io_context's), like the clients.
class ApiKeySource {
 public:
  // A key that never changes (the environment variable; tests).
  explicit ApiKeySource(Secret key);

  // LoadApiKey's choice: the file when `key_file` is not empty (re-read when it changes, looked
  // at most once per `check_interval` of `clock`), else CDSW_APIV2_KEY (fixed). Fails like
  // LoadApiKey when the first read does. `clock` and `logger` (may be null: no log lines) must
  // outlive the source.
  [[nodiscard]] static common::StatusOr<std::shared_ptr<ApiKeySource>> Create(
      const std::string& key_file, const common::Clock& clock,
      std::shared_ptr<spdlog::logger> logger, const EnvLookup& env = SystemEnv,
      common::Duration check_interval = std::chrono::seconds(1));

  // The key to send now. For a file, first Refresh() when `check_interval` has passed since
  // the last look.
  const Secret& Current();

  // Looks at the file now (a no-op for a fixed key): stat (device, inode, size, mtime) and, when
  // that changed, a re-read. A readable, valid new key replaces the current one; an empty,
  // unreadable or invalid file keeps the last good key and logs one warning per change of the
  // file (never the key). Returns true when the key changed.
  bool Refresh();

  // 0 for the first key, +1 each time a different key was loaded.
  std::uint64_t generation() const { return generation_; }

  // The file, or "" for a fixed key.
  const std::string& file() const { return file_; }

  // `text` with every occurrence of the current and the previous key replaced by "[redacted]"
  // (keys shorter than 4 characters are left alone).
  std::string Redact(std::string text) const;

 private:
  // Whether the file is the same one with the same content, as far as stat can tell.
  struct FileIdentity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = -1;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
  };
  static std::optional<FileIdentity> Stat(const std::string& file);

  Secret key_;
  Secret previous_;
  std::uint64_t generation_ = 0;
  std::string file_;
  const common::Clock* clock_ = nullptr;
  std::shared_ptr<spdlog::logger> logger_;
  common::Duration check_interval_{};
  common::TimePoint last_check_{};
  std::optional<FileIdentity> identity_;  // of the file last looked at; nullopt: stat failed
};

// `url` when it is not empty, else "https://" + $CDSW_DOMAIN. INVALID_ARGUMENT when neither is
// set.
[[nodiscard]] common::StatusOr<std::string> ResolveBaseUrl(const std::string& url,
                                                           const EnvLookup& env = SystemEnv);

}  // namespace cmlr::api

template <>
struct fmt::formatter<cmlr::api::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const cmlr::api::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format("[redacted]", ctx);
  }
};
