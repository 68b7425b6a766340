#pragma once
// Decoders turn token strings back into text. Like `tokenizers`, each step maps the list of
// token strings to a new list (decode_chain), and the result is their concatenation.

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_util.h"

namespace salut::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  // True if the chain has a ByteFallback step: a run of <0xNN> tokens is then decoded as a
  // whole (one bad byte turns the whole run into U+FFFD), which the streaming detokenizer
  // must wait for.
  virtual bool reads_byte_runs() const { return false; }
};

// The byte of a ByteFallback token ("<0x41>" is 0x41), or -1.
int parse_byte_token(std::string_view token);

// Builds the decoder of tokenizer.json's "decoder" (nullptr for null).
std::unique_ptr<Decoder> parse_decoder(const Json& config);

// transformers' LlamaTokenizer decoder: Replace("▁", " "), ByteFallback, Fuse, and Strip(" ", 1, 0)
// when a prefix space is added (see transformers_compat).
std::unique_ptr<Decoder> make_llama_decoder(bool strip_prefix_space);

}  // namespace salut::tokenizer
