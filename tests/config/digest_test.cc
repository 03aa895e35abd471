#include "config/digest.h"

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/spec_parser.h"
#include "tests/config/temp_dir.h"

namespace cmlr::config {
namespace {

std::string DigestOf(const std::string& text) {
  const ParsedFile file = ParseDesiredStateText(text, "f.yaml");
  EXPECT_TRUE(file.errors.empty()) << file.errors.front().ToString();
  if (file.documents.empty() || !file.documents[0].spec) return "";
  return file.documents[0].spec->digest;
}

constexpr const char* kBlock = R"(apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata:
  name: fraud-classifier
  labels: {team: risk}
spec:
  projectId: "abcd-1234-efgh-5678"
  modelName: FraudCLF-endpoint
  description: Fraud Detection 2024
  registeredModel:
    name: FraudCLF-alice
    version: 3
  runtime: docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:2024.02.1-b4
  resources:
    cpu: 2
    memory: 4Gi
  environment: {LOG_LEVEL: info, MODE: fast}
)";

// The same spec: keys reordered, flow style, comments, quoting, other spellings of the same
// values and defaults written out.
constexpr const char* kReformatted = R"(# A comment that changes nothing.
spec:
  environment:
    MODE: 'fast'
    LOG_LEVEL: "info"
  resources: {memory: 4096Mi, cpu: 2.0, gpus: 0, replicas: 1}   # defaults spelled out
  runtime: "docker.repository.cloudera.com/cloudera/cdsw/ml-runtime-workbench-python3.9-standard:2024.02.1-b4"
  registeredModel: {version: 3, name: "FraudCLF-alice"}
  description: "Fraud Detection 2024"
  modelName: 'FraudCLF-endpoint'
  projectId: abcd-1234-efgh-5678
  authentication: true
  sync: {selfHeal: true, suspend: false, buildTimeout: 30m, deployTimeout: 900s, maxAttempts: 3}
kind: ModelDeployment
metadata: {labels: {team: "risk"}, name: "fraud-classifier"}
apiVersion: "cml-reconciler/v1"
)";

// Verifies that key order, comments, quoting, flow style and spelled-out defaults do not
// change the digest.
TEST(DigestTest, IgnoresFormatting) {
  const std::string digest = DigestOf(kBlock);
  ASSERT_EQ(digest.size(), 64u);
  EXPECT_EQ(DigestOf(kReformatted), digest);
}

// Verifies that the digest covers the normalised spec, not where it came from.
TEST(DigestTest, IgnoresSource) {
  const ParsedFile a = ParseDesiredStateText(kBlock, "a.yaml");
  const ParsedFile b = ParseDesiredStateText(std::string("\n\n") + kBlock, "b.yaml");
  ASSERT_TRUE(a.documents[0].spec && b.documents[0].spec);
  EXPECT_NE(a.documents[0].spec->source, b.documents[0].spec->source);
  EXPECT_EQ(a.documents[0].spec->digest, b.documents[0].spec->digest);
}

// Verifies that any change of any field gives another digest, and that different changes give
// different digests.
TEST(DigestTest, ChangesWithEverySpecField) {
  ModelDeploymentSpec base;
  base.name = "fraud-classifier";
  base.project_id = "abcd-1234-efgh-5678";
  base.model_name = "FraudCLF";
  base.registered_model.name = "FraudCLF-alice";
  base.registered_model.version = 3;
  base.runtime = "repo/runtime:1";
  base.resources = Resources{.cpu = 2, .memory_gib = 4, .gpus = 0, .replicas = 1};
  const std::vector<std::function<void(ModelDeploymentSpec&)>> changes = {
      [](auto& s) { s.name = "fraud-classifier-2"; },
      [](auto& s) { s.labels["team"] = "risk"; },
      [](auto& s) { s.labels[""] = ""; },
      [](auto& s) { s.project_id = "abcd-1234-efgh-5679"; },
      [](auto& s) { s.model_name = "FraudCLF2"; },
      [](auto& s) { s.description = "x"; },
      [](auto& s) { s.authentication = false; },
      [](auto& s) { s.registered_model.name = "other"; },
      [](auto& s) { s.registered_model.id = "abcd"; },
      [](auto& s) { s.registered_model.version = 4; },
      [](auto& s) {
        s.registered_model.version.reset();
        s.registered_model.from_experiment_run = ExperimentRunSource{"e", "r", "p"};
      },
      [](auto& s) {
        s.registered_model.version.reset();
        s.registered_model.from_experiment_run = ExperimentRunSource{"e", "r", "q"};
      },
      [](auto& s) { s.runtime = "repo/runtime:2"; },
      [](auto& s) {
        s.runtime = RuntimeSelector{"Python 3.9", "", ""};
      },
      [](auto& s) {
        s.runtime = RuntimeSelector{"", "Python 3.9", ""};
      },
      [](auto& s) { s.resources.cpu = 2.5; },
      [](auto& s) { s.resources.memory_gib = 4.5; },
      [](auto& s) { s.resources.gpus = 1; },
      [](auto& s) { s.resources.replicas = 0; },
      [](auto& s) { s.environment["A"] = "1"; },
      [](auto& s) { s.environment["A"] = ""; },
      [](auto& s) { s.sync.self_heal = false; },
      [](auto& s) { s.sync.suspend.suspended = true; },
      [](auto& s) { s.sync.suspend.reason = "r"; },
      [](auto& s) { s.sync.suspend.until = common::TimePoint(std::chrono::seconds(1)); },
      [](auto& s) { s.sync.build_timeout = std::chrono::minutes(31); },
      [](auto& s) { s.sync.deploy_timeout = std::chrono::minutes(16); },
      [](auto& s) { s.sync.max_attempts = 4; },
      [](auto& s) { s.sync.rollback = false; },
      [](auto& s) { s.verify = VerifySpec{.request_json = "{}"}; },
      [](auto& s) { s.verify = VerifySpec{.request_json = R"({"a":1})"}; },
      [](auto& s) { s.verify = VerifySpec{.request_json = "{}", .expect_status = 201}; },
      [](auto& s) { s.verify = VerifySpec{.request_json = "{}", .response_has = {"a"}}; },
      [](auto& s) {
        s.verify = VerifySpec{.request_json = "{}", .response_has = {"a", "b"}};
      },
      [](auto& s) { s.verify = VerifySpec{.request_json = "{}", .response_has = {"a.b"}}; },
      [](auto& s) { s.verify = VerifySpec{.request_json = "{}", .requests = 2}; },
      [](auto& s) {
        s.verify = VerifySpec{.request_json = "{}", .timeout = std::chrono::seconds(31)};
      },
  };
  std::vector<std::string> digests = {ComputeDigest(base)};
  for (const auto& change : changes) {
    ModelDeploymentSpec changed = base;
    change(changed);
    digests.push_back(ComputeDigest(changed));
  }
  for (std::size_t i = 0; i < digests.size(); ++i) {
    for (std::size_t j = i + 1; j < digests.size(); ++j) {
      EXPECT_NE(digests[i], digests[j]) << "changes " << i << " and " << j;
    }
  }
}

// Verifies that a spec using neither verify nor rollback: false has the canonical text it had
// before those fields existed, so an upgrade does not make every model a new generation.
TEST(DigestTest, DefaultsOfNewerFieldsLeaveTheTextAsItWas) {
  ModelDeploymentSpec spec;
  spec.sync.rollback = true;
  const std::string text = CanonicalText(spec);
  EXPECT_EQ(text.find("verify"), std::string::npos) << text;
  EXPECT_EQ(text.find("rollback"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("sync.maxAttempts=3\n")) << text;
}

// Verifies that digest and source are not part of the canonical text, and that strings are
// escaped so that no two specs share a text.
TEST(DigestTest, CanonicalTextEscapes) {
  ModelDeploymentSpec a;
  a.description = "x\"\nname=\"y";
  a.digest = "d";
  a.source = "s";
  ModelDeploymentSpec b = a;
  b.digest = "other";
  b.source = "elsewhere";
  EXPECT_EQ(CanonicalText(a), CanonicalText(b));
  EXPECT_NE(CanonicalText(a).find(R"(description="x\"\x0aname=\"y")"), std::string::npos)
      << CanonicalText(a);
}

// Verifies that the digest changes when the document changes in the YAML text.
TEST(DigestTest, ChangesWithTheDocument) {
  const std::string base = DigestOf(ValidDocument("m"));
  EXPECT_EQ(base.size(), 64u);
  const std::string doc = ValidDocument("m");
  EXPECT_NE(DigestOf(std::string(doc).replace(doc.find("4Gi"), 3, "4.5Gi")), base);
  EXPECT_NE(DigestOf(ValidDocument("m", "  sync: {maxAttempts: 4}\n")), base);
  EXPECT_EQ(DigestOf(ValidDocument("m", "  sync: {maxAttempts: 3}\n")), base);
  EXPECT_EQ(DigestOf(ValidDocument("m", "  sync: {rollback: true}\n")), base);
  EXPECT_NE(DigestOf(ValidDocument("m", "  sync: {rollback: false}\n")), base);

  const std::string verify = DigestOf(ValidDocument("m", "  verify: {request: {a: 1, b: [x]}}\n"));
  EXPECT_NE(verify, base);
  EXPECT_EQ(DigestOf(ValidDocument("m",
                                   "  verify:\n    request: {b: [\"x\"], a: 1.0e0}\n"
                                   "    expect: {status: 200}\n    requests: 1\n"
                                   "    timeout: 30000ms\n")),
            DigestOf(ValidDocument("m", "  verify: {request: {a: 1.0, b: [x]}}\n")))
      << "key order, quoting, spelled-out defaults and duration spelling do not count";
  EXPECT_NE(DigestOf(ValidDocument("m", "  verify: {request: {a: 1, b: [x]}, requests: 2}\n")),
            verify);
  EXPECT_NE(DigestOf(ValidDocument("m", "  verify: {request: {a: \"1\", b: [x]}}\n")), verify);
  EXPECT_EQ(
      DigestOf(ValidDocument("m", "  verify: {request: {}, expect: {responseHas: [b, a, b]}}\n")),
      DigestOf(ValidDocument("m", "  verify: {request: {}, expect: {responseHas: [a, b]}}\n")));
}

}  // namespace
}  // namespace cmlr::config
