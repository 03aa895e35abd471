#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "controllers/controller.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_cml_client.h"
#include "tests/fakes/fake_model_service.h"

// A Controller driven against the in-memory CML with a fake clock, for the sequence tests of
// controllers/ (controller_test.cc, safety_test.cc).
namespace cmlr::controllers::testing_support {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

inline constexpr char kProject[] = "abcd-1234-efgh-5678";
inline constexpr char kRuntime[] =
    "docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-py39:2024.02.1-b4";

inline config::ModelDeploymentSpec Spec(std::string name = "fraud-classifier") {
  config::ModelDeploymentSpec spec;
  spec.name = name;
  spec.project_id = kProject;
  spec.model_name = name + "-endpoint";
  spec.description = "Fraud Detection 2024";
  spec.registered_model = {.name = "FraudCLF-alice", .version = 3};
  spec.runtime = std::string(kRuntime);
  spec.resources = {.cpu = 2, .memory_gib = 4, .gpus = 0, .replicas = 1};
  return spec;
}

// The in-memory CML, where get_model_deployment can be made to take (fake) time, so that a
// test can act while a pass is in flight.
class TestCml : public testing::FakeCmlClient {
 public:
  explicit TestCml(testing::FakeClock& clock) : FakeCmlClient(clock), clock_(clock) {}

  Result<api::ModelDeployment> GetModelDeployment(std::string project_id, std::string model_id,
                                                  std::string build_id,
                                                  std::string deployment_id) override {
    if (get_deployment_delay > common::Duration::zero()) {
      const common::Status slept = co_await clock_.SleepFor(get_deployment_delay);
      if (!slept.ok()) co_return slept;
    }
    co_return co_await FakeCmlClient::GetModelDeployment(
        std::move(project_id), std::move(model_id), std::move(build_id), std::move(deployment_id));
  }

  common::Duration get_deployment_delay{};

 private:
  testing::FakeClock& clock_;
};

// Drives a Controller against the in-memory CML with a fake clock: no sleeps, no network.
class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cml_.AddRuntime({.image_identifier = kRuntime,
                     .editor = "Workbench",
                     .kernel = "Python 3.9",
                     .edition = "Standard",
                     .full_version = "2024.02.1-b4",
                     .status = "ENABLED"});
    api::RegisteredModel model{.name = "FraudCLF-alice"};
    for (int n = 1; n <= 4; ++n) {
      api::RegisteredModelVersion version{.model_version_id = "rmv-v" + std::to_string(n),
                                          .number = n};
      version.model_version_metadata.mlflow_metadata.run_id = "run-" + std::to_string(n);
      model.model_versions.push_back(version);
    }
    cml_.AddRegisteredModel(model);
  }

  void TearDown() override { Stop(); }

  void Start(std::vector<config::ModelDeploymentSpec> specs, ControllerOptions options = {}) {
    options.reconciler.poll_min = milliseconds(300);
    if (options.reconciler.model_service == nullptr) {
      options.reconciler.model_service = &model_service_;
    }
    controller_ =
        std::make_unique<Controller>(io_.get_executor(), clock_, cml_, registry_, nullptr, options);
    SetDesired(std::move(specs));
    run_done_ = false;
    net::co_spawn(io_, controller_->Run(), [this](std::exception_ptr) { run_done_ = true; });
    io_.poll();
  }

  void SetDesired(std::vector<config::ModelDeploymentSpec> specs,
                  std::optional<std::string> revision = std::nullopt) {
    auto snapshot = config::Snapshot::Create(std::move(specs), std::move(revision));
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    controller_->SetDesiredState(*snapshot);
    io_.poll();
  }

  // A crash: the controller and all its memory are gone; CML stays.
  void Stop() {
    if (!controller_) return;
    controller_->ShutDown();
    for (int i = 0; i < 100 && controller_->queue().in_flight() > 0; ++i)
      Advance(milliseconds(100));
    io_.poll();
    controller_.reset();
    io_.restart();
    io_.poll();
  }

  void Advance(common::Duration duration) {
    const common::TimePoint end = clock_.Now() + duration;
    while (clock_.Now() < end) {
      io_.poll();
      clock_.Advance(std::min<common::Duration>(milliseconds(50), end - clock_.Now()));
      io_.poll();
    }
  }

  const ModelStatus& Status(const std::string& name = "fraud-classifier") {
    const ModelStatus* status = controller_->statuses().Find(name);
    EXPECT_NE(status, nullptr) << name;
    static const ModelStatus kEmpty;
    return status ? *status : kEmpty;
  }

  bool Converged(const std::string& name = "fraud-classifier") {
    const ModelStatus* status = controller_->statuses().Find(name);
    return status && status->sync == SyncState::kSynced && status->health == HealthState::kHealthy;
  }

  // Advances time until the model is Synced and Healthy (or the limit passes).
  ::testing::AssertionResult ConvergeWithin(common::Duration limit,
                                            const std::string& name = "fraud-classifier") {
    const common::TimePoint end = clock_.Now() + limit;
    while (clock_.Now() < end) {
      if (Converged(name)) return ::testing::AssertionSuccess();
      Advance(milliseconds(100));
    }
    const ModelStatus* status = controller_->statuses().Find(name);
    if (status == nullptr) return ::testing::AssertionFailure() << "no status for " << name;
    const Condition* ready = status->FindCondition(kConditionReady);
    return ::testing::AssertionFailure()
           << name << " is " << ToString(status->sync) << "/" << ToString(status->health) << ": "
           << (ready ? ready->reason + " " + ready->message : "");
  }

  std::vector<api::ModelDeployment> Running(const std::string& model_id) {
    std::vector<api::ModelDeployment> running;
    for (const api::ModelDeployment& d : cml_.deployments(model_id)) {
      if (IsRunning(d.status)) running.push_back(d);
    }
    return running;
  }

  std::string ModelId() {
    auto models = cml_.models(kProject);
    return models.empty() ? "" : models.front().id;
  }

  net::io_context io_;
  // Keeps poll() from stopping the io_context whenever it runs out of ready work.
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  testing::FakeClock clock_;
  TestCml cml_{clock_};
  testing::FakeModelService model_service_;
  bool run_done_ = true;
  prometheus::Registry registry_;
  std::unique_ptr<Controller> controller_;
};

}  // namespace cmlr::controllers::testing_support
