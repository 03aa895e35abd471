#include "api/read_only_cml_client.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_cml_client.h"

namespace cmlr::api {
namespace {

namespace net = boost::asio;

// Verifies that every write is refused without reaching the wrapped client, and that reads
// (and the credential probe) do reach it.
TEST(ReadOnlyCmlClientTest, RefusesEveryWriteAndPassesReads) {
  testing::FakeClock clock;
  testing::FakeCmlClient inner(clock);
  inner.AddRuntime({.image_identifier = "rt", .status = "ENABLED"});
  ReadOnlyCmlClient client(inner);
  std::vector<common::Status> writes;
  std::size_t runtimes = 0;
  net::io_context io;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        // Named arguments: GCC 12 destroys aggregate temporaries of a co_await twice.
        const CreateRegisteredModelRequest registration;
        const CreateModelRequest model{.name = "m"};
        const UpdateModelRequest update;
        const CreateModelBuildRequest build;
        const CreateModelDeploymentRequest deployment;
        writes.push_back((co_await client.CreateRegisteredModel(registration)).status());
        writes.push_back((co_await client.CreateModel("p", model)).status());
        writes.push_back((co_await client.UpdateModel("p", "m", update)).status());
        writes.push_back(co_await client.DeleteModel("p", "m"));
        writes.push_back((co_await client.CreateModelBuild("p", "m", build)).status());
        writes.push_back(
            (co_await client.CreateModelDeployment("p", "m", "b", deployment)).status());
        writes.push_back((co_await client.StopModelDeployment("p", "m", "b", "d")).status());
        writes.push_back((co_await client.RestartModelDeployment("p", "m", "b", "d")).status());
        const ListOptions all;
        runtimes = (co_await client.ListRuntimes(all)).value().size();
        const ValidateApiKeyRequest probe;
        (void)co_await client.ValidateApiKey(probe);
      },
      net::detached);
  io.run();
  ASSERT_EQ(writes.size(), 8u);
  for (const common::Status& status : writes) {
    EXPECT_EQ(status.code(), common::StatusCode::kFailedPrecondition) << status;
    EXPECT_NE(status.message().find("read-only"), std::string::npos) << status;
  }
  EXPECT_EQ(inner.writes(), 0);
  EXPECT_EQ(inner.total_calls(), 2);  // list_runtimes and validate_api_key only
  EXPECT_EQ(runtimes, 1u);
}

}  // namespace
}  // namespace cmlr::api
