#include "daemon/logging.h"

#include <ctime>
#include <set>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/utf8.h"

namespace cmlr::daemon {

namespace {

// Messages longer than this are not split (the split is quadratic at worst).
constexpr std::size_t kMaxSplitBytes = 64 * 1024;

bool IsKeyStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsKeyChar(char c) { return IsKeyStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Unescape(std::string_view quoted) {
  std::string out;
  out.reserve(quoted.size());
  for (std::size_t i = 0; i < quoted.size(); ++i) {
    if (quoted[i] == '\\' && i + 1 < quoted.size() &&
        (quoted[i + 1] == '"' || quoted[i + 1] == '\\')) {
      ++i;
    }
    out.push_back(quoted[i]);
  }
  return out;
}

// Finds, right to left without recursion, the token starts from which the rest of the text is
// a run of key=value tokens, and for each the first way its value can end.
class FieldParser {
 public:
  explicit FieldParser(std::string_view text)
      : text_(text), value_end_(text.size() + 1, kNo), next_(text.size() + 1, kNo) {
    const std::size_t n = text_.size();
    for (std::size_t pos = n; pos-- > 0;) {
      if (text_[pos] != ' ' && (pos == 0 || text_[pos - 1] == ' ')) Solve(pos);
    }
  }

  // Whether text[pos..] is one or more key=value tokens (pos at a token start).
  bool Runs(std::size_t pos) const { return value_end_[pos] != kNo; }

  // The fields from `pos`, which Runs().
  std::vector<LogField> Fields(std::size_t pos) const {
    std::vector<LogField> fields;
    while (pos < text_.size()) {
      const std::size_t eq = text_.find('=', pos);
      const std::size_t end = value_end_[pos];
      // A bare value holds no '"': one that starts with it is quoted.
      const bool quoted = eq + 1 < text_.size() && text_[eq + 1] == '"';
      const std::string_view value = text_.substr(eq + 1, end - eq - 1);
      fields.push_back({std::string(text_.substr(pos, eq - pos)),
                        quoted ? Unescape(value.substr(1, value.size() - 2)) : std::string(value),
                        quoted});
      pos = next_[pos];
    }
    return fields;
  }

 private:
  static constexpr std::size_t kNo = static_cast<std::size_t>(-1);

  // Whether a value ending just before `end` (a space or the end) can be followed by the rest;
  // sets next_[pos].
  bool Follows(std::size_t pos, std::size_t end) {
    std::size_t next = end;
    while (next < text_.size() && text_[next] == ' ') ++next;
    if (next < text_.size() && !Runs(next)) return false;
    next_[pos] = next;
    value_end_[pos] = end;
    return true;
  }

  void Solve(std::size_t pos) {
    const std::size_t n = text_.size();
    if (!IsKeyStart(text_[pos])) return;
    std::size_t eq = pos + 1;
    while (eq < n && IsKeyChar(text_[eq])) ++eq;
    if (eq >= n || text_[eq] != '=') return;
    const std::size_t value_start = eq + 1;
    if (value_start < n && text_[value_start] == '"') {
      // Each '"' followed by a space or the end may close the value: the first after which the
      // rest still runs does.
      for (std::size_t i = value_start + 1; i < n; ++i) {
        if (text_[i] == '\\' && i + 1 < n) {
          ++i;
          continue;
        }
        if (text_[i] != '"' || (i + 1 < n && text_[i + 1] != ' ')) continue;
        if (Follows(pos, i + 1)) return;
      }
      return;
    }
    std::size_t end = value_start;
    while (end < n && text_[end] != ' ') {
      if (text_[end] == '"') return;
      ++end;
    }
    Follows(pos, end);
  }

  std::string_view text_;
  std::vector<std::size_t> value_end_;  // one past the value, or kNo when no run starts here
  std::vector<std::size_t> next_;       // the next token's start, or the text's size
};

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (IsDigit(s[i])) {
    while (i < n && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  return i == n;
}

void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t length = common::Utf8Length(text.substr(i));
      if (length == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out.append(fmt::format("\\u{:04x}", static_cast<unsigned>(u)));
        } else {
          out.push_back(c);
        }
    }
    ++i;
  }
  out.push_back('"');
}

std::string FormatUtcMillis(std::chrono::system_clock::time_point time) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(millis / 1000);
  long long ms = millis % 1000;
  if (ms < 0) {
    ms += 1000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = FormatJsonLogLine(msg.time, msg.level,
                                         std::string_view(msg.payload.data(), msg.payload.size()));
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The level name padded to five characters, for the text format.
class PaddedLevel final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string padded = fmt::format("{:<5}", LevelName(msg.level));
    dest.append(padded.data(), padded.data() + padded.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PaddedLevel>();
  }
};

}  // namespace

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
    case spdlog::level::critical:
      return "error";
    default:
      return "off";
  }
}

SplitMessage SplitLogMessage(std::string_view message) {
  SplitMessage split;
  if (message.size() <= kMaxSplitBytes) {
    const FieldParser parser(message);
    for (std::size_t p = 0; p < message.size(); ++p) {
      if (message[p] == ' ' || (p > 0 && message[p - 1] != ' ') || !parser.Runs(p)) continue;
      std::size_t end = p;
      while (end > 0 && message[end - 1] == ' ') --end;
      split.msg = std::string(message.substr(0, end));
      split.fields = parser.Fields(p);
      return split;
    }
  }
  split.msg = std::string(message);
  return split;
}

std::string FormatJsonLogLine(std::chrono::system_clock::time_point time,
                              spdlog::level::level_enum level, std::string_view message) {
  const SplitMessage split = SplitLogMessage(message);
  std::string out;
  out.reserve(message.size() + 64);
  out.append(R"({"time":")").append(FormatUtcMillis(time)).append(R"(","level":")");
  out.append(LevelName(level)).append(R"(","msg":)");
  AppendJsonString(out, split.msg);
  std::set<std::string, std::less<>> used = {"time", "level", "msg"};
  for (const LogField& field : split.fields) {
    const bool reserved = field.key == "time" || field.key == "level" || field.key == "msg";
    std::string key = reserved ? "field_" + field.key : field.key;
    if (used.contains(key)) {
      for (int n = 2;; ++n) {
        std::string candidate = fmt::format("{}_{}", key, n);
        if (!used.contains(candidate)) {
          key = std::move(candidate);
          break;
        }
      }
    }
    used.insert(key);
    out.push_back(',');
    AppendJsonString(out, key);
    out.push_back(':');
    if (!field.quoted && IsJsonNumber(field.value)) {
      out.append(field.value);
    } else {
      AppendJsonString(out, field.value);
    }
  }
  out.push_back('}');
  return out;
}

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& format, const std::string& level,
                                           spdlog::sink_ptr sink) {
  if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("cml-reconciler", std::move(sink));
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<PaddedLevel>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%*%$ %v");
    logger->set_formatter(std::move(formatter));
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::string DescribeException(const std::exception_ptr& failure) {
  if (!failure) return "none";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace cmlr::daemon
