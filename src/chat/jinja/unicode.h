#pragma once
// UTF-8 helpers with Python `str` semantics: templates index, slice, strip and case-map strings by
// code point, as Python does. Invalid UTF-8 never throws: each bad byte counts as one code point and
// is copied through unchanged.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace salut::jinja::unicode {

// Decodes the code point at s[pos] and advances pos; a bad byte decodes as 0xDC00 + byte.
char32_t next(std::string_view s, size_t& pos);
void append(std::string& out, char32_t cp);
bool is_bad_byte(char32_t cp);  // a stand-in made by next() for an invalid byte

size_t length(std::string_view s);  // in code points
// Byte offset of every code point, plus s.size() at the end (only needed for non-ASCII strings).
std::vector<size_t> offsets(std::string_view s);
bool is_ascii(std::string_view s);

bool is_space(char32_t cp);      // str.isspace()
bool is_printable(char32_t cp);  // str.isprintable()
bool is_cased(char32_t cp);      // has an upper/lower/title case form (categories Lu, Ll, Lt)
bool is_upper(char32_t cp);
bool is_lower(char32_t cp);
bool is_alpha(char32_t cp);
bool is_digit(char32_t cp);      // str.isdigit()
bool is_decimal(char32_t cp);
bool is_numeric(char32_t cp);
bool is_word(char32_t cp);       // regex \w
// str.isupper() / str.islower(): at least one cased character, and every cased one has that case.
bool all_cased_are(std::string_view s, bool upper);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize()
std::string title(std::string_view s);       // str.title()
char32_t to_upper(char32_t cp);
char32_t to_lower(char32_t cp);
char32_t to_title(char32_t cp);

std::string_view strip(std::string_view s, bool left, bool right);  // whitespace
// Strips any code point in `chars` (Python str.strip(chars)).
std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right);

}  // namespace salut::jinja::unicode
