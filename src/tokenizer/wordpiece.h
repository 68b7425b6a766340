#pragma once
// WordPiece (BERT: greedy longest-match-first with "##" continuations) and WordLevel (one
// token per word) models.

#include <memory>
#include <optional>
#include <string>

#include "tokenizer/model.h"
#include "tokenizer/vocab.h"

namespace salut::tokenizer {

std::unique_ptr<Model> make_wordpiece(Vocab vocab, std::string unk_token, std::string continuing_subword_prefix,
                                      size_t max_input_chars_per_word);
std::unique_ptr<Model> make_wordlevel(Vocab vocab, std::string unk_token);

}  // namespace salut::tokenizer
