#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/logger.h>

namespace cmlr::daemon {

// The daemon's logger on stderr (or on `sink` in tests): `format` "text" (time, level, message)
// or "json" (one object a line, see FormatJsonLogLine); `level` trace..error. Library code gets
// it passed in. Levels print as trace, debug, info, warn, error (spdlog's "warning" is "warn",
// "critical" is "error": design section 6 knows only those five).
std::shared_ptr<spdlog::logger> MakeLogger(const std::string& format, const std::string& level,
                                           spdlog::sink_ptr sink = nullptr);

// The level's name as the logs print it.
std::string_view LevelName(spdlog::level::level_enum level);

// One key=value field of a log message. `quoted` when the value was written "..." (a quoted
// value stays a JSON string even when it looks like a number).
struct LogField {
  std::string key;
  std::string value;
  bool quoted = false;

  friend bool operator==(const LogField&, const LogField&) = default;
};

// A log message split the way the project writes them: "Sentence key=value key=\"quoted\"".
// The fields are the longest trailing run of key=value tokens separated by spaces; `msg` is the
// text before that run, without trailing spaces (the whole message when there is no such run).
// A key is [A-Za-z_][A-Za-z0-9_.-]*. A bare value runs up to the next space and holds no '"';
// a quoted value runs to a '"' followed by a space or the end such that the rest still splits
// (so an unescaped '"' inside, as an exception's text may hold, survives); \" and \\ inside it
// stand for '"' and '\'. A message longer than 64 KiB is not split.
struct SplitMessage {
  std::string msg;
  std::vector<LogField> fields;
};
SplitMessage SplitLogMessage(std::string_view message);

// The JSON log line (no newline) for one message: {"time":"2026-01-01T00:00:00.000Z",
// "level":"warn","msg":"...", then one key per field}. A bare value that is a JSON number is
// written as a number, anything else as a string. A field named time, level or msg becomes
// field_time, field_level, field_msg; a repeated key gets _2, _3, ... Strings are escaped for
// JSON (control characters as \uXXXX, well-formed UTF-8 kept, ill-formed bytes as U+FFFD).
std::string FormatJsonLogLine(std::chrono::system_clock::time_point time,
                              spdlog::level::level_enum level, std::string_view message);

// What an exception caught by a coroutine's completion handler says: its what() for a
// std::exception, "unknown exception" for anything else, "none" for a null pointer.
std::string DescribeException(const std::exception_ptr& failure);

}  // namespace cmlr::daemon
