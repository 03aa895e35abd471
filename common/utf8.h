#pragma once

#include <cstddef>
#include <string_view>

namespace cmlr::common {

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates (U+D800..DFFF),
// nothing above U+10FFFF. The one place the project decides what is valid UTF-8 (server text
// in error messages, desired-state files).

// The length in bytes (1 to 4) of the well-formed UTF-8 sequence that starts `text`, or 0 when
// `text` is empty or does not start with one (a stray continuation byte, a truncated or
// overlong sequence, a surrogate, a code point above U+10FFFF).
std::size_t Utf8Length(std::string_view text);

}  // namespace cmlr::common
