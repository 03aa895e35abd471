#include "daemon/logging.h"

#include <chrono>
#include <mutex>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

namespace cmlr::daemon {
namespace {

using nlohmann::json;

// 2026-01-01T00:00:00.250Z
const std::chrono::system_clock::time_point kTime =
    std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) +
    std::chrono::milliseconds(250);

json Line(std::string_view message, spdlog::level::level_enum level = spdlog::level::info) {
  const std::string line = FormatJsonLogLine(kTime, level, message);
  json parsed = json::parse(line, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << line;
  return parsed;
}

std::vector<LogField> Fields(std::initializer_list<LogField> fields) { return fields; }

// Verifies that the example of the issue becomes one JSON key per field, with the number as a
// number and the quoted value unquoted.
TEST(FormatJsonLogLineTest, SplitsTheIssueExample) {
  const json line =
      Line(R"(Reconcile failed model=foo attempt=2 error="x y")", spdlog::level::warn);
  EXPECT_EQ(line, json::parse(R"({"time":"2026-01-01T00:00:00.250Z","level":"warn",
      "msg":"Reconcile failed","model":"foo","attempt":2,"error":"x y"})"));
}

// Verifies that the keys come in the order of the message, after time, level and msg.
TEST(FormatJsonLogLineTest, KeepsFieldOrder) {
  EXPECT_EQ(FormatJsonLogLine(kTime, spdlog::level::info, "Started b=1 a=x"),
            R"({"time":"2026-01-01T00:00:00.250Z","level":"info","msg":"Started","b":1,"a":"x"})");
}

// Verifies that every level prints with the contract's name: warn, not warning; critical as
// error.
TEST(FormatJsonLogLineTest, LevelNames) {
  EXPECT_EQ(Line("x", spdlog::level::trace)["level"], "trace");
  EXPECT_EQ(Line("x", spdlog::level::debug)["level"], "debug");
  EXPECT_EQ(Line("x", spdlog::level::info)["level"], "info");
  EXPECT_EQ(Line("x", spdlog::level::warn)["level"], "warn");
  EXPECT_EQ(Line("x", spdlog::level::err)["level"], "error");
  EXPECT_EQ(Line("x", spdlog::level::critical)["level"], "error");
}

// Verifies that only bare values in JSON's number grammar become numbers.
TEST(FormatJsonLogLineTest, NumbersOnlyWhenTheyParse) {
  const json line = Line(
      "m a=0 b=-12 c=3.5 d=1e3 e=-0.25E-2 f=007 g=1. h=.5 i=0x10 j=12ms k=\"42\" l=- m=inf "
      "n=true o=+1");
  EXPECT_EQ(line["a"], 0);
  EXPECT_EQ(line["b"], -12);
  EXPECT_EQ(line["c"], 3.5);
  EXPECT_EQ(line["d"], 1000.0);
  EXPECT_EQ(line["e"], -0.0025);
  EXPECT_EQ(line["f"], "007");
  EXPECT_EQ(line["g"], "1.");
  EXPECT_EQ(line["h"], ".5");
  EXPECT_EQ(line["i"], "0x10");
  EXPECT_EQ(line["j"], "12ms");
  EXPECT_EQ(line["k"], "42");  // quoted: stays a string
  EXPECT_EQ(line["l"], "-");
  EXPECT_EQ(line["m"], "inf");
  EXPECT_EQ(line["n"], "true");
  EXPECT_EQ(line["o"], "+1");
}

// Verifies that a field named time, level or msg cannot overwrite the line's own keys, and that
// a repeated key is numbered instead of producing a duplicate JSON key.
TEST(FormatJsonLogLineTest, ReservedAndRepeatedKeys) {
  const std::string text = FormatJsonLogLine(
      kTime, spdlog::level::info, "Hello msg=evil level=error time=0 a=1 a=2 field_msg=x a=3");
  const json line = json::parse(text);
  EXPECT_EQ(line["msg"], "Hello");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["time"], "2026-01-01T00:00:00.250Z");
  EXPECT_EQ(line["field_msg"], "evil");
  EXPECT_EQ(line["field_level"], "error");
  EXPECT_EQ(line["field_time"], 0);
  EXPECT_EQ(line["a"], 1);
  EXPECT_EQ(line["a_2"], 2);
  EXPECT_EQ(line["field_msg_2"], "x");
  EXPECT_EQ(line["a_3"], 3);
  EXPECT_EQ(line.size(), 10u);
  // No duplicate keys in the text either (json::parse would keep the last one silently).
  EXPECT_EQ(text.find("\"msg\":", text.find("\"msg\":") + 1), std::string::npos);
}

// Verifies the JSON escaping: quotes, backslashes, control characters, DEL.
TEST(FormatJsonLogLineTest, EscapesControlCharacters) {
  const std::string message = std::string("a\"b\\c\nd\re\tf\bg\fh") + '\x01' + "i\x1f" + "j\x7f";
  const std::string text = FormatJsonLogLine(kTime, spdlog::level::info, message);
  EXPECT_NE(text.find(R"("a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj\u007f")"), std::string::npos)
      << text;
  EXPECT_EQ(json::parse(text)["msg"], message);
  EXPECT_EQ(text.find('\n'), std::string::npos);
}

// Verifies that well-formed UTF-8 passes through unchanged and ill-formed bytes become U+FFFD,
// so that the line is always valid JSON.
TEST(FormatJsonLogLineTest, Utf8) {
  const std::string good = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  const std::string text = FormatJsonLogLine(kTime, spdlog::level::info, good + " k=\xC3\xA9");
  EXPECT_NE(text.find(good), std::string::npos);
  EXPECT_EQ(json::parse(text)["msg"], good);
  EXPECT_EQ(json::parse(text)["k"], "\xC3\xA9");

  const std::string bad = "x\xFFy\xC3z\xED\xA0\x80w\xC0\xAF";  // stray, truncated, surrogate,
                                                               // overlong
  const json line = Line(bad + " e=\"\xE2\x82\"");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(line["msg"], "x" + fffd + "y" + fffd + "z" + fffd + fffd + fffd + "w" + fffd + fffd);
  EXPECT_EQ(line["e"], fffd + fffd);
}

// Verifies that the time is UTC with milliseconds, also before the epoch's second boundary.
TEST(FormatJsonLogLineTest, Time) {
  EXPECT_EQ(Line("x")["time"], "2026-01-01T00:00:00.250Z");
  const auto before_epoch = std::chrono::system_clock::time_point(std::chrono::milliseconds(-1));
  EXPECT_EQ(json::parse(FormatJsonLogLine(before_epoch, spdlog::level::info, "x"))["time"],
            "1969-12-31T23:59:59.999Z");
}

// Verifies the plain cases of the split: no fields, only fields, several spaces.
TEST(SplitLogMessageTest, PlainCases) {
  SplitMessage split = SplitLogMessage("Reloading desired state on SIGHUP");
  EXPECT_EQ(split.msg, "Reloading desired state on SIGHUP");
  EXPECT_TRUE(split.fields.empty());

  split = SplitLogMessage("model=a x=1");
  EXPECT_EQ(split.msg, "");
  EXPECT_EQ(split.fields, Fields({{"model", "a"}, {"x", "1"}}));

  split = SplitLogMessage("Started   a=1   b=2  ");
  EXPECT_EQ(split.msg, "Started");
  EXPECT_EQ(split.fields, Fields({{"a", "1"}, {"b", "2"}}));

  split = SplitLogMessage("");
  EXPECT_EQ(split.msg, "");
  EXPECT_TRUE(split.fields.empty());
}

// Verifies that only the trailing run of key=value tokens are fields: a key=value followed by
// plain words stays in the message.
TEST(SplitLogMessageTest, OnlyTheTrailingRun) {
  SplitMessage split = SplitLogMessage("Set a=1 then more b=2");
  EXPECT_EQ(split.msg, "Set a=1 then more");
  EXPECT_EQ(split.fields, Fields({{"b", "2"}}));

  split = SplitLogMessage("Set a=1 then more");
  EXPECT_EQ(split.msg, "Set a=1 then more");
  EXPECT_TRUE(split.fields.empty());
}

// Verifies what counts as a key and as a bare value: '=' and ':' inside values, empty values,
// no quote inside a bare value, no '=' at a word's start.
TEST(SplitLogMessageTest, KeysAndBareValues) {
  SplitMessage split =
      SplitLogMessage("Started listen=127.0.0.1:9464 url=http://x/?a=b changed=a,b empty= k.v-2=x");
  EXPECT_EQ(split.msg, "Started");
  EXPECT_EQ(split.fields, Fields({{"listen", "127.0.0.1:9464"},
                                  {"url", "http://x/?a=b"},
                                  {"changed", "a,b"},
                                  {"empty", ""},
                                  {"k.v-2", "x"}}));

  EXPECT_TRUE(SplitLogMessage("Odd =x").fields.empty());
  EXPECT_TRUE(SplitLogMessage("Odd 1a=x").fields.empty());
  EXPECT_TRUE(SplitLogMessage("Odd a\xC3\xA9=x").fields.empty());

  split = SplitLogMessage("Odd a=x\"y b=1");
  EXPECT_EQ(split.msg, "Odd a=x\"y");
  EXPECT_EQ(split.fields, Fields({{"b", "1"}}));
}

// Verifies quoted values: spaces, escaped quotes and backslashes, '=' inside, an empty value,
// and unescaped quotes from an exception's text.
TEST(SplitLogMessageTest, QuotedValues) {
  SplitMessage split = SplitLogMessage(R"(E error="a \"b\" c\\d" next="k=v x=y" e="")");
  EXPECT_EQ(split.msg, "E");
  EXPECT_EQ(split.fields,
            Fields({{"error", R"(a "b" c\d)", true}, {"next", "k=v x=y", true}, {"e", "", true}}));

  split = SplitLogMessage(R"(Failed error="cannot parse "foo" at 3" attempt=2)");
  EXPECT_EQ(split.msg, "Failed");
  EXPECT_EQ(split.fields,
            Fields({{"error", R"(cannot parse "foo" at 3)", true}, {"attempt", "2"}}));

  split = SplitLogMessage(R"(Failed error="ends with "quote"")");
  EXPECT_EQ(split.fields, Fields({{"error", R"(ends with "quote")", true}}));

  // Other backslash sequences stay as they are.
  split = SplitLogMessage(R"(P path="C:\temp\n")");
  EXPECT_EQ(split.fields, Fields({{"path", R"(C:\temp\n)", true}}));

  // No closing quote: not a field.
  split = SplitLogMessage(R"(Broken error="never closed a=1)");
  EXPECT_EQ(split.msg, R"(Broken error="never closed)");
  EXPECT_EQ(split.fields, Fields({{"a", "1"}}));
}

// Verifies that a quoted value in the message part does not swallow the fields after it.
TEST(SplitLogMessageTest, QuotedWordsInTheMessage) {
  const SplitMessage split = SplitLogMessage(R"(Rejected "x a=b" c=d)");
  EXPECT_EQ(split.msg, R"(Rejected "x a=b")");
  EXPECT_EQ(split.fields, Fields({{"c", "d"}}));
}

// Verifies that pathological messages (many quotes that never close a value) split quickly and
// without deep recursion.
TEST(SplitLogMessageTest, PathologicalInputStaysCheap) {
  std::string message = "M";
  for (int i = 0; i < 2000; ++i) message += " a=\"\" \"";
  message += " tail";
  const SplitMessage split = SplitLogMessage(message);
  EXPECT_TRUE(split.fields.empty());
  EXPECT_EQ(split.msg, message);

  std::string many = "M";
  for (int i = 0; i < 3000; ++i) many += fmt::format(" k{}=\"v {}\"", i, i);
  const json line = Line(many);
  EXPECT_EQ(line.size(), 3u + 3000u);
  EXPECT_EQ(line["msg"], "M");
  EXPECT_EQ(line["k2999"], "v 2999");

  // Longer than 64 KiB: not split, still valid JSON.
  std::string huge = "M";
  while (huge.size() <= 64 * 1024) huge += " k=v";
  const json huge_line = Line(huge);
  EXPECT_EQ(huge_line.size(), 3u);
  EXPECT_TRUE(huge_line["msg"] == huge);
}

// Verifies the daemon's own log lines (as the code writes them) split into the keys the design
// names (section 6).
TEST(SplitLogMessageTest, TheDaemonsLogLines) {
  json line = Line(fmt::format(
      "Reconcile failed model={} attempt={} retry_in={} error=\"{}\"", "fraud-detector", 3, "20s",
      "UNAVAILABLE: get_model: connect: Connection refused; body \"{\"message\":\"x\"}\""));
  EXPECT_EQ(line["msg"], "Reconcile failed");
  EXPECT_EQ(line["model"], "fraud-detector");
  EXPECT_EQ(line["attempt"], 3);
  EXPECT_EQ(line["retry_in"], "20s");
  EXPECT_EQ(line["error"],
            "UNAVAILABLE: get_model: connect: Connection refused; body \"{\"message\":\"x\"}\"");

  line = Line("Called CML operation=list_models http_status=200 duration_ms=12.5 result=OK");
  EXPECT_EQ(line["operation"], "list_models");
  EXPECT_EQ(line["http_status"], 200);
  EXPECT_EQ(line["duration_ms"], 12.5);
  EXPECT_EQ(line["result"], "OK");

  line = Line("Created model=a build_id=b1 deployment_id=d1 revision=none");
  EXPECT_EQ(line["msg"], "Created");
  EXPECT_EQ(line["build_id"], "b1");
  EXPECT_EQ(line["revision"], "none");

  line = Line("Started listen=127.0.0.1:9464 desired=/etc/a.yaml,/etc/b dry_run=false prune=true");
  EXPECT_EQ(line["msg"], "Started");
  EXPECT_EQ(line["listen"], "127.0.0.1:9464");
  EXPECT_EQ(line["desired"], "/etc/a.yaml,/etc/b");
  EXPECT_EQ(line["dry_run"], "false");

  line = Line("Failed create_model model=a outcome_unknown=true revision=abc error=\"x\"");
  EXPECT_EQ(line["msg"], "Failed create_model");
  EXPECT_EQ(line["outcome_unknown"], "true");

  line = Line("Rejected desired state error=\"models/a.yaml:3:7: unknown key \"replica\"\"");
  EXPECT_EQ(line["msg"], "Rejected desired state");
  EXPECT_EQ(line["error"], "models/a.yaml:3:7: unknown key \"replica\"");

  line = Line("Timed out after 30m before every model converged");
  EXPECT_EQ(line["msg"], "Timed out after 30m before every model converged");
  EXPECT_EQ(line.size(), 3u);
}

// Verifies the loggers MakeLogger builds: json lines parse and carry "warn"; text lines print
// "warn " too; the level filter applies.
TEST(MakeLoggerTest, JsonAndTextFormats) {
  auto json_out = std::make_shared<std::ostringstream>();
  auto json_logger =
      MakeLogger("json", "info", std::make_shared<spdlog::sinks::ostream_sink_mt>(*json_out));
  json_logger->debug("hidden");
  json_logger->warn("Reconcile failed model={} attempt={}", "foo", 2);
  json_logger->flush();
  const std::string json_text = json_out->str();
  ASSERT_EQ(json_text.back(), '\n');
  const json line = json::parse(json_text);
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["msg"], "Reconcile failed");
  EXPECT_EQ(line["model"], "foo");
  EXPECT_EQ(line["attempt"], 2);

  auto text_out = std::make_shared<std::ostringstream>();
  auto text_logger =
      MakeLogger("text", "warn", std::make_shared<spdlog::sinks::ostream_sink_mt>(*text_out));
  text_logger->info("hidden");
  text_logger->warn("Careful a=1");
  text_logger->error("Broken");
  text_logger->flush();
  const std::string text = text_out->str();
  EXPECT_NE(text.find("Z warn  Careful a=1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Z error Broken\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("warning"), std::string::npos);
  EXPECT_EQ(text.find("hidden"), std::string::npos);
}

// Verifies the level names of the text format.
TEST(MakeLoggerTest, LevelName) {
  EXPECT_EQ(LevelName(spdlog::level::warn), "warn");
  EXPECT_EQ(LevelName(spdlog::level::err), "error");
  EXPECT_EQ(LevelName(spdlog::level::trace), "trace");
}

}  // namespace
}  // namespace cmlr::daemon
