#include "api/api_key.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace cmlr::api {

namespace {

constexpr std::size_t kMaxKeyBytes = 64 * 1024;

std::string Trim(std::string_view text) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

common::StatusOr<Secret> CheckKey(std::string key, const std::string& source) {
  key = Trim(key);
  if (key.empty()) return common::InvalidArgumentError("API key from " + source + " is empty");
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f) {
      return common::InvalidArgumentError("API key from " + source +
                                          " holds whitespace or control characters");
    }
  }
  return Secret(std::move(key));
}

common::StatusOr<Secret> ReadKeyFile(const std::string& key_file) {
  std::ifstream in(key_file, std::ios::binary);
  if (!in) return common::InvalidArgumentError("cannot read API key file " + key_file);
  std::string content;
  content.resize(kMaxKeyBytes + 1);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return common::InvalidArgumentError("cannot read API key file " + key_file);
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > kMaxKeyBytes) {
    return common::InvalidArgumentError("API key file " + key_file + " is too large");
  }
  return CheckKey(std::move(content), "file " + key_file);
}

}  // namespace

std::optional<std::string> SystemEnv(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

common::StatusOr<Secret> LoadApiKey(const std::string& key_file, const EnvLookup& env) {
  if (!key_file.empty()) return ReadKeyFile(key_file);
  std::optional<std::string> value = env("CDSW_APIV2_KEY");
  if (!value.has_value()) {
    return common::InvalidArgumentError(
        "no API key: give a key file or set the environment variable CDSW_APIV2_KEY");
  }
  return CheckKey(std::move(*value), "environment variable CDSW_APIV2_KEY");
}

ApiKeySource::ApiKeySource(Secret key) : key_(std::move(key)) {}

common::StatusOr<std::shared_ptr<ApiKeySource>> ApiKeySource::Create(
    const std::string& key_file, const common::Clock& clock, std::shared_ptr<spdlog::logger> logger,
    const EnvLookup& env, common::Duration check_interval) {
  if (key_file.empty()) {
    CMLR_ASSIGN_OR_RETURN(Secret key, LoadApiKey(key_file, env));
    return std::make_shared<ApiKeySource>(std::move(key));
  }
  // The identity first: a change between the stat and the read is seen at the next look.
  const std::optional<FileIdentity> identity = Stat(key_file);
  CMLR_ASSIGN_OR_RETURN(Secret key, ReadKeyFile(key_file));
  auto source = std::make_shared<ApiKeySource>(std::move(key));
  source->file_ = key_file;
  source->clock_ = &clock;
  source->logger_ = std::move(logger);
  source->check_interval_ = check_interval;
  source->last_check_ = clock.Now();
  source->identity_ = identity;
  return source;
}

std::optional<ApiKeySource::FileIdentity> ApiKeySource::Stat(const std::string& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return std::nullopt;  // follows symlinks
  return FileIdentity{.device = static_cast<std::uint64_t>(info.st_dev),
                      .inode = static_cast<std::uint64_t>(info.st_ino),
                      .size = static_cast<std::int64_t>(info.st_size),
                      .mtime_ns = static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                                  static_cast<std::int64_t>(info.st_mtim.tv_nsec)};
}

const Secret& ApiKeySource::Current() {
  if (!file_.empty() && clock_->Now() - last_check_ >= check_interval_) Refresh();
  return key_;
}

bool ApiKeySource::Refresh() {
  if (file_.empty()) return false;
  last_check_ = clock_->Now();
  const std::optional<FileIdentity> identity = Stat(file_);
  if (!identity.has_value()) {
    const int error = errno;
    if (identity_.has_value() && logger_ != nullptr) {
      logger_->warn("Cannot see the API key file, keeping the current key file={} error=\"{}\"",
                    file_, std::strerror(error));  // NOLINT(concurrency-mt-unsafe): one thread
    }
    identity_ = std::nullopt;
    return false;
  }
  if (identity_ == identity) return false;
  identity_ = identity;
  common::StatusOr<Secret> key = ReadKeyFile(file_);
  if (!key.ok()) {
    // The status names the file and the problem, never the key.
    if (logger_ != nullptr) {
      logger_->warn("Kept the current API key file={} error=\"{}\"", file_, key.status().message());
    }
    return false;
  }
  if (key->Reveal() == key_.Reveal()) return false;
  previous_ = std::exchange(key_, std::move(*key));
  ++generation_;
  if (logger_ != nullptr) {
    logger_->info("Reloaded the API key file={} generation={}", file_, generation_);
  }
  return true;
}

std::string ApiKeySource::Redact(std::string text) const {
  for (const Secret* key : {&key_, &previous_}) {
    const std::string& value = key->Reveal();
    if (value.size() < 4) continue;
    for (std::size_t at = text.find(value); at != std::string::npos;
         at = text.find(value, at + 10)) {
      text.replace(at, value.size(), "[redacted]");
    }
  }
  return text;
}

common::StatusOr<std::string> ResolveBaseUrl(const std::string& url, const EnvLookup& env) {
  if (!url.empty()) return url;
  std::optional<std::string> domain = env("CDSW_DOMAIN");
  if (!domain.has_value() || Trim(*domain).empty()) {
    return common::InvalidArgumentError(
        "no CML URL: give one or set the environment variable CDSW_DOMAIN");
  }
  return "https://" + Trim(*domain);
}

}  // namespace cmlr::api
