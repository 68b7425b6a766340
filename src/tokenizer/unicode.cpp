#include "tokenizer/unicode.h"

#include "core/utf8.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/error.h"
#include "tokenizer/unicode_tables.h"

namespace salut::tokenizer {
namespace {

bool in_ranges(std::span<const tables::Range> ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const tables::Range& r) { return c < r.first; });
  return it != ranges.begin() && cp <= std::prev(it)->last;
}

const char* find_mapping(std::span<const tables::Mapping> mappings, char32_t cp) {
  auto it = std::lower_bound(mappings.begin(), mappings.end(), cp,
                             [](const tables::Mapping& m, char32_t c) { return m.cp < c; });
  return it != mappings.end() && it->cp == cp ? it->utf8 : nullptr;
}

std::span<const tables::Mapping> exceptions(NormalForm form) {
  switch (form) {
    case NormalForm::NFC: return tables::kNfc;
    case NormalForm::NFD: return tables::kNfd;
    case NormalForm::NFKC: return tables::kNfkc;
    case NormalForm::NFKD: return tables::kNfkd;
  }
  return {};
}

// One bit per code point: set when normalization might change it or its neighbours
// (a combining class, a decomposition, a composition partner, Hangul, or a table exception).
class NormalizationFilter {
 public:
  NormalizationFilter() : bits_(0x110000 / 64, 0) {
    for (char32_t cp = 0; cp < 0x110000; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
      bool hangul = (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7A3);
      if (p->combining_class != 0 || p->decomp_seqindex != UINT16_MAX || p->comb_index != UINT16_MAX || hangul)
        set(cp);
    }
    for (NormalForm form : {NormalForm::NFC, NormalForm::NFD, NormalForm::NFKC, NormalForm::NFKD})
      for (const tables::Mapping& m : exceptions(form))
        if (m.cp < 0x110000) set(m.cp);  // 0x110000 marks an empty table
  }
  bool may_change(char32_t cp) const { return (bits_[cp >> 6] >> (cp & 63)) & 1; }

 private:
  void set(char32_t cp) { bits_[cp >> 6] |= uint64_t{1} << (cp & 63); }
  std::vector<uint64_t> bits_;
};

const NormalizationFilter& normalization_filter() {
  static const NormalizationFilter filter;
  return filter;
}

void append_utf8proc(std::string& out, std::string_view text, NormalForm form) {
  if (text.empty()) return;
  int options = UTF8PROC_STABLE;
  if (form == NormalForm::NFC || form == NormalForm::NFKC) options |= UTF8PROC_COMPOSE;
  else options |= UTF8PROC_DECOMPOSE;
  if (form == NormalForm::NFKC || form == NormalForm::NFKD) options |= UTF8PROC_COMPAT;
  utf8proc_uint8_t* result = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &result,
                                    static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(result, &std::free);
  if (n < 0) throw Error(Errc::internal, std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
  out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
}

}  // namespace

char32_t previous_code_point(std::string_view text, size_t& end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  size_t pos = start;
  char32_t cp = next_code_point(text, pos);
  end = start;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) { salut::append_utf8(out, cp); }

namespace {

// Length of the well-formed sequence at bytes[pos], or 0 with `subpart` set to the length of
// its maximal ill-formed subpart (the Unicode standard, table 3-7 and section 3.9).
size_t well_formed_length(std::string_view bytes, size_t pos, size_t& subpart) {
  auto at = [&](size_t i) -> int {
    return pos + i < bytes.size() ? static_cast<unsigned char>(bytes[pos + i]) : -1;
  };
  int lead = at(0);
  size_t length = 0;
  int second_lo = 0x80, second_hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_lo = 0xA0;  // no overlongs
    if (lead == 0xED) second_hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_lo = 0x90;  // no overlongs
    if (lead == 0xF4) second_hi = 0x8F;  // nothing above U+10FFFF
  } else {
    subpart = 1;
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    int b = at(i);
    bool ok = i == 1 ? (b >= second_lo && b <= second_hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) {
      subpart = i;
      return 0;
    }
  }
  return length;
}

}  // namespace

size_t utf8_sequence_length(std::string_view bytes, size_t pos) {
  if (static_cast<unsigned char>(bytes[pos]) < 0x80) return 1;
  size_t subpart;
  return well_formed_length(bytes, pos, subpart);
}

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0, n = text.size();
  while (pos < n) {
    // Skip ASCII eight bytes at a time.
    while (pos + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + pos, 8);
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= n) break;
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    size_t subpart;
    size_t len = well_formed_length(text, pos, subpart);
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 16);
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (static_cast<unsigned char>(bytes[pos]) < 0x80) {
      out.push_back(bytes[pos++]);
      continue;
    }
    size_t subpart;
    size_t len = well_formed_length(bytes, pos, subpart);
    if (len) {
      out.append(bytes.substr(pos, len));
      pos += len;
    } else {
      append_utf8(out, kReplacementChar);
      pos += subpart;
    }
  }
  return out;
}

bool is_whitespace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_numeric(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(tables::kNumeric, cp);
}

bool is_punctuation(char32_t cp) { return in_ranges(tables::kPunctuation, cp); }

bool is_combining_mark(char32_t cp) { return in_ranges(tables::kCombiningMark, cp); }

bool is_nonspacing_mark(char32_t cp) { return in_ranges(tables::kNonspacingMark, cp); }

bool is_word_char(char32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  return in_ranges(tables::kWord, cp);
}

bool is_control(char32_t cp) { return in_ranges(tables::kBertControl, cp); }

bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

void append_lowercase(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
  } else if (const char* mapped = find_mapping(tables::kLowercase, cp)) {
    out.append(mapped);
  } else {
    append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
}

void append_uppercase(std::string& out, char32_t cp) {
  append_utf8(out, static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))));
}

std::string normalize(std::string_view text, NormalForm form) {
  const NormalizationFilter& filter = normalization_filter();
  size_t pos = 0;
  bool may_change = false;
  while (pos < text.size() && !may_change) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    may_change = filter.may_change(next_code_point(text, pos));
  }
  if (!may_change) return std::string(text);

  // Code points whose result differs between utf8proc and `tokenizers` are starters that
  // never combine in `tokenizers`' Unicode version, so the text can be cut around them.
  std::span<const tables::Mapping> table = exceptions(form);
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  size_t run_start = 0;
  pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    char32_t cp = next_code_point(text, pos);
    if (cp < 0x80) continue;
    if (const char* mapped = find_mapping(table, cp)) {
      append_utf8proc(out, text.substr(run_start, start - run_start), form);
      out.append(mapped);
      run_start = pos;
    }
  }
  append_utf8proc(out, text.substr(run_start), form);
  return out;
}

uint64_t hash_bytes(const void* data, size_t size) {
  auto mix = [](uint64_t x) {
    __uint128_t m = static_cast<__uint128_t>(x) * 0x9E3779B97F4A7C15ull;
    return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
  };
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0x2545F4914F6CDD1Dull ^ size;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = mix(h ^ word);
    p += 8;
    size -= 8;
  }
  if (size > 0) {
    uint64_t word = 0;
    std::memcpy(&word, p, size);
    h = mix(h ^ word ^ (uint64_t{size} << 59));
  }
  return mix(h ^ 0x94D049BB133111EBull);
}

}  // namespace salut::tokenizer
