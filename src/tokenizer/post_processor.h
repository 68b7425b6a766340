#pragma once
// Post-processors add the special tokens around an encoded sequence (encode with
// add_special_tokens = true). Only single sequences are encoded, never pairs.

#include <cstdint>
#include <memory>
#include <vector>

#include "tokenizer/json_util.h"

namespace salut::tokenizer {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Adds the special tokens of a single sequence to `ids` (in place).
  virtual void add_special_tokens(std::vector<int32_t>& ids) const = 0;
};

// Builds the post-processor of tokenizer.json's "post_processor" (nullptr for null).
std::unique_ptr<PostProcessor> parse_post_processor(const Json& config);

}  // namespace salut::tokenizer
