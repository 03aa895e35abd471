#include "api/api_key.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

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

}  // namespace

std::optional<std::string> SystemEnv(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

common::StatusOr<Secret> LoadApiKey(const std::string& key_file, const EnvLookup& env) {
  if (!key_file.empty()) {
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
  std::optional<std::string> value = env("CDSW_APIV2_KEY");
  if (!value.has_value()) {
    return common::InvalidArgumentError(
        "no API key: give a key file or set the environment variable CDSW_APIV2_KEY");
  }
  return CheckKey(std::move(*value), "environment variable CDSW_APIV2_KEY");
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
