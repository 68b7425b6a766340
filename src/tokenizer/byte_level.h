#pragma once
// GPT-2's byte-level alphabet: each of the 256 bytes is shown as a printable character
// (printable Latin-1 bytes as themselves, the rest as U+0100 onwards), so any byte string
// becomes a string of "characters" that a BPE vocabulary can hold.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace salut::tokenizer {

struct ByteLevelAlphabet {
  std::array<char32_t, 256> char_of_byte;
  std::array<std::string, 256> utf8_of_byte;  // UTF-8 of char_of_byte, one or two bytes
};

const ByteLevelAlphabet& byte_level_alphabet();

// The byte a character stands for, or -1 if it is not in the alphabet.
int byte_of_char(char32_t c);

// Appends each byte of `bytes` as its character.
void append_byte_level(std::string& out, std::string_view bytes);

}  // namespace salut::tokenizer
