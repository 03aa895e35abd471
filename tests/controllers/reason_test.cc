#include "controllers/reason.h"

#include <cctype>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace cmlr::controllers {
namespace {

// Verifies that every reason has its own CamelCase name (a reason added to the enum without a
// name in the table fails here).
TEST(ReasonTest, EveryReasonHasItsOwnCamelCaseName) {
  std::set<std::string> seen;
  for (int i = 0; i < static_cast<int>(Reason::kCount); ++i) {
    const std::string name(ReasonName(static_cast<Reason>(i)));
    ASSERT_FALSE(name.empty()) << "reason #" << i;
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(name[0]))) << name;
    EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
              std::string::npos)
        << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
  }
  EXPECT_EQ(ReasonName(Reason::kBuildInProgress), "BuildInProgress");
  EXPECT_EQ(ReasonName(Reason::kReconcileError), "ReconcileError");
}

}  // namespace
}  // namespace cmlr::controllers
