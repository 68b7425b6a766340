#pragma once
// A model turns one pre-tokenized piece into token IDs (BPE, WordPiece, WordLevel).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salut::tokenizer {

class Model {
 public:
  virtual ~Model() = default;
  // Appends the IDs of one piece (a non-empty "word" from the pre-tokenizer).
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& ids) const = 0;
  // -1 when the model has no such token.
  virtual int32_t token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string_view> id_to_token(int32_t id) const = 0;
  // Number of distinct tokens (what `tokenizers` calls the vocab size).
  virtual size_t vocab_size() const = 0;
  // Asks the model to read pieces as raw bytes instead of ByteLevel characters (the
  // pre-tokenizer then skips the mapping); returns false if it cannot.
  virtual bool read_raw_bytes() { return false; }
};

}  // namespace salut::tokenizer
