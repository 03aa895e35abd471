#include "daemon/admin_auth.h"

#include <sys/stat.h>
#include <array>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace cmlr::daemon {

namespace {

std::string_view Trim(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  std::string token(Trim(text.str()));
  if (token.empty()) return std::nullopt;
  return token;
}

// SHA-256 first, so that the comparison takes the same time whatever the lengths.
std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace

bool BearerMatches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  authorization = Trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  const char separator = authorization[kScheme.size()];
  if (separator != ' ' && separator != '\t') return false;
  const std::string_view presented = Trim(authorization.substr(kScheme.size()));
  const auto a = Sha256(presented), b = Sha256(token);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<AdminAuth::FileStamp> AdminAuth::StampOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return FileStamp{.device = info.st_dev,
                   .inode = info.st_ino,
                   .size = info.st_size,
                   .mtime_ns = static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL +
                               info.st_mtim.tv_nsec};
}

common::StatusOr<AdminAuth> AdminAuth::FromFlag(std::string token_file) {
  if (token_file.empty()) return AdminAuth();
  return FromTokenFile(std::move(token_file));
}

common::StatusOr<AdminAuth> AdminAuth::FromTokenFile(std::string path) {
  AdminAuth auth;
  auth.path_ = std::move(path);
  const std::optional<FileStamp> stamp = StampOf(auth.path_);
  std::optional<std::string> token = stamp ? ReadToken(auth.path_) : std::nullopt;
  if (!token) {
    return common::InvalidArgumentError(
        fmt::format("--admin-token-file {}: cannot be read or holds no token", auth.path_));
  }
  auth.token_ = std::move(*token);
  auth.stamp_ = *stamp;
  return auth;
}

void AdminAuth::ReloadIfChanged() {
  // A file gone for a moment, half-written or emptied keeps the last good token; the next
  // check looks again.
  const std::optional<FileStamp> stamp = StampOf(path_);
  if (!stamp || *stamp == stamp_) return;
  std::optional<std::string> token = ReadToken(path_);
  if (!token) return;
  token_ = std::move(*token);
  stamp_ = *stamp;
}

AdminAuth::Decision AdminAuth::Check(std::string_view authorization,
                                     const boost::asio::ip::address& peer) {
  if (!token_required()) return peer.is_loopback() ? Decision::kAllowed : Decision::kForbidden;
  ReloadIfChanged();
  return BearerMatches(authorization, token_) ? Decision::kAllowed : Decision::kUnauthenticated;
}

}  // namespace cmlr::daemon
