#pragma once
// Pre-tokenizers cut normalized text into pieces (words) that the model tokenizes one by one.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_util.h"

namespace salut::tokenizer {

// Text cut into pieces. Pre-tokenizers cut pieces further and may rewrite them.
struct PreTokenized {
  struct Piece {
    size_t begin, end;  // in `text`
    bool at_start;      // starts at the first byte of the caller's input (Metaspace "first")
  };
  std::string text;
  std::vector<Piece> pieces;

  std::string_view view(const Piece& p) const { return std::string_view(text).substr(p.begin, p.end - p.begin); }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenized& text) const = 0;
  // True if the last step is ByteLevel: its byte-to-character mapping can be left to the
  // model, which then reads raw bytes (faster, and the same tokens).
  virtual bool ends_with_byte_level() const { return false; }
  // Stops that last ByteLevel step from mapping bytes.
  virtual void leave_bytes_unmapped() {}
};

// Builds the pre-tokenizer described by tokenizer.json's "pre_tokenizer" (nullptr for null).
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& config);

}  // namespace salut::tokenizer
