#include "tokenizer/byte_level.h"

#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

ByteLevelAlphabet make_alphabet() {
  ByteLevelAlphabet a{};
  auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    a.char_of_byte[b] = printable(b) ? static_cast<char32_t>(b) : next++;
    append_utf8(a.utf8_of_byte[b], a.char_of_byte[b]);
  }
  return a;
}

}  // namespace

const ByteLevelAlphabet& byte_level_alphabet() {
  static const ByteLevelAlphabet alphabet = make_alphabet();
  return alphabet;
}

int byte_of_char(char32_t c) {
  static const auto table = [] {
    std::array<int16_t, 0x144> t;  // every character of the alphabet is below U+0144
    t.fill(-1);
    const ByteLevelAlphabet& a = byte_level_alphabet();
    for (int b = 0; b < 256; ++b) t[a.char_of_byte[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return c < table.size() ? table[c] : -1;
}

void append_byte_level(std::string& out, std::string_view bytes) {
  const ByteLevelAlphabet& a = byte_level_alphabet();
  for (unsigned char b : bytes) out += a.utf8_of_byte[b];
}

}  // namespace salut::tokenizer
