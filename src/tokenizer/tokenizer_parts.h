#pragma once
// The pipeline behind a Tokenizer, shared by the loader (tokenizer_json.cpp), the transformers
// adjustments (transformers_compat.cpp) and the encoder/decoder (tokenizer.cpp).

#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace salut::tokenizer {

struct TokenizerParts {
  std::unique_ptr<Normalizer> normalizer;        // each may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;                  // never null
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  std::vector<AddedToken> added_tokens;          // as listed in tokenizer.json
  bool mentions_byte_level = false;              // tokenizer.json contains "ByteLevel"

  // Built by finish():
  AddedVocabulary added;
  size_t vocab_size = 0;

  // Registers the added tokens (with the final normalizer) and sets up the fast paths; call
  // once the parts are final.
  void finish();
};

// Parses tokenizer.json (throws salut::Error with a clear message).
TokenizerParts parse_tokenizer_json(std::string_view json);

// Applies what transformers' AutoTokenizer changes for this tokenizer_config.json.
void apply_transformers_config(TokenizerParts& parts, std::string_view tokenizer_config_json);

// transformers' LlamaTokenizer pipeline (Metaspace, byte fallback) on this vocabulary and merges.
// apply_transformers_config uses it for SentencePiece-style tokenizer.json only; transformers
// 5.17 also applied it to byte-level ones (the DeepSeek V3 goldens record that), which the
// tests reproduce with this function.
void rebuild_as_llama_tokenizer(TokenizerParts& parts, const Json& tokenizer_config);

// A Tokenizer over finished parts.
Tokenizer make_tokenizer(std::shared_ptr<const TokenizerParts> parts);

}  // namespace salut::tokenizer
