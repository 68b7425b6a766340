#pragma once
// Character sets and mappings as Hugging Face `tokenizers` sees them, generated from the
// Python `tokenizers` package by gen_unicode_tables.py (see there). Our own Unicode data
// (utf8proc, PCRE2) is of other Unicode versions; these tables close the gaps.

#include <cstddef>

namespace salut::tokenizer::tables {

struct Range {
  char32_t first, last;
};

// One code point whose result differs from utf8proc's, with the result `tokenizers` gives.
struct Mapping {
  char32_t cp;
  const char* utf8;
};

// Code points a PCRE2 Unicode property lacks but Oniguruma's has, as a class body.
struct PropertyExtra {
  const char* name;    // "L", "Lu", "Han", ...
  const char* ranges;  // "\\x{1C89}\\x{A7CB}-\\x{A7CD}..."
};

}  // namespace salut::tokenizer::tables

#include "tokenizer/unicode_tables.inc"
