#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "emulator/emulator.h"
#include "tests/emulator/swagger_validator.h"
#include "tests/emulator/test_client.h"
#include "tests/fakes/fake_clock.h"

namespace cmlr::emulator::testing {

inline constexpr char kKey[] = "test-api-key";
inline constexpr char kProject[] = "abcd-1234-efgh-5678";
inline constexpr char kRegisteredModel[] = "f1tr-4tim-5zvf-kw5d";
inline constexpr char kVersion1[] = "85u3-5bg6-1aew-ku7u";
inline constexpr char kVersion3[] = "q7vn-2cb8-j5rt-6ys0";
// Versions 4 and 5 of FraudCLF-alice build and deploy but serve badly (inference: broken, wrong).
inline constexpr char kBrokenInferenceVersion[] = "w8ne-4kd7-p2rx-9tfa";
inline constexpr char kWrongInferenceVersion[] = "h3zc-6vm1-t8qb-5ljd";
inline constexpr char kBrokenVersion[] = "m4hs-8wt2-k6ud-1qpa";
inline constexpr char kRuntime[] =
    "docker.repository.cloudera.com/cloudera/cdsw/"
    "ml-runtime-workbench-python3.9-standard:2024.02.1-b4";

std::string SwaggerExcerptPath();

// Runs an Emulator behind a real HttpServer on loopback port 0, with a FakeClock, and a
// keep-alive TestClient on the same io_context. Every /api/v2 response body is checked against
// the swagger excerpt's definitions when the excerpt is present.
class EmulatorTest : public ::testing::Test {
 protected:
  struct Reply {
    int status = 0;
    nlohmann::json body;
    common::HttpResponse raw;
  };

  static EmulatorOptions DefaultOptions();

  void SetUp() override { Start(DefaultOptions()); }
  void TearDown() override { Stop(); }

  void Start(EmulatorOptions options, common::HttpServerOptions server_options = {});
  void Stop();

  Reply Call(boost::beast::http::verb method, const std::string& target,
             const std::optional<nlohmann::json>& body = std::nullopt,
             const std::string& key = kKey);
  Reply CallRaw(boost::beast::http::verb method, const std::string& target, std::string body,
                const std::string& key = kKey);
  common::StatusOr<common::HttpResponse> SendRaw(common::HttpRequest request);
  // Checks a finished exchange against the swagger excerpt.
  void CheckConformance(boost::beast::http::verb method, const std::string& target,
                        const Reply& reply);

  // Shortcuts over the API; each asserts success.
  std::string CreateModel(const std::string& name, bool disable_authentication = false);
  std::string CreateBuild(const std::string& model_id, const std::string& version = kVersion3);
  std::string CreateDeployment(const std::string& model_id, const std::string& build_id,
                               nlohmann::json body = nlohmann::json::object());
  nlohmann::json GetBuild(const std::string& model_id, const std::string& build_id);
  nlohmann::json GetDeployment(const std::string& model_id, const std::string& build_id,
                               const std::string& deployment_id);
  static std::string ModelPath(const std::string& model_id);
  static std::string BuildPath(const std::string& model_id, const std::string& build_id);

  const SwaggerValidator* validator() const { return validator_ ? &*validator_ : nullptr; }

  boost::asio::io_context io_;
  cmlr::testing::FakeClock clock_;
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<common::HttpServer> server_;
  std::unique_ptr<TestClient> client_;
  std::optional<SwaggerValidator> validator_;
  int conformance_checks_ = 0;
  // Conformance violations a test expects on purpose (a quirk that departs from the swagger).
  std::function<bool(const std::string&)> tolerated_violation_;
};

}  // namespace cmlr::emulator::testing
