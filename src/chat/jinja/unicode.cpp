#include "chat/jinja/unicode.h"

#include "core/utf8.h"

#include <utf8proc.h>

namespace salut::jinja::unicode {

namespace {

constexpr char32_t kBadByteBase = 0xDC00;  // like Python's surrogateescape

utf8proc_category_t category(char32_t cp) {
  if (is_bad_byte(cp)) return UTF8PROC_CATEGORY_CS;
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

}  // namespace

char32_t next(std::string_view s, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = byte(pos);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  }
  if (len == 0 || pos + len > s.size()) {
    ++pos;
    return kBadByteBase + b0;
  }
  for (size_t i = 1; i < len; ++i) {
    unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return kBadByteBase + b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++pos;
    return kBadByteBase + b0;
  }
  pos += len;
  return cp;
}

bool is_bad_byte(char32_t cp) { return cp >= kBadByteBase + 0x80 && cp <= kBadByteBase + 0xFF; }

void append(std::string& out, char32_t cp) {
  if (is_bad_byte(cp)) out.push_back(static_cast<char>(cp - kBadByteBase));
  else append_utf8(out, cp);
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) next(s, pos);
  return n;
}

std::vector<size_t> offsets(std::string_view s) {
  std::vector<size_t> result;
  for (size_t pos = 0; pos < s.size();) {
    result.push_back(pos);
    next(s, pos);
  }
  result.push_back(s.size());
  return result;
}

bool is_space(char32_t cp) {
  switch (cp) {
    case ' ': case '\t': case '\n': case '\r': case 0x0B: case 0x0C:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_printable(char32_t cp) {
  if (cp == ' ') return true;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

bool is_cased(char32_t cp) {
  auto c = category(cp);
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}
bool is_upper(char32_t cp) { return category(cp) == UTF8PROC_CATEGORY_LU; }
bool is_lower(char32_t cp) { return category(cp) == UTF8PROC_CATEGORY_LL; }
bool is_alpha(char32_t cp) {
  auto c = category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}
bool is_decimal(char32_t cp) { return category(cp) == UTF8PROC_CATEGORY_ND; }
bool is_digit(char32_t cp) {
  // Python counts superscript digits etc. as digits; close enough: decimal digits and No digits.
  return is_decimal(cp) || (cp >= 0xB2 && cp <= 0xB3) || cp == 0xB9 || (cp >= 0x2070 && cp <= 0x2079) ||
         (cp >= 0x2080 && cp <= 0x2089) || (cp >= 0x2460 && cp <= 0x2468);
}
bool is_numeric(char32_t cp) {
  auto c = category(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}
bool is_word(char32_t cp) {
  if (cp == '_') return true;
  auto c = category(cp);
  return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
         (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO) || c == UTF8PROC_CATEGORY_MN ||
         c == UTF8PROC_CATEGORY_MC;
}

char32_t to_upper(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (is_bad_byte(cp)) return cp;
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}
char32_t to_lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (is_bad_byte(cp)) return cp;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}
char32_t to_title(char32_t cp) {
  if (cp < 0x80 || is_bad_byte(cp)) return to_upper(cp);
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

namespace {

template <typename F>
std::string map_code_points(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) unicode::append(out, f(unicode::next(s, pos)));
  return out;
}

}  // namespace

std::string upper(std::string_view s) { return map_code_points(s, to_upper); }
std::string lower(std::string_view s) { return map_code_points(s, to_lower); }

std::string capitalize(std::string_view s) {
  bool first = true;
  return map_code_points(s, [&](char32_t cp) {
    char32_t r = first ? to_title(cp) : to_lower(cp);
    first = false;
    return r;
  });
}

std::string title(std::string_view s) {
  bool previous_cased = false;
  return map_code_points(s, [&](char32_t cp) {
    char32_t r = previous_cased ? to_lower(cp) : to_title(cp);
    previous_cased = is_cased(cp);
    return r;
  });
}

std::string_view strip(std::string_view s, bool left, bool right) {
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end) {
      size_t pos = begin;
      if (!is_space(next(s, pos))) break;
      begin = pos;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;  // walk back to the start of the last code point
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) --start;
      size_t pos = start;
      char32_t cp = next(s, pos);
      if (pos != end) {  // not one clean code point: treat the last byte on its own
        start = end - 1;
        pos = start;
        cp = next(s, pos);
      }
      if (!is_space(cp)) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  std::vector<char32_t> set;
  for (size_t pos = 0; pos < chars.size();) set.push_back(next(chars, pos));
  auto in_set = [&](char32_t cp) {
    for (char32_t c : set)
      if (c == cp) return true;
    return false;
  };
  std::vector<size_t> offs = offsets(s);
  size_t n = offs.size() - 1;
  size_t begin = 0, end = n;
  auto cp_at = [&](size_t i) {
    size_t pos = offs[i];
    return next(s, pos);
  };
  if (left)
    while (begin < end && in_set(cp_at(begin))) ++begin;
  if (right)
    while (end > begin && in_set(cp_at(end - 1))) --end;
  return s.substr(offs[begin], offs[end] - offs[begin]);
}

bool all_cased_are(std::string_view s, bool upper) {
  bool any = false;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = next(s, pos);
    if (!is_cased(cp)) continue;
    if (upper ? !is_upper(cp) : !is_lower(cp)) return false;
    any = true;
  }
  return any;
}

}  // namespace salut::jinja::unicode
