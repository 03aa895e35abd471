#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace cmlr::daemon {

// The daemon's logger on stderr: `format` "text" (time, level, message) or "json" (one object
// a line: time, level, msg); `level` trace..error. Library code gets it passed in.
std::shared_ptr<spdlog::logger> MakeLogger(const std::string& format, const std::string& level);

}  // namespace cmlr::daemon
