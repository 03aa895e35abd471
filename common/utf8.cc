#include "common/utf8.h"

namespace cmlr::common {

namespace {

// What a lead byte announces: the sequence length, the smallest code point that length may
// carry (anything below is an overlong form) and the payload bits of the lead byte.
struct Lead {
  std::size_t length = 0;
  char32_t min = 0;
  char32_t bits = 0;
};

Lead ReadLead(unsigned char c) {
  if (c < 0x80) return {1, 0, c};
  if ((c & 0xE0) == 0xC0) return {2, 0x80, static_cast<char32_t>(c & 0x1F)};
  if ((c & 0xF0) == 0xE0) return {3, 0x800, static_cast<char32_t>(c & 0x0F)};
  if ((c & 0xF8) == 0xF0) return {4, 0x10000, static_cast<char32_t>(c & 0x07)};
  return {};
}

}  // namespace

std::size_t Utf8Length(std::string_view text) {
  if (text.empty()) return 0;
  const Lead lead = ReadLead(static_cast<unsigned char>(text[0]));
  if (lead.length == 0 || text.size() < lead.length) return 0;
  char32_t code = lead.bits;
  for (std::size_t k = 1; k < lead.length; ++k) {
    const auto next = static_cast<unsigned char>(text[k]);
    if ((next & 0xC0) != 0x80) return 0;
    code = (code << 6) | (next & 0x3F);
  }
  if (code < lead.min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return lead.length;
}

}  // namespace cmlr::common
