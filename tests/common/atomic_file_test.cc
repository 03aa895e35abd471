#include "common/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace cmlr::common {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("atomic-file-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Verifies that the file gets the content, replaces an older one, and leaves no temporary file.
TEST_F(AtomicFileTest, WritesAndReplaces) {
  const fs::path path = dir_ / "port";
  ASSERT_TRUE(WriteFileAtomically(path.string(), "8080\n").ok());
  EXPECT_EQ(Read(path), "8080\n");
  ASSERT_TRUE(WriteFileAtomically(path.string(), "9090\n").ok());
  EXPECT_EQ(Read(path), "9090\n");
  EXPECT_FALSE(fs::exists(dir_ / "port.tmp"));
}

// Verifies that a path that cannot be written is INTERNAL naming the file, and nothing is left.
TEST_F(AtomicFileTest, ReportsUnwritablePaths) {
  const Status missing_dir = WriteFileAtomically((dir_ / "no" / "such" / "port").string(), "1");
  EXPECT_EQ(missing_dir.code(), StatusCode::kInternal);
  EXPECT_NE(missing_dir.message().find("port.tmp"), std::string::npos) << missing_dir;
  // A directory in the way of the rename.
  fs::create_directories(dir_ / "taken" / "inside");
  const Status taken = WriteFileAtomically((dir_ / "taken").string(), "1");
  EXPECT_EQ(taken.code(), StatusCode::kInternal);
  EXPECT_FALSE(fs::exists(dir_ / "taken.tmp"));
}

}  // namespace
}  // namespace cmlr::common
