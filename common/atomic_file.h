#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace cmlr::common {

// Writes `content` to `path` through a temporary file beside it and a rename, so a reader sees
// the old content or the new one, never a part. INTERNAL naming the file when any step fails
// (the temporary file is removed then).
[[nodiscard]] Status WriteFileAtomically(const std::string& path, std::string_view content);

}  // namespace cmlr::common
