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
  // True if decoding a window of recent tokens gives what they add to the whole text, which the
  // streaming detokenizer relies on; `fused` says an earlier step joined the tokens into one
  // string, so this step sees the window's text, not each token's. Untrue for steps that
  // look across a token boundary or at the text's ends: Strip beyond one leading character
  // (a window's start is not the text's), Replace of a longer pattern, CTC's de-duplication.
  virtual bool streams_by_window(bool fused) const { return (void)fused, true; }
  // True for a step that joins every token into one string (Fuse, ByteLevel).
  virtual bool fuses() const { return false; }
};

// The byte of a ByteFallback token ("<0x41>" is 0x41), or -1.
int parse_byte_token(std::string_view token);

// Builds the decoder of tokenizer.json's "decoder" (nullptr for null).
std::unique_ptr<Decoder> parse_decoder(const Json& config);

// transformers' LlamaTokenizer decoder: Replace("▁", " "), ByteFallback, Fuse, and Strip(" ", 1, 0)
// when a prefix space is added (see transformers_compat).
std::unique_ptr<Decoder> make_llama_decoder(bool strip_prefix_space);

}  // namespace salut::tokenizer
