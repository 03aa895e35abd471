#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <prometheus/registry.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include "api/api_key.h"
#include "api/http_cml_client.h"
#include "api/model_service_client.h"
#include "common/http_server.h"
#include "tests/fakes/fake_clock.h"

namespace cmlr::api {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const char* name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

class ApiKeySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cmlr-key-source-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "key").string();
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
    for (int i = 0; i < 10; ++i) io_.poll();
    fs::remove_all(dir_);
  }

  // Replaces the file by a new one (new inode), the way editors and `kubectl cp` do.
  void Replace(const std::string& path, const std::string& content) {
    const std::string temp = path + ".tmp";
    std::ofstream(temp, std::ios::binary | std::ios::trunc) << content;
    fs::rename(temp, path);
  }
  // Rewrites the file in place (same inode).
  void Rewrite(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }

  std::shared_ptr<ApiKeySource> Source(const std::string& path) {
    auto source = ApiKeySource::Create(path, clock_, logger_, Env({}));
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *source : nullptr;
  }

  std::string Logs() {
    logger_->flush();
    return logs_->str();
  }

  // Runs a coroutine to completion (network in real time, the fake clock jumps when idle).
  template <typename T>
  T Run(net::awaitable<T> awaitable) {
    auto result = std::make_shared<std::optional<T>>();
    net::co_spawn(
        io_,
        [result, awaitable = std::move(awaitable)]() mutable -> net::awaitable<void> {
          result->emplace(co_await std::move(awaitable));
        },
        net::detached);
    for (int idle = 0; !result->has_value() && idle < 500;) {
      if (io_.poll() > 0) continue;
      if (clock_.sleepers() > 0) {
        clock_.SetTime(*clock_.NextDeadline());
        continue;
      }
      if (io_.run_one_for(milliseconds(20)) == 0) ++idle;
    }
    EXPECT_TRUE(result->has_value()) << "the call did not finish";
    return std::move(**result);
  }

  // A server that records each request's Authorization header and answers 200 {"valid": true}.
  void StartServer() {
    auto server = common::HttpServer::Create(
        io_.get_executor(), {},
        [this](common::HttpRequest request) -> net::awaitable<std::optional<common::HttpResponse>> {
          authorizations_.emplace_back(request[http::field::authorization]);
          common::HttpResponse response{http::status::ok, 11};
          response.set(http::field::content_type, "application/json");
          response.body() = R"({"valid": true, "username": "u"})";
          co_return response;
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  fs::path dir_;
  std::string path_;
  cmlr::testing::FakeClock clock_;
  std::shared_ptr<std::ostringstream> logs_ = std::make_shared<std::ostringstream>();
  std::shared_ptr<spdlog::logger> logger_ = std::make_shared<spdlog::logger>(
      "key-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(*logs_));
  net::io_context io_;
  std::unique_ptr<common::HttpServer> server_;
  std::vector<std::string> authorizations_;
};

// Verifies that a replaced key file is read again once the check interval has passed, and not
// before.
TEST_F(ApiKeySourceTest, ReReadsAChangedFileAfterTheInterval) {
  Rewrite(path_, "first-key\n");
  auto source = Source(path_);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->Current().Reveal(), "first-key");
  EXPECT_EQ(source->generation(), 0u);

  Replace(path_, "second-key-longer\n");
  clock_.Advance(milliseconds(500));
  EXPECT_EQ(source->Current().Reveal(), "first-key");  // looked less than a second ago
  clock_.Advance(milliseconds(500));
  EXPECT_EQ(source->Current().Reveal(), "second-key-longer");
  EXPECT_EQ(source->generation(), 1u);
  EXPECT_NE(Logs().find("Reloaded the API key file=" + path_ + " generation=1"), std::string::npos);

  // An in-place rewrite (same inode, other size) is seen too.
  Rewrite(path_, "third\n");
  EXPECT_TRUE(source->Refresh());
  EXPECT_EQ(source->Current().Reveal(), "third");
  EXPECT_EQ(source->generation(), 2u);
}

// Verifies that a file replaced by the same key (or only touched) is no new generation.
TEST_F(ApiKeySourceTest, SameKeyIsNoChange) {
  Rewrite(path_, "same-key");
  auto source = Source(path_);
  Replace(path_, "same-key\n");
  EXPECT_FALSE(source->Refresh());
  EXPECT_EQ(source->generation(), 0u);
  EXPECT_EQ(Logs(), "");
}

// Verifies that an empty, unusable or vanished file keeps the last good key, with one warning
// per change of the file and never the key in the log.
TEST_F(ApiKeySourceTest, KeepsTheLastGoodKey) {
  Rewrite(path_, "good-key-1234");
  auto source = Source(path_);

  Replace(path_, "\n");
  EXPECT_FALSE(source->Refresh());
  EXPECT_FALSE(source->Refresh());  // unchanged file: no second warning
  EXPECT_EQ(source->Current().Reveal(), "good-key-1234");
  Replace(path_, "bad key with spaces");
  EXPECT_FALSE(source->Refresh());
  EXPECT_EQ(source->Current().Reveal(), "good-key-1234");
  fs::remove(path_);
  EXPECT_FALSE(source->Refresh());
  EXPECT_FALSE(source->Refresh());
  EXPECT_EQ(source->Current().Reveal(), "good-key-1234");

  const std::string logs = Logs();
  std::size_t warnings = 0;
  for (std::size_t at = logs.find("Kept the current API key"); at != std::string::npos;
       at = logs.find("Kept the current API key", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 2u) << logs;
  EXPECT_NE(logs.find("Cannot see the API key file"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("Cannot see the API key file", logs.find("Cannot see") + 1),
            std::string::npos);
  EXPECT_EQ(logs.find("good-key-1234"), std::string::npos);
  EXPECT_EQ(logs.find("bad key with spaces"), std::string::npos);
  EXPECT_EQ(source->generation(), 0u);

  // The file comes back with a new key.
  Replace(path_, "good-key-5678");
  EXPECT_TRUE(source->Refresh());
  EXPECT_EQ(source->Current().Reveal(), "good-key-5678");
}

// Verifies the Kubernetes Secret volume layout: key -> ..data/key, ..data -> ..<timestamp>;
// the kubelet swaps the ..data symlink atomically, and stat follows it.
TEST_F(ApiKeySourceTest, FollowsAKubernetesSecretSwap) {
  fs::create_directory(dir_ / "..2026_01_01_a");
  Rewrite((dir_ / "..2026_01_01_a" / "key").string(), "kube-key-a");
  fs::create_directory_symlink("..2026_01_01_a", dir_ / "..data");
  fs::create_symlink("..data/key", dir_ / "kube");
  auto source = Source((dir_ / "kube").string());
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->Current().Reveal(), "kube-key-a");

  fs::create_directory(dir_ / "..2026_01_01_b");
  Rewrite((dir_ / "..2026_01_01_b" / "key").string(), "kube-key-b");  // same size
  fs::create_directory_symlink("..2026_01_01_b", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  fs::remove_all(dir_ / "..2026_01_01_a");
  clock_.Advance(seconds(1));
  EXPECT_EQ(source->Current().Reveal(), "kube-key-b");
  EXPECT_EQ(source->generation(), 1u);
}

// Verifies that the environment key and a fixed key never change, and that the first read
// fails like LoadApiKey.
TEST_F(ApiKeySourceTest, EnvironmentKeyAndFirstReadFailures) {
  auto env = ApiKeySource::Create("", clock_, logger_, Env({{"CDSW_APIV2_KEY", "env-key"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)->Current().Reveal(), "env-key");
  EXPECT_FALSE((*env)->Refresh());
  EXPECT_EQ((*env)->file(), "");

  EXPECT_EQ(
      ApiKeySource::Create((dir_ / "nope").string(), clock_, logger_, Env({})).status().code(),
      common::StatusCode::kInvalidArgument);
  Rewrite(path_, "\n");
  EXPECT_EQ(ApiKeySource::Create(path_, clock_, logger_, Env({})).status().code(),
            common::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeySource::Create("", clock_, logger_, Env({})).status().code(),
            common::StatusCode::kInvalidArgument);
}

// Verifies that Redact hides the current and the previous key.
TEST_F(ApiKeySourceTest, RedactsCurrentAndPreviousKey) {
  Rewrite(path_, "old-secret");
  auto source = Source(path_);
  Replace(path_, "new-secret-2");
  ASSERT_TRUE(source->Refresh());
  EXPECT_EQ(source->Redact("a old-secret b new-secret-2 c old-secretold-secret"),
            "a [redacted] b [redacted] c [redacted][redacted]");
  EXPECT_EQ(ApiKeySource(Secret("abc")).Redact("abc"), "abc");  // too short to matter
}

// Verifies, against a server, that the CML client's next request after a rotation carries the
// new key, and that an emptied file leaves it sending the last good key.
TEST_F(ApiKeySourceTest, CmlClientSendsTheRotatedKey) {
  StartServer();
  Rewrite(path_, "key-one");
  auto source = Source(path_);
  prometheus::Registry registry;
  auto client = HttpCmlClient::Create(
      io_.get_executor(), clock_,
      HttpCmlClientOptions{.base_url = Url(), .api_key_source = source, .qps = 0}, registry,
      logger_);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->api_key_source(), source);

  ASSERT_TRUE(Run((*client)->ValidateApiKey({})).ok());
  Replace(path_, "key-two-rotated\n");
  clock_.Advance(seconds(1));
  ASSERT_TRUE(Run((*client)->ValidateApiKey({})).ok());
  Replace(path_, "");
  clock_.Advance(seconds(1));
  ASSERT_TRUE(Run((*client)->ValidateApiKey({})).ok());
  EXPECT_EQ(authorizations_, (std::vector<std::string>{"Bearer key-one", "Bearer key-two-rotated",
                                                       "Bearer key-two-rotated"}));
  client->reset();
}

// Verifies that the fixed api_key option still works, and that neither a key nor a source is
// refused.
TEST_F(ApiKeySourceTest, CmlClientWithAFixedKey) {
  StartServer();
  prometheus::Registry registry;
  auto client = HttpCmlClient::Create(
      io_.get_executor(), clock_,
      HttpCmlClientOptions{.base_url = Url(), .api_key = Secret("fixed"), .qps = 0}, registry,
      logger_);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(Run((*client)->ValidateApiKey({})).ok());
  EXPECT_EQ(authorizations_, std::vector<std::string>{"Bearer fixed"});
  EXPECT_EQ((*client)->api_key_source()->file(), "");
  client->reset();
  prometheus::Registry other;
  EXPECT_EQ(HttpCmlClient::Create(io_.get_executor(), clock_,
                                  HttpCmlClientOptions{.base_url = Url()}, other, logger_)
                .status()
                .code(),
            common::StatusCode::kInvalidArgument);
}

// Verifies that the model-service client sends the rotated key too.
TEST_F(ApiKeySourceTest, ModelServiceClientSendsTheRotatedKey) {
  StartServer();
  Rewrite(path_, "model-key-one");
  auto source = Source(path_);
  auto client = HttpModelServiceClient::Create(io_.get_executor(), clock_,
                                               {.base_url = Url(), .api_key_source = source});
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(Run((*client)->Call("ak", "{}", true, seconds(5))).ok());
  Replace(path_, "model-key-two\n");
  clock_.Advance(seconds(1));
  ASSERT_TRUE(Run((*client)->Call("ak", "{}", true, seconds(5))).ok());
  EXPECT_EQ(authorizations_,
            (std::vector<std::string>{"Bearer model-key-one", "Bearer model-key-two"}));
}

}  // namespace
}  // namespace cmlr::api
