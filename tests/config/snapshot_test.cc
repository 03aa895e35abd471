#include "config/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/digest.h"

namespace cmlr::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ModelDeploymentSpec Spec(std::string name, int version = 1) {
  ModelDeploymentSpec spec;
  spec.name = std::move(name);
  spec.project_id = "abcd-1234-efgh-5678";
  spec.model_name = spec.name;
  spec.registered_model.name = "m";
  spec.registered_model.version = version;
  spec.runtime = "repo/runtime:1";
  spec.resources = Resources{.cpu = 1, .memory_gib = 1};
  return spec;
}

std::shared_ptr<const Snapshot> Make(std::vector<ModelDeploymentSpec> specs) {
  auto snapshot = Snapshot::Create(std::move(specs));
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok() ? *snapshot : Snapshot::Empty();
}

// Verifies that a snapshot sorts models by name, finds them and fills in their digests.
TEST(SnapshotTest, FindsModelsByName) {
  const auto snapshot = Make({Spec("b"), Spec("a")});
  ASSERT_EQ(snapshot->size(), 2u);
  EXPECT_EQ(snapshot->models().begin()->first, "a");
  const ModelDeploymentSpec* b = snapshot->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->digest, ComputeDigest(Spec("b")));
  EXPECT_EQ(snapshot->Find("c"), nullptr);
  EXPECT_EQ(Snapshot::Empty()->size(), 0u);
}

// Verifies that two specs with one name cannot make a snapshot.
TEST(SnapshotTest, RefusesDuplicateNames) {
  const auto snapshot = Snapshot::Create({Spec("a"), Spec("a", 2)});
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), common::StatusCode::kInvalidArgument);
}

// Verifies that ChangedNames lists added, removed and changed names, and nothing else.
TEST(SnapshotTest, ListsChangedNames) {
  const auto before = Make({Spec("a"), Spec("b"), Spec("c")});
  const auto after = Make({Spec("b", 2), Spec("c"), Spec("d")});
  EXPECT_THAT(Snapshot::ChangedNames(before.get(), *after), ElementsAre("a", "b", "d"));
  EXPECT_THAT(Snapshot::ChangedNames(nullptr, *after), ElementsAre("b", "c", "d"));
  EXPECT_THAT(Snapshot::ChangedNames(after.get(), *after), IsEmpty());
  EXPECT_THAT(Snapshot::ChangedNames(after.get(), *Snapshot::Empty()), ElementsAre("b", "c", "d"));
}

// Verifies that a spec's source does not make it a change.
TEST(SnapshotTest, IgnoresSourceInChanges) {
  ModelDeploymentSpec moved = Spec("a");
  moved.source = "other.yaml:7";
  EXPECT_THAT(Snapshot::ChangedNames(Make({Spec("a")}).get(), *Make({moved})), IsEmpty());
}

}  // namespace
}  // namespace cmlr::config
