// The invalid corpus of tests/config/testdata/invalid: every case yields exactly its expected
// errors, without crash or hang, and never a snapshot.

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/loader.h"

namespace cmlr::config {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(CMLR_SOURCE_DIR) / "tests/config/testdata/invalid";

struct Case {
  std::string name;
  std::vector<std::string> errors;
};

std::vector<Case> ReadManifest() {
  std::vector<Case> cases;
  const YAML::Node manifest = YAML::LoadFile((kCorpus / "expected.yaml").string());
  for (const YAML::Node& entry : manifest) {
    Case c{entry["case"].as<std::string>(), {}};
    for (const YAML::Node& error : entry["errors"]) c.errors.push_back(error.as<std::string>());
    cases.push_back(std::move(c));
  }
  return cases;
}

// Verifies that the manifest covers every case in the folder, and that there are at least 40.
TEST(InvalidCorpusTest, ManifestCoversEveryCase) {
  std::set<std::string> listed;
  for (const Case& c : ReadManifest()) {
    EXPECT_TRUE(listed.insert(c.name).second) << "listed twice: " << c.name;
    EXPECT_FALSE(c.errors.empty()) << c.name;
  }
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    const std::string name = entry.path().filename().string();
    if (name != "expected.yaml") present.insert(name);
  }
  EXPECT_EQ(listed, present);
  EXPECT_GE(present.size(), 40u);
}

// Verifies that each broken case is refused with exactly its expected errors.
TEST(InvalidCorpusTest, EveryCaseFailsWithItsMessage) {
  const std::string prefix = kCorpus.string() + "/";
  for (const Case& c : ReadManifest()) {
    SCOPED_TRACE(c.name);
    const LoadResult result = LoadDesiredState({kCorpus / c.name});
    EXPECT_EQ(result.snapshot, nullptr);
    std::vector<std::string> errors;
    for (const LoadError& error : result.errors) {
      std::string text = error.ToString();
      // Messages may name another file of the case by its full path too.
      for (std::size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix)) {
        text.erase(at, prefix.size());
      }
      errors.push_back(text);
    }
    EXPECT_EQ(errors, c.errors);
  }
}

}  // namespace
}  // namespace cmlr::config
