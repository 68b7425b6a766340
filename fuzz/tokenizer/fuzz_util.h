#pragma once
// Helpers shared by the tokenizer fuzz targets.

#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer::fuzz {

// A real tokenizer from tests/data/tokenizers (the fuzzers run from the repository root).
inline std::string read_gz(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) {
    std::fprintf(stderr, "cannot open %s (run from the repository root)\n", path.c_str());
    std::abort();
  }
  std::string out;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) out.append(buffer, n);
  gzclose(file);
  return out;
}

inline Tokenizer real_tokenizer(const std::string& name, bool with_config) {
  std::string dir = "tests/data/tokenizers/" + name + "/";
  std::string json = read_gz(dir + "tokenizer.json.gz");
  return with_config ? Tokenizer::from_json(json, read_gz(dir + "tokenizer_config.json.gz")) : Tokenizer::from_json(json);
}

// Aborts (a finding) unless `condition` holds.
inline void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::abort();
  }
}

// Decoding must give valid UTF-8, and streaming must give exactly what decode gives.
inline void check_decoding(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  for (bool skip : {false, true}) {
    std::string text = tokenizer.decode(ids, skip);
    check(is_valid_utf8(text), "decode returned invalid UTF-8");
    StreamingDetokenizer stream(tokenizer, skip);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = stream.push(id);
      check(is_valid_utf8(piece), "streaming returned invalid UTF-8");
      streamed += piece;
    }
    streamed += stream.finish();
    check(streamed == text, "streamed text differs from decode");
  }
}

}  // namespace salut::tokenizer::fuzz
