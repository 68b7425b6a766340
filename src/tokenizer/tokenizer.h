#pragma once
// Salut's tokenizer: a faithful C++ implementation of Hugging Face `tokenizers` for
// tokenizer.json, written by hand (no C++ tokenizer library is packaged for Debian).
//
// encode():  added tokens -> normalizer -> pre-tokenizer -> model (BPE, WordPiece, WordLevel)
//            -> post-processor (special tokens, when asked for)
// decode():  IDs -> token strings -> decoder chain -> text
//
// Every Tokenizer method is const and safe to call from many threads at once. Copies are
// cheap: they share the immutable tables.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salut::tokenizer {

struct TokenizerParts;

class Tokenizer {
 public:
  // tokenizer.json exactly as `tokenizers.Tokenizer.from_file` reads it. Throws salut::Error
  // (invalid_argument, or not_found/io for the file) with a message that says what is wrong.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json(std::string_view tokenizer_json);

  // A model folder as transformers' AutoTokenizer loads it: tokenizer.json, adjusted by
  // tokenizer_config.json where transformers rebuilds the pipeline (a LlamaTokenizer whose
  // tokenizer.json is not byte-level gets the Metaspace pre-tokenizer transformers gives it).
  static Tokenizer from_dir(const std::filesystem::path& model_dir);
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json);

  // Text that is not valid UTF-8 is first repaired the way Python's decode("utf-8", "replace")
  // does (one U+FFFD per ill-formed subsequence).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // IDs the tokenizer does not know are skipped, as in `tokenizers`.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The token's string ("" when there is no such ID).
  std::string id_to_token(int32_t id) const;
  // Distinct tokens, added tokens included (tokenizers' get_vocab_size(with_added_tokens=True)).
  size_t vocab_size() const;
  // True for added tokens marked special (<|im_start|>, <s>, ...).
  bool is_special(int32_t id) const;
  // The bytes the token adds to decoded text in the middle of a sequence, before any UTF-8
  // repair: a byte-level token's bytes, a <0xAB> byte-fallback token's byte, "▁" as a space; an
  // added token's content. Possibly a part of a character; "" when there is no such ID.
  std::string token_bytes(int32_t id) const;

 private:
  explicit Tokenizer(std::shared_ptr<const TokenizerParts> parts);
  friend Tokenizer make_tokenizer(std::shared_ptr<const TokenizerParts> parts);
  friend class StreamingDetokenizer;
  // True for an ID whose text the decoder may still change when more IDs follow.
  bool continues_byte_run(int32_t id) const;
  // True for an ID that decode() drops (unknown, or special when skipping them).
  bool decodes_to_nothing(int32_t id, bool skip_special_tokens) const;
  // False when the decoder needs the whole text (see Decoder::streams_by_window).
  bool streams_by_window() const;
  std::shared_ptr<const TokenizerParts> parts_;
};

// Turns generated token IDs into text as they arrive. Text is only emitted once it is
// complete UTF-8 (a character split over byte-fallback or byte-level tokens waits for its
// last byte), and the concatenation of everything push() and finish() return equals
// tokenizer.decode(all ids, skip_special_tokens). A decoder that needs the whole text (no real
// model's so far) makes it hold everything back until finish().
class StreamingDetokenizer {
 public:
  StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);
  // The new text this ID completes (often empty).
  std::string push(int32_t id);
  // Whatever is still held back (at the end of generation); the detokenizer then starts over.
  std::string finish();

 private:
  // As `tokenizers`' DecodeStream: the recent IDs are decoded together, and what they decode
  // to beyond the text of the first `prefix_ids_` of them is new.
  Tokenizer tokenizer_;
  bool skip_special_tokens_;
  bool by_window_;  // tokenizer_.streams_by_window(), asked once
  std::vector<int32_t> window_;
  std::string prefix_;      // decode(window_[0, prefix_ids_)), already returned
  size_t prefix_ids_ = 0;

  // True while the window ends in a run of byte-fallback tokens (IDs decode drops do not end it).
  bool in_byte_run() const;
};

}  // namespace salut::tokenizer
