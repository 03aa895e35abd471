#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

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
