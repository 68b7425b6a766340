#pragma once
// UTF-8 and Unicode helpers with the exact semantics of the Rust code inside Hugging Face
// `tokenizers` (char::is_whitespace, from_utf8_lossy, the unicode-normalization crate, ...).
// Properties come from utf8proc, corrected by tables generated from `tokenizers` itself
// (unicode_tables.inc) where its Unicode version differs from ours.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace salut::tokenizer {

constexpr char32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence that starts with `lead` (valid UTF-8 assumed; 1 for stray bytes).
inline size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the code point starting at text[pos] of valid UTF-8 and advances pos past it.
inline char32_t next_code_point(std::string_view text, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  size_t n = utf8_length(lead);
  if (pos + n > text.size()) return pos = text.size(), kReplacementChar;  // only on invalid input
  char32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (byte(pos + i) & 0x3F);
  pos += n;
  return cp;
}

// The code point that ends at text[end) (valid UTF-8 assumed); moves end to its start.
char32_t previous_code_point(std::string_view text, size_t& end);

void append_utf8(std::string& out, char32_t cp);

// Length of the well-formed UTF-8 sequence starting at bytes[pos], 0 when ill-formed.
size_t utf8_sequence_length(std::string_view bytes, size_t pos);

// True when `text` is well-formed UTF-8 (no surrogates, no overlongs, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Replaces every ill-formed sequence by U+FFFD, one per maximal subpart, exactly like Rust's
// String::from_utf8_lossy and Python's bytes.decode("utf-8", "replace").
std::string to_valid_utf8(std::string_view bytes);

// char::is_whitespace: the Unicode White_Space property.
bool is_whitespace(char32_t cp);
// char::is_numeric: general categories Nd, Nl, No.
bool is_numeric(char32_t cp);
// The Punctuation and BertPreTokenizer test: ASCII punctuation or a Unicode P* category.
bool is_punctuation(char32_t cp);
// unicode-normalization's is_combining_mark (StripAccents).
bool is_combining_mark(char32_t cp);
// The unicode_categories crate's is_mark_nonspacing (BertNormalizer's strip_accents).
bool is_nonspacing_mark(char32_t cp);
// The `regex` crate's \w (added-token single_word checks).
bool is_word_char(char32_t cp);
// BertNormalizer helpers.
bool is_control(char32_t cp);
bool is_chinese_char(char32_t cp);

// Appends char::to_lowercase(cp) (full mapping: U+0130 becomes two code points).
void append_lowercase(std::string& out, char32_t cp);
void append_uppercase(std::string& out, char32_t cp);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Unicode normalization of valid UTF-8, as the unicode-normalization crate computes it.
std::string normalize(std::string_view text, NormalForm form);

// Fast 64-bit hash of a byte string (not cryptographic).
uint64_t hash_bytes(const void* data, size_t size);
inline uint64_t hash_bytes(std::string_view s) { return hash_bytes(s.data(), s.size()); }

}  // namespace salut::tokenizer
