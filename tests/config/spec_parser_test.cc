#include "config/spec_parser.h"

#include <string>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_format.h"
#include "tests/config/temp_dir.h"

namespace cmlr::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The errors of `text` as "LINE:COLUMN: path: message" (file name dropped).
std::vector<std::string> Errors(const std::string& text) {
  std::vector<std::string> out;
  for (const LoadError& error : ParseDesiredStateText(text, "f.yaml").errors) {
    out.push_back(error.ToString().substr(std::string("f.yaml:").size()));
  }
  return out;
}

ModelDeploymentSpec Parse(const std::string& text) {
  ParsedFile file = ParseDesiredStateText(text, "f.yaml");
  EXPECT_THAT(file.errors, IsEmpty()) << file.errors.front().ToString();
  if (file.documents.empty() || !file.documents[0].spec) return {};
  return *file.documents[0].spec;
}

// Verifies that a minimal document is normalised with every default filled.
TEST(SpecParserTest, FillsDefaults) {
  const ModelDeploymentSpec spec = Parse(R"(apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata: {name: fraud}
spec:
  projectId: abcd-1234-efgh-5678
  registeredModel: {name: FraudCLF-alice, version: 3}
  runtime: docker.repository.cloudera.com/cloudera/cdsw/ml-runtime:2024.02.1-b4
  resources: {cpu: 0.5, memory: 512Mi}
)");
  EXPECT_EQ(spec.name, "fraud");
  EXPECT_EQ(spec.model_name, "fraud");
  EXPECT_EQ(spec.project_id, "abcd-1234-efgh-5678");
  EXPECT_TRUE(spec.authentication);
  EXPECT_EQ(spec.registered_model.name, "FraudCLF-alice");
  EXPECT_EQ(spec.registered_model.version, 3);
  EXPECT_FALSE(spec.registered_model.from_experiment_run);
  EXPECT_EQ(std::get<std::string>(spec.runtime),
            "docker.repository.cloudera.com/cloudera/cdsw/ml-runtime:2024.02.1-b4");
  EXPECT_EQ(spec.resources.cpu, 0.5);
  EXPECT_EQ(spec.resources.memory_gib, 0.5);
  EXPECT_EQ(spec.resources.gpus, 0);
  EXPECT_EQ(spec.resources.replicas, 1);
  EXPECT_TRUE(spec.sync.self_heal);
  EXPECT_FALSE(spec.sync.suspend.suspended);
  EXPECT_EQ(spec.sync.build_timeout, std::chrono::minutes(30));
  EXPECT_EQ(spec.sync.deploy_timeout, std::chrono::minutes(15));
  EXPECT_EQ(spec.sync.max_attempts, 3);
  EXPECT_EQ(spec.source, "f.yaml:1");
  EXPECT_EQ(spec.digest.size(), 64u);
}

// Verifies that every field of section 3 is read when given.
TEST(SpecParserTest, ReadsEveryField) {
  const ModelDeploymentSpec spec = Parse(R"(# leading comment
apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata:
  name: fraud-classifier
  labels: {team: risk, tier: gold}
spec:
  projectId: "abcd-1234-efgh-5678"
  modelName: FraudCLF endpoint
  description: Fraud Detection 2024
  authentication: false
  registeredModel:
    id: 1ebl-krjp-ikhm-5hbu
    fromExperimentRun: {experimentId: 3bmr-ju29-om6c-5aeo, runId: 8f2c1e0b, modelPath: artifacts}
  runtime: {kernel: Python 3.9, edition: Standard, editor: Workbench}
  resources: {cpu: 4, memory: 8, gpus: 2, replicas: 0}
  environment: {LOG_LEVEL: info, PORT: "8080", EMPTY: ""}
  sync:
    selfHeal: false
    suspend: {reason: incident, until: "2026-12-01T00:00:00Z"}
    buildTimeout: 1h30m
    deployTimeout: 90s
    maxAttempts: 5
)");
  EXPECT_EQ(spec.labels, (std::map<std::string, std::string>{{"team", "risk"}, {"tier", "gold"}}));
  EXPECT_EQ(spec.model_name, "FraudCLF endpoint");
  EXPECT_EQ(spec.description, "Fraud Detection 2024");
  EXPECT_FALSE(spec.authentication);
  EXPECT_EQ(spec.registered_model.id, "1ebl-krjp-ikhm-5hbu");
  EXPECT_TRUE(spec.registered_model.name.empty());
  EXPECT_FALSE(spec.registered_model.version);
  ASSERT_TRUE(spec.registered_model.from_experiment_run);
  EXPECT_EQ(*spec.registered_model.from_experiment_run,
            (ExperimentRunSource{"3bmr-ju29-om6c-5aeo", "8f2c1e0b", "artifacts"}));
  EXPECT_EQ(std::get<RuntimeSelector>(spec.runtime),
            (RuntimeSelector{"Python 3.9", "Standard", "Workbench"}));
  EXPECT_EQ(spec.resources, (Resources{.cpu = 4, .memory_gib = 8, .gpus = 2, .replicas = 0}));
  EXPECT_EQ(spec.environment.at("PORT"), "8080");
  EXPECT_EQ(spec.environment.at("EMPTY"), "");
  EXPECT_FALSE(spec.sync.self_heal);
  EXPECT_TRUE(spec.sync.suspend.suspended);
  EXPECT_EQ(spec.sync.suspend.reason, "incident");
  EXPECT_EQ(spec.sync.suspend.until, *common::ParseRfc3339("2026-12-01T00:00:00Z"));
  EXPECT_EQ(spec.sync.build_timeout, std::chrono::minutes(90));
  EXPECT_EQ(spec.sync.deploy_timeout, std::chrono::seconds(90));
  EXPECT_EQ(spec.sync.max_attempts, 5);
  EXPECT_EQ(spec.source, "f.yaml:2");
}

// Verifies that memory accepts Gi, Mi, quoted units and plain numbers of GiB.
TEST(SpecParserTest, NormalisesMemory) {
  for (const auto& [text, gib] : std::vector<std::pair<std::string, double>>{{"4Gi", 4},
                                                                             {"\"4Gi\"", 4},
                                                                             {"4096Mi", 4},
                                                                             {"512Mi", 0.5},
                                                                             {"4", 4},
                                                                             {"0.25", 0.25},
                                                                             {"1.5Gi", 1.5},
                                                                             {"2048Gi", 2048}}) {
    const ModelDeploymentSpec spec =
        Parse(ValidDocument("m").replace(ValidDocument("m").find("4Gi"), 3, text));
    EXPECT_EQ(spec.resources.memory_gib, gib) << text;
  }
}

// Verifies that the misspelled memory units get a hint with the right spelling.
TEST(SpecParserTest, HintsMemoryUnits) {
  for (const auto& [text, hint] : std::vector<std::pair<std::string, std::string>>{
           {"4GB", "use 4Gi"},
           {"4G", "use 4Gi"},
           {"4gi", "use 4Gi"},
           {"4 Gi", "use 4Gi"},
           {"512MB", "use 512Mi"},
           {"512m", "use 512Mi"},
           {"\"4\"", "use 4Gi, or 4 without quotes"}}) {
    const std::string doc = ValidDocument("m");
    const auto errors = Errors(std::string(doc).replace(doc.find("4Gi"), 3, text));
    ASSERT_EQ(errors.size(), 1u) << text;
    EXPECT_THAT(errors[0], ::testing::StartsWith("14:13: spec.resources.memory: invalid memory"));
    EXPECT_THAT(errors[0], ::testing::HasSubstr(hint)) << errors[0];
  }
}

// Verifies that a quoted cpu is refused (JSON Schema says number; so do we) with a hint.
TEST(SpecParserTest, RefusesQuotedNumbers) {
  const std::string doc = ValidDocument("m");
  EXPECT_THAT(Errors(std::string(doc).replace(doc.find("cpu: 2"), 6, "cpu: \"2\"")),
              ElementsAre("13:10: spec.resources.cpu: expected a number, got a string; write 2 "
                          "without quotes"));
}

// Verifies that strings that YAML reads as other types are refused with a quoting hint.
TEST(SpecParserTest, RefusesNonStringScalarsForStrings) {
  EXPECT_THAT(Errors(ValidDocument("m", "  environment: {ENABLED: on}\n")),
              ElementsAre("15:26: spec.environment.ENABLED: expected a string, got on, which "
                          "YAML 1.1 tools read as a boolean or number; quote it (\"on\") if you "
                          "mean the text"));
  EXPECT_THAT(Errors(ValidDocument("m", "  description: 2024\n")),
              ElementsAre("15:16: spec.description: expected a string, got an integer; quote it "
                          "(\"2024\") if you mean the text"));
}

// Verifies that metadata.name follows [a-z0-9-], 1..63, alphanumeric at both ends.
TEST(SpecParserTest, ChecksNameSyntax) {
  for (const std::string& good :
       std::vector<std::string>{"a", "0a", "fraud-classifier-2", std::string(63, 'x')}) {
    EXPECT_THAT(Errors(ValidDocument(good)), IsEmpty()) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"-a", "a-", "A", "a_b", "a.b", std::string(64, 'x'), "\"\""}) {
    EXPECT_EQ(Errors(ValidDocument(bad)).size(), 1u) << bad;
  }
}

// Verifies the ranges of numbers: too small, too large and just inside.
TEST(SpecParserTest, ChecksRanges) {
  const auto errors_with = [](const std::string& resources_extra) {
    return Errors(ValidDocument("m").replace(ValidDocument("m").find("    memory: 4Gi\n"), 16,
                                             "    memory: 4Gi\n" + resources_extra));
  };
  EXPECT_THAT(errors_with("    gpus: 16\n    replicas: 100\n"), IsEmpty());
  EXPECT_THAT(errors_with("    gpus: 17\n"),
              ElementsAre("15:11: spec.resources.gpus: must be between 0 and 16, got 17"));
  EXPECT_THAT(errors_with("    replicas: -1\n"),
              ElementsAre("15:15: spec.resources.replicas: must be between 0 and 100, got -1"));
  EXPECT_THAT(errors_with("    replicas: 99999999999999999999\n"),
              ElementsAre("15:15: spec.resources.replicas: must be between 0 and 100, got "
                          "99999999999999999999"));
  const std::string doc = ValidDocument("m");
  EXPECT_THAT(Errors(std::string(doc).replace(doc.find("cpu: 2"), 6, "cpu: 256")), IsEmpty());
  EXPECT_THAT(Errors(std::string(doc).replace(doc.find("cpu: 2"), 6, "cpu: 256.5")),
              ElementsAre("13:10: spec.resources.cpu: must be more than 0 and at most 256, got "
                          "256.5"));
  EXPECT_THAT(Errors(std::string(doc).replace(doc.find("cpu: 2"), 6, "cpu: 1e400")),
              ElementsAre("13:10: spec.resources.cpu: expected a finite number, got 1e400"));
}

// Verifies that version and fromExperimentRun, and name and id, are mutually exclusive.
TEST(SpecParserTest, ChecksMutuallyExclusiveFields) {
  const std::string doc = ValidDocument("m");
  const std::string both = std::string(doc).replace(
      doc.find("    version: 3\n"), 15,
      "    version: 3\n    fromExperimentRun: {experimentId: e, runId: r, modelPath: p}\n");
  EXPECT_THAT(Errors(both), ElementsAre("11:5: spec.registeredModel.fromExperimentRun: version and "
                                        "fromExperimentRun are mutually exclusive; give one"));
  const std::string neither =
      std::string(doc).replace(doc.find("    name: FraudCLF-alice\n"), 25, "");
  EXPECT_THAT(Errors(neither),
              ElementsAre("8:3: spec.registeredModel: one of name and id is required"));
}

// Verifies that a runtime is either an image identifier or a selector with known keys.
TEST(SpecParserTest, ChecksRuntime) {
  const std::string doc = ValidDocument("m");
  const std::size_t at = doc.find("  runtime: ");
  const std::size_t end = doc.find('\n', at);
  const auto with_runtime = [&](const std::string& runtime) {
    return Errors(std::string(doc).replace(at, end - at, "  runtime: " + runtime));
  };
  EXPECT_THAT(with_runtime("registry.example.com:5000/ml/runtime:1.0"), IsEmpty());
  EXPECT_THAT(with_runtime("{edition: Standard}"), IsEmpty());
  EXPECT_EQ(with_runtime("repo/runtime").size(), 1u);
  EXPECT_EQ(with_runtime("\"repo/runtime :1\"").size(), 1u);
  EXPECT_EQ(with_runtime("[a, b]").size(), 1u);
  EXPECT_THAT(with_runtime("{kernel: Python 3.9, edtion: Standard}"),
              ElementsAre("11:33: spec.runtime.edtion: unknown field \"edtion\"; did you mean "
                          "\"edition\"?"));
}

// Verifies that every error of a document is reported, sorted by position.
TEST(SpecParserTest, ReportsAllErrors) {
  EXPECT_THAT(
      Errors(R"(apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata: {name: Bad_Name, labelz: {}}
spec:
  projectId: 12
  registeredModel: {name: x, version: 0}
  runtime: {}
  resources: {cpu: -1, memory: 4GB, replicas: many}
)"),
      ElementsAre("3:18: metadata.name: invalid name \"Bad_Name\": use 1 to 63 lowercase "
                  "letters, digits and '-', starting and ending with a letter or digit",
                  "3:28: metadata.labelz: unknown field \"labelz\"; did you mean \"labels\"?",
                  "5:14: spec.projectId: expected a string, got an integer; quote it (\"12\") if "
                  "you mean the text",
                  "6:39: spec.registeredModel.version: must be between 1 and 1000000, got 0",
                  "7:12: spec.runtime: a runtime selector needs at least one of kernel, edition, "
                  "editor",
                  "8:20: spec.resources.cpu: must be more than 0 and at most 256, got -1",
                  "8:32: spec.resources.memory: invalid memory \"4GB\"; use 4Gi (units: Gi, Mi, "
                  "or a plain number of GiB)",
                  "8:47: spec.resources.replicas: expected an integer, got a string"));
}

// Verifies that the errors of several documents in one file are all reported.
TEST(SpecParserTest, ReadsSeveralDocuments) {
  const ParsedFile file =
      ParseDesiredStateText(ValidDocument("a") + "---\n" + ValidDocument("b") + "---\n", "f.yaml");
  EXPECT_THAT(file.errors, IsEmpty());
  ASSERT_EQ(file.documents.size(), 2u);
  EXPECT_EQ(file.documents[1].spec->name, "b");
  EXPECT_EQ(file.documents[1].spec->source, "f.yaml:16");
}

// Verifies that the wrong apiVersion or kind stops reading the document there.
TEST(SpecParserTest, StopsAtForeignDocuments) {
  EXPECT_THAT(Errors("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 2}\n"),
              ElementsAre("1:13: apiVersion: unsupported apiVersion \"apps/v1\"; expected "
                          "\"cml-reconciler/v1\"",
                          "2:7: kind: unsupported kind \"Deployment\"; expected "
                          "\"ModelDeployment\""));
}

// Verifies that suspend accepts a boolean or a mapping, and nothing else.
TEST(SpecParserTest, ReadsSuspend) {
  EXPECT_TRUE(Parse(ValidDocument("m", "  sync: {suspend: true}\n")).sync.suspend.suspended);
  EXPECT_FALSE(Parse(ValidDocument("m", "  sync: {suspend: false}\n")).sync.suspend.suspended);
  EXPECT_THAT(Errors(ValidDocument("m", "  sync: {suspend: {}}\n")),
              ElementsAre("15:19: spec.sync.suspend: an empty suspend mapping; write suspend: "
                          "true or give a reason"));
}

// Verifies that verify and sync.rollback default as design 4b says: no verification, rollback
// on.
TEST(SpecParserTest, VerifyAndRollbackDefaults) {
  const ModelDeploymentSpec spec = Parse(ValidDocument("m"));
  EXPECT_FALSE(spec.verify);
  EXPECT_TRUE(spec.sync.rollback);
  const ModelDeploymentSpec minimal =
      Parse(ValidDocument("m", "  verify: {request: {x: 1}}\n  sync: {rollback: false}\n"));
  ASSERT_TRUE(minimal.verify);
  EXPECT_EQ(*minimal.verify, (VerifySpec{.request_json = R"({"x":1})",
                                         .expect_status = 200,
                                         .response_has = {},
                                         .requests = 1,
                                         .timeout = std::chrono::seconds(30)}));
  EXPECT_FALSE(minimal.sync.rollback);
}

// Verifies that every field of verify is read, the request kept as canonical JSON with its
// keys sorted, and responseHas sorted without repeats.
TEST(SpecParserTest, ReadsVerify) {
  const ModelDeploymentSpec spec = Parse(ValidDocument("m", R"(  verify:
    request:
      dataframe_split:
        data: [[35.5, 20000.5]]
        columns: [age, credit_card_balance]
    expect:
      status: 201
      responseHas: [predictions, model.version, predictions]
    requests: 20
    timeout: 10m
)"));
  ASSERT_TRUE(spec.verify);
  EXPECT_EQ(spec.verify->request_json,
            R"({"dataframe_split":{"columns":["age","credit_card_balance"],)"
            R"("data":[[35.5,20000.5]]}})");
  EXPECT_EQ(spec.verify->expect_status, 201);
  EXPECT_EQ(spec.verify->response_has, (std::vector<std::string>{"model.version", "predictions"}));
  EXPECT_EQ(spec.verify->requests, 20);
  EXPECT_EQ(spec.verify->timeout, std::chrono::minutes(10));
}

// Verifies that verify is as strict as every other field: required request, types, ranges,
// unknown keys with a hint, key paths, and every error at its place.
TEST(SpecParserTest, ChecksVerify) {
  const auto errors = [](const std::string& verify) {
    return Errors(ValidDocument("m", "  verify: " + verify + "\n"));
  };
  EXPECT_THAT(errors("{}"), ElementsAre("15:3: spec.verify.request: required field is missing"));
  EXPECT_THAT(errors("{requests: 3}"),
              ElementsAre("15:3: spec.verify.request: required field is missing"));
  EXPECT_THAT(errors("{reqest: {a: 1}}"),
              ElementsAre("15:12: spec.verify.reqest: unknown field \"reqest\"; did you mean "
                          "\"request\"?"));
  EXPECT_THAT(errors("{request: [1, 2]}"),
              ElementsAre("15:21: spec.verify.request: expected a mapping, got a list"));
  EXPECT_THAT(errors("{request: {a: 1}, requets: 3}"),
              ElementsAre("15:29: spec.verify.requets: unknown field \"requets\"; did you mean "
                          "\"requests\"?"));
  EXPECT_THAT(errors("{request: {a: 1}, expect: {staus: 200}}"),
              ElementsAre("15:38: spec.verify.expect.staus: unknown field \"staus\"; did you "
                          "mean \"status\"?"));
  EXPECT_THAT(errors("{request: {a: 1}, expect: {status: 99}}"),
              ElementsAre("15:46: spec.verify.expect.status: must be between 100 and 599, got 99"));
  EXPECT_THAT(errors("{request: {a: 1}, expect: {status: \"200\"}}"),
              ElementsAre("15:46: spec.verify.expect.status: expected an integer, got a string; "
                          "write 200 without quotes"));
  EXPECT_THAT(errors("{request: {a: 1}, requests: 0}"),
              ElementsAre("15:39: spec.verify.requests: must be between 1 and 20, got 0"));
  EXPECT_THAT(errors("{request: {a: 1}, requests: 21}"),
              ElementsAre("15:39: spec.verify.requests: must be between 1 and 20, got 21"));
  EXPECT_THAT(errors("{request: {a: 1}, timeout: 500ms}"),
              ElementsAre("15:38: spec.verify.timeout: must be between 1s and 10m, got 500ms"));
  EXPECT_THAT(errors("{request: {a: 1}, timeout: 11m}"),
              ElementsAre("15:38: spec.verify.timeout: must be between 1s and 10m, got 11m"));
  EXPECT_THAT(errors("{request: {a: 1}, timeout: 30}"),
              ElementsAre("15:38: spec.verify.timeout: expected a duration with a unit such as "
                          "30m, got 30"));
  EXPECT_THAT(errors("{request: {a: 1}, expect: {responseHas: predictions}}"),
              ElementsAre("15:51: spec.verify.expect.responseHas: expected a list of keys, got a "
                          "string"));
  EXPECT_THAT(errors("{request: {a: 1}, expect: {responseHas: [a..b, .a, \"\", 3]}}"),
              ElementsAre("15:52: spec.verify.expect.responseHas[0]: invalid key path \"a..b\": "
                          "use keys joined by single dots, like predictions or result.score",
                          "15:58: spec.verify.expect.responseHas[1]: invalid key path \".a\": use "
                          "keys joined by single dots, like predictions or result.score",
                          "15:62: spec.verify.expect.responseHas[2]: must not be empty",
                          "15:66: spec.verify.expect.responseHas[3]: expected a string, got an "
                          "integer; quote it (\"3\") if you mean the text"));
  EXPECT_THAT(Errors(ValidDocument("m", "  sync: {rollback: yes}\n")),
              ElementsAre("15:20: spec.sync.rollback: expected true or false, got yes, which "
                          "YAML 1.1 tools read as a boolean or number"));
}

// Verifies that values of the request without a faithful JSON form are refused at their
// place, and that a request over 64 KiB of JSON is refused with its size.
TEST(SpecParserTest, ChecksVerifyRequestValues) {
  EXPECT_THAT(
      Errors(ValidDocument("m", "  verify:\n    request: {data: [[1, .nan]], on: off}\n")),
      ElementsAre("16:26: spec.verify.request.data[0][1]: expected a finite number, got .nan "
                  "(JSON has no NaN or infinity)",
                  "16:38: spec.verify.request.on: ambiguous value off, which YAML 1.1 tools read "
                  "as a boolean or number; quote it (\"off\") if you mean the text"));
  std::string big = "  verify:\n    request:\n      rows:\n";
  for (int i = 0; i < 10000; ++i) big += "        - 1234567\n";  // {"rows":[1234567,...]}
  EXPECT_THAT(Errors(ValidDocument("m", big)),
              ElementsAre("17:7: spec.verify.request: the request is 80010 bytes as JSON; at most "
                          "65536 (64 KiB) are allowed"));
}

// Verifies the "did you mean" hints: typos, case and snake_case, and none for far-off keys.
TEST(SpecParserTest, SuggestsKeys) {
  const std::vector<std::string_view> keys = {"projectId", "modelName", "registeredModel",
                                              "resources", "sync"};
  EXPECT_EQ(SuggestKey("projectID", keys), "projectId");
  EXPECT_EQ(SuggestKey("project_id", keys), "projectId");
  EXPECT_EQ(SuggestKey("registerdModel", keys), "registeredModel");
  EXPECT_EQ(SuggestKey("resource", keys), "resources");
  EXPECT_EQ(SuggestKey("status", keys), "");
  EXPECT_EQ(SuggestKey("x", keys), "");
}

// Verifies that an empty file, a comment-only file and empty documents are errors.
TEST(SpecParserTest, RefusesEmptyFiles) {
  EXPECT_THAT(Errors(""), ElementsAre("1:1: file is empty (a truncated write?)"));
  EXPECT_THAT(Errors("\n# nothing\n"),
              ElementsAre("1:1: file holds no YAML document (a truncated write?)"));
  EXPECT_THAT(Errors("---\n...\n"), ElementsAre("1:1: file holds only empty YAML documents"));
}

}  // namespace
}  // namespace cmlr::config
