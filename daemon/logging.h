#pragma once

#include <exception>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace cmlr::daemon {

// The daemon's logger on stderr: `format` "text" (time, level, message) or "json" (one object
// a line: time, level, msg); `level` trace..error. Library code gets it passed in.
std::shared_ptr<spdlog::logger> MakeLogger(const std::string& format, const std::string& level);

// What an exception caught by a coroutine's completion handler says: its what() for a
// std::exception, "unknown exception" for anything else, "none" for a null pointer.
std::string DescribeException(const std::exception_ptr& failure);

}  // namespace cmlr::daemon
