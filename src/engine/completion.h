#pragma once
// One text completion on a loaded model, with OpenAI's stopping rules: end-of-sequence tokens,
// stop strings (matched on the text, never shown, held back while a partial match is pending),
// a token budget, or the caller giving up. Text comes out as the streaming detokenizer releases
// it. Knows nothing of HTTP.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generator.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"

namespace salut::engine {

struct CompletionRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 0;            // 0: up to the context
  std::vector<std::string> stop;     // stop strings
  int top_logprobs = -1;             // -1: no logprobs; else the chosen token's and this many alternatives
  Generator::LogitsMask mask;        // e.g. a JSON grammar; empty: none
  std::function<void(int32_t)> on_token;  // each token drawn (a grammar advances its state)
  bool keep_special_tokens = false;  // tool-call and thinking markup can be special tokens
};

struct TokenLogprob {
  std::string text;  // the token's own text (bytes)
  float logprob = 0;
  struct Alternative {
    std::string text;
    float logprob;
  };
  std::vector<Alternative> top;
};

enum class FinishReason { stop, length, cancelled };
const char* finish_reason_name(FinishReason reason);

struct CompletionResult {
  std::string text;  // everything released (stop strings excluded)
  FinishReason finish = FinishReason::stop;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Called with each released piece of text (and the logprobs of the tokens it completes, when
// asked); returns false when the caller is gone: generation stops at once. During a long
// prefill it is also called with no text between chunks (a stream can send a keep-alive).
using TextSink = std::function<bool(std::string_view text, std::span<const TokenLogprob> logprobs)>;

CompletionResult complete(Generator& generator, const tokenizer::Tokenizer& tokenizer,
                          std::span<const int32_t> eos_tokens, const CompletionRequest& request, const TextSink& sink);

// How much of `text`'s tail could still grow into one of `stops` (the part to hold back).
size_t partial_stop_length(std::string_view text, std::span<const std::string> stops);

}  // namespace salut::engine
