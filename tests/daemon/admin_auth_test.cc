#include "daemon/admin_auth.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <stdlib.h>

namespace cmlr::daemon {
namespace {

namespace fs = std::filesystem;
using Decision = AdminAuth::Decision;

boost::asio::ip::address Address(const char* text) { return boost::asio::ip::make_address(text); }

class AdminAuthTest : public ::testing::Test {
 protected:
  AdminAuthTest() {
    std::string pattern = (fs::temp_directory_path() / "cmlr-admin-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  ~AdminAuthTest() override { fs::remove_all(dir_); }

  // Writes a new file and renames it over `token`, the way a Secret or an editor replaces it.
  fs::path WriteToken(const std::string& text) {
    const fs::path temp = dir_ / ".token.tmp";
    std::ofstream(temp) << text;
    fs::rename(temp, token_file());
    return token_file();
  }
  fs::path token_file() const { return dir_ / "token"; }

  fs::path dir_;
};

// Verifies that without a token file only loopback peers (IPv4 and IPv6) are allowed.
TEST_F(AdminAuthTest, AllowsOnlyLoopbackWithoutTokenFile) {
  AdminAuth auth;
  EXPECT_FALSE(auth.token_required());
  EXPECT_EQ(auth.Check("", Address("127.0.0.1")), Decision::kAllowed);
  EXPECT_EQ(auth.Check("", Address("127.0.0.53")), Decision::kAllowed);
  EXPECT_EQ(auth.Check("", Address("::1")), Decision::kAllowed);
  EXPECT_EQ(auth.Check("", Address("10.1.2.3")), Decision::kForbidden);
  EXPECT_EQ(auth.Check("Bearer anything", Address("10.1.2.3")), Decision::kForbidden);
  EXPECT_EQ(auth.Check("", Address("0.0.0.0")), Decision::kForbidden);  // unknown peer
}

// Verifies that with a token file every peer, loopback included, needs the exact bearer token,
// the file's surrounding whitespace trimmed.
TEST_F(AdminAuthTest, RequiresBearerTokenFromEveryPeer) {
  auto auth = AdminAuth::FromTokenFile(WriteToken("  s3cret-token\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->token_required());
  EXPECT_EQ(auth->Check("Bearer s3cret-token", Address("10.1.2.3")), Decision::kAllowed);
  EXPECT_EQ(auth->Check("bearer  s3cret-token ", Address("127.0.0.1")), Decision::kAllowed);
  EXPECT_EQ(auth->Check("", Address("127.0.0.1")), Decision::kUnauthenticated);
  EXPECT_EQ(auth->Check("Bearer s3cret-toke", Address("127.0.0.1")), Decision::kUnauthenticated);
  EXPECT_EQ(auth->Check("Bearer s3cret-token2", Address("127.0.0.1")), Decision::kUnauthenticated);
  EXPECT_EQ(auth->Check("Basic s3cret-token", Address("127.0.0.1")), Decision::kUnauthenticated);
  EXPECT_EQ(auth->Check("Bearers3cret-token", Address("127.0.0.1")), Decision::kUnauthenticated);
  EXPECT_EQ(auth->Check("Bearer ", Address("127.0.0.1")), Decision::kUnauthenticated);
}

// Verifies that a replaced token file takes effect on the next check, and that an emptied or
// vanished file keeps the last good token.
TEST_F(AdminAuthTest, ReloadsChangedTokenFile) {
  auto auth = AdminAuth::FromTokenFile(WriteToken("first"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->Check("Bearer first", Address("127.0.0.1")), Decision::kAllowed);
  WriteToken("second-token\n");
  EXPECT_EQ(auth->Check("Bearer first", Address("127.0.0.1")), Decision::kUnauthenticated);
  EXPECT_EQ(auth->Check("Bearer second-token", Address("127.0.0.1")), Decision::kAllowed);
  WriteToken(" \n");
  EXPECT_EQ(auth->Check("Bearer second-token", Address("127.0.0.1")), Decision::kAllowed);
  EXPECT_EQ(auth->Check("Bearer ", Address("127.0.0.1")), Decision::kUnauthenticated);
  fs::remove(token_file());
  EXPECT_EQ(auth->Check("Bearer second-token", Address("127.0.0.1")), Decision::kAllowed);
  WriteToken("third");
  EXPECT_EQ(auth->Check("Bearer third", Address("127.0.0.1")), Decision::kAllowed);
}

// Verifies that an unset flag means loopback only, and a set one reads the file.
TEST_F(AdminAuthTest, FromFlagChoosesTheMode) {
  auto unset = AdminAuth::FromFlag("");
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_FALSE(unset->token_required());
  auto set = AdminAuth::FromFlag(WriteToken("t0k").string());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->token_required());
  EXPECT_EQ(set->Check("Bearer t0k", Address("192.0.2.1")), Decision::kAllowed);
  EXPECT_FALSE(AdminAuth::FromFlag((dir_ / "missing").string()).ok());
}

// Verifies that a missing or empty token file fails at start-up.
TEST_F(AdminAuthTest, RejectsMissingOrEmptyFile) {
  EXPECT_EQ(AdminAuth::FromTokenFile((dir_ / "missing").string()).status().code(),
            common::StatusCode::kInvalidArgument);
  EXPECT_EQ(AdminAuth::FromTokenFile(WriteToken(" \n\t")).status().code(),
            common::StatusCode::kInvalidArgument);
  EXPECT_EQ(AdminAuth::FromTokenFile(dir_.string()).status().code(),
            common::StatusCode::kInvalidArgument);  // a directory
}

// Verifies the Authorization parsing and constant-time comparison helper on its own.
TEST(BearerMatchesTest, MatchesOnlyTheExactToken) {
  EXPECT_TRUE(BearerMatches("Bearer abc", "abc"));
  EXPECT_TRUE(BearerMatches("BEARER\tabc", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
  EXPECT_FALSE(BearerMatches("", ""));
}

}  // namespace
}  // namespace cmlr::daemon
