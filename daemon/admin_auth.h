#pragma once

#include <sys/types.h>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "common/status.h"

namespace cmlr::daemon {

// Who may call the daemon's POST endpoints (design section 7, contract). Without a token file
// only loopback peers are accepted. With one (--admin-token-file), every caller must send
// `Authorization: Bearer <token>`, compared in constant time; the file is re-read when it
// changes (a rotated Kubernetes Secret), keeping the last good token when the new content is
// unreadable or empty. Used on the io_context thread only.
class AdminAuth {
 public:
  enum class Decision {
    kAllowed,
    kUnauthenticated,  // answer 401 with WWW-Authenticate: Bearer
    kForbidden,        // answer 403: not a loopback peer, and no token file
  };

  // Loopback peers only.
  AdminAuth() = default;

  // What --admin-token-file asks for: loopback only when `token_file` is empty, else
  // FromTokenFile(token_file).
  [[nodiscard]] static common::StatusOr<AdminAuth> FromFlag(std::string token_file);

  // Reads the token (surrounding whitespace trimmed). INVALID_ARGUMENT when the file cannot be
  // read or holds no token: start-up fails rather than leave the endpoints open.
  [[nodiscard]] static common::StatusOr<AdminAuth> FromTokenFile(std::string path);

  // `authorization`: the request's Authorization header ("" when absent); `peer`: the address
  // the server saw (never a header).
  Decision Check(std::string_view authorization, const boost::asio::ip::address& peer);

  bool token_required() const { return !path_.empty(); }

 private:
  // What identifies one version of the file, so that each check costs a stat() only.
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    long long mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };

  static std::optional<FileStamp> StampOf(const std::string& path);
  void ReloadIfChanged();

  std::string path_;
  std::string token_;
  FileStamp stamp_;
};

// True when `authorization` is "Bearer <token>" (scheme case-insensitive) with exactly
// `token`, compared in constant time. An empty `token` never matches.
bool BearerMatches(std::string_view authorization, std::string_view token);

}  // namespace cmlr::daemon
