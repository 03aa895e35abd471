#include "controllers/prune_candidates.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/controllers/controller_fixture.h"

namespace cmlr::controllers {
namespace {

namespace net = boost::asio;
using std::chrono::seconds;
using testing_support::ControllerTest;
using testing_support::kProject;
using testing_support::Spec;

std::shared_ptr<const config::Snapshot> Desired(std::vector<config::ModelDeploymentSpec> specs) {
  auto snapshot = config::Snapshot::Create(std::move(specs));
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok() ? *snapshot : config::Snapshot::Empty();
}

// A CML model named `model_name` with one build commented `comment` and deployments in the
// given statuses.
ObservedState Observed(const std::string& model_name, const std::string& comment,
                       const std::vector<std::string>& statuses) {
  ObservedState observed;
  observed.model = api::Model{.id = "m-" + model_name, .name = model_name};
  observed.builds.push_back({.id = "b-1", .comment = comment});
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    observed.deployments.push_back(
        {.build_id = "b-1", .id = "d-" + std::to_string(i), .status = statuses[i]});
  }
  return observed;
}

// Verifies which build comments name a managed model: only the reconciler's marker with a name
// and a digest after it.
TEST(ManagedNameOfTest, ReadsOnlyTheReconcilersMarker) {
  EXPECT_EQ(ManagedNameOf("cml-reconciler fraud-classifier 0123456789ab"), "fraud-classifier");
  EXPECT_EQ(ManagedNameOf(BuildMarker(Spec("churn"))), "churn");
  EXPECT_EQ(ManagedNameOf("cml-reconciler fraud-classifier"), std::nullopt);
  EXPECT_EQ(ManagedNameOf("cml-reconciler  0123"), std::nullopt);
  EXPECT_EQ(ManagedNameOf("built by hand"), std::nullopt);
  EXPECT_EQ(ManagedNameOf(""), std::nullopt);
  EXPECT_EQ(ManagedNameOf("CML-RECONCILER x y"), std::nullopt);
}

// Verifies that only the running deployments of a marked model whose name and CML model left
// the desired state are candidates.
TEST(PruneCandidatesOfTest, OnlyRunningDeploymentsOfModelsThatLeft) {
  const auto desired = Desired({Spec("fraud-classifier")});
  const auto gone = Observed("churn-endpoint", "cml-reconciler churn 0123456789ab",
                             {"deployed", "stopped", "failed", "pending"});
  const std::vector<PruneCandidate> candidates = PruneCandidatesOf(kProject, gone, *desired);
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].name, "churn");
  EXPECT_EQ(candidates[0].deployment_id, "d-0");
  EXPECT_EQ(candidates[0].deployment_status, "deployed");
  EXPECT_EQ(candidates[0].project_id, kProject);
  EXPECT_EQ(candidates[0].model_id, "m-churn-endpoint");
  EXPECT_EQ(candidates[0].model_name, "churn-endpoint");
  EXPECT_EQ(candidates[1].deployment_id, "d-3");

  // Built by hand, still desired by name, or the CML model a desired spec names: never.
  EXPECT_TRUE(
      PruneCandidatesOf(kProject, Observed("x", "by hand", {"deployed"}), *desired).empty());
  EXPECT_TRUE(PruneCandidatesOf(kProject,
                                Observed("x", "cml-reconciler fraud-classifier 0123", {"deployed"}),
                                *desired)
                  .empty());
  EXPECT_TRUE(PruneCandidatesOf(
                  kProject,
                  Observed("fraud-classifier-endpoint", "cml-reconciler old 0123", {"deployed"}),
                  *desired)
                  .empty());
  EXPECT_TRUE(PruneCandidatesOf(kProject, ObservedState{}, *desired).empty());
}

using PruneDiscoveryTest = ControllerTest;

// Verifies discovery against CML: a model the reconciler deployed and that left the desired
// state is found with its running deployment; the models still desired are not.
TEST_F(PruneDiscoveryTest, FindsDeploymentsOfModelsThatLeft) {
  Start({Spec(), Spec("churn")});
  ASSERT_TRUE(ConvergeWithin(seconds(10)));
  ASSERT_TRUE(ConvergeWithin(seconds(10), "churn"));
  const std::string churn_deployment = Status("churn").live.deployment_id;
  ASSERT_FALSE(churn_deployment.empty());

  std::optional<common::StatusOr<std::vector<PruneCandidate>>> found;
  auto find = [&](std::shared_ptr<const config::Snapshot> desired) -> net::awaitable<void> {
    found = co_await FindPruneCandidates(cml_, std::move(desired));
  };
  net::co_spawn(io_, find(Desired({Spec()})), net::detached);
  for (int i = 0; i < 100 && !found; ++i) Advance(std::chrono::milliseconds(10));
  ASSERT_TRUE(found.has_value());
  ASSERT_TRUE(found->ok()) << found->status();
  ASSERT_EQ((*found)->size(), 1u);
  EXPECT_EQ((**found)[0].name, "churn");
  EXPECT_EQ((**found)[0].deployment_id, churn_deployment);

  found.reset();
  net::co_spawn(io_, find(Desired({Spec(), Spec("churn")})), net::detached);
  for (int i = 0; i < 100 && !found; ++i) Advance(std::chrono::milliseconds(10));
  ASSERT_TRUE(found.has_value() && found->ok());
  EXPECT_TRUE((*found)->empty());
}

}  // namespace
}  // namespace cmlr::controllers
