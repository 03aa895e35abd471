#include "api/api_key.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cmlr::api {
namespace {

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const char* name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

class ApiKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "cmlr-api-key-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }

  std::filesystem::path dir_;
};

// Verifies that the key is read from a file with the trailing newline trimmed.
TEST_F(ApiKeyTest, ReadsKeyFromFile) {
  auto key = LoadApiKey(WriteFile("key", "s3cr3t-key\n"), Env({{"CDSW_APIV2_KEY", "other"}}));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Reveal(), "s3cr3t-key");
}

// Verifies that without a file the key comes from CDSW_APIV2_KEY.
TEST_F(ApiKeyTest, FallsBackToEnvironment) {
  auto key = LoadApiKey("", Env({{"CDSW_APIV2_KEY", "env-key"}}));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->Reveal(), "env-key");
}

// Verifies the errors: missing file, empty key, no key at all, a key with a newline inside;
// none of the messages carries the key.
TEST_F(ApiKeyTest, RejectsBadKeysWithoutShowingThem) {
  auto missing = LoadApiKey((dir_ / "nope").string(), Env({}));
  EXPECT_EQ(missing.status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  EXPECT_EQ(LoadApiKey(WriteFile("empty", "\n"), Env({})).status().code(),
            common::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadApiKey("", Env({})).status().code(), common::StatusCode::kInvalidArgument);
  auto injected = LoadApiKey(WriteFile("two", "abc\r\nX-Evil: 1\n"), Env({}));
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message().find("abc"), std::string::npos);
  EXPECT_EQ(injected.status().message().find("Evil"), std::string::npos);
}

// Verifies that a Secret prints as [redacted] through streams and fmt.
TEST_F(ApiKeyTest, SecretNeverPrints) {
  const Secret secret("top-secret");
  std::ostringstream out;
  out << secret;
  EXPECT_EQ(out.str(), "[redacted]");
  EXPECT_EQ(fmt::format("key={}", secret), "key=[redacted]");
}

// Verifies the base URL: explicit, else https://$CDSW_DOMAIN, else an error.
TEST_F(ApiKeyTest, ResolvesBaseUrl) {
  EXPECT_EQ(*ResolveBaseUrl("https://x.example", Env({{"CDSW_DOMAIN", "y"}})), "https://x.example");
  EXPECT_EQ(*ResolveBaseUrl("", Env({{"CDSW_DOMAIN", "ml-1234.example.site"}})),
            "https://ml-1234.example.site");
  EXPECT_EQ(ResolveBaseUrl("", Env({})).status().code(), common::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cmlr::api
