#include "common/utf8.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace cmlr::common {
namespace {

using namespace std::string_view_literals;

// Verifies that each well-formed sequence length, up to the largest code point, is measured.
TEST(Utf8Test, MeasuresWellFormedSequences) {
  const std::vector<std::pair<std::string_view, std::size_t>> cases = {
      {"a", 1},
      {"\x7F", 1},
      {"\0"sv, 1},
      {"\xC3\xA9", 2},          // é
      {"\xE2\x82\xAC", 3},      // €
      {"\xEF\xBF\xBD", 3},      // U+FFFD
      {"\xF0\x9F\x98\x80", 4},  // 😀
      {"\xF4\x8F\xBF\xBF", 4},  // U+10FFFF
      {"\xC3\xA9xyz", 2},       // only the first character counts
  };
  for (const auto& [text, length] : cases) EXPECT_EQ(Utf8Length(text), length) << text;
}

// Verifies that every ill-formed start is 0: empty text, stray continuation bytes, bytes that
// never occur, truncated and overlong sequences, surrogates and code points past U+10FFFF.
TEST(Utf8Test, RejectsIllFormedSequences) {
  for (const std::string_view text : {
           ""sv,
           "\x80"sv,              // continuation byte without a lead
           "\xBF"sv,              //
           "\xFF"sv,              // never valid
           "\xF8\x88\x80\x80"sv,  // a 5-byte form
           "\xC3"sv,              // truncated
           "\xE2\x82"sv,          //
           "\xC3("sv,             // lead followed by a non-continuation byte
           "\xC0\xAF"sv,          // overlong '/'
           "\xE0\x80\xAF"sv,      // overlong '/'
           "\xF0\x82\x82\xAC"sv,  // overlong '€'
           "\xED\xA0\x80"sv,      // U+D800, a surrogate
           "\xED\xBF\xBF"sv,      // U+DFFF
           "\xF4\x90\x80\x80"sv,  // U+110000
       }) {
    EXPECT_EQ(Utf8Length(text), 0u) << ::testing::PrintToString(std::string(text));
  }
}

}  // namespace
}  // namespace cmlr::common
