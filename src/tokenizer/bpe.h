#pragma once
// Byte-pair encoding, exactly as `tokenizers`' BPE model: characters (or byte-fallback tokens,
// or the unknown token) are merged pairwise, lowest merge rank first, leftmost first on ties.

#include <optional>
#include <string>
#include <vector>

#include "tokenizer/model.h"
#include "tokenizer/vocab.h"

namespace salut::tokenizer {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // added to every character but the first
  std::string end_of_word_suffix;         // added to the last character
  bool fuse_unk = false;
  bool byte_fallback = false;  // unknown characters become <0xNN> byte tokens
  bool ignore_merges = false;  // a piece that is itself a token is not split
};

// The merges as read from tokenizer.json: pairs of token strings in rank order.
struct MergeList {
  struct Pair {
    uint32_t left_offset, left_length, right_offset, right_length;
  };
  std::string text;
  std::vector<Pair> pairs;

  void add(std::string_view left, std::string_view right);
};

class Bpe final : public Model {
 public:
  // Throws Error when a merge names a token that is not in the vocabulary.
  Bpe(Vocab vocab, const MergeList& merges, BpeOptions options);
  ~Bpe() override;

  void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override;
  int32_t token_to_id(std::string_view token) const override { return vocab_.find(token); }
  std::optional<std::string_view> id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }
  bool read_raw_bytes() override;

  const BpeOptions& options() const { return options_; }
  // transformers rebuilds some tokenizers with other BPE settings (see transformers_compat).
  void set_options(BpeOptions options);

  struct Symbol;  // one symbol of a word being merged (bpe.cpp)

 private:
  struct MergeTable;

  // Tokenizes without the cache.
  void tokenize_uncached(std::string_view piece, std::vector<int32_t>& ids) const;
  void add_character_symbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void merge(std::vector<Symbol>& symbols) const;

  Vocab vocab_;
  std::unique_ptr<MergeTable> merges_;
  BpeOptions options_;
  int32_t unk_id_ = -1;
  int32_t byte_fallback_ids_[256];  // <0xNN> tokens, -1 when missing
  bool raw_bytes_ = false;          // pieces are raw bytes, each standing for its ByteLevel char
  bool raw_bytes_fast_ = false;     // ... and every byte's character is a token: no remapping
  int32_t byte_char_ids_[256];      // the token of each byte's ByteLevel character, -1 if none
  uint64_t id_;                     // names this model's word caches
};

}  // namespace salut::tokenizer
