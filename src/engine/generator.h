#pragma once
// Generation for one sequence on one node: prefill the prompt in chunks, then one token at a
// time, sampling each from the last position's logits, until a stop token, the token budget or
// the caller says stop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "engine/sampler.h"
#include "model/kv_cache.h"
#include "model/transformer.h"

namespace salut::engine {

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  bool stopped_by_eos = false;
  bool cancelled = false;  // the heartbeat said stop during the prefill
};

class Generator {
 public:
  // `context` bounds prompt + generated tokens (the KV cache's size); prompts are run
  // `prefill_chunk` tokens at a time (0: the backend's choice).
  Generator(model::Transformer& model, backend::Backend& backend, int64_t context, int64_t prefill_chunk = 0);
  ~Generator();

  // Called with each new token; return false to stop (stop string, client gone).
  using TokenSink = std::function<bool(int32_t token)>;
  // Called with each step's logits before the sampler sees them (a grammar masks tokens here).
  using LogitsMask = std::function<void(std::span<float> logits)>;
  // Called between prefill chunks of a long prompt; return false to stop (client gone).
  using Heartbeat = std::function<bool()>;
  GenerationStats generate(std::span<const int32_t> prompt, Sampler& sampler, int64_t max_tokens,
                           std::span<const int32_t> stop_tokens, const TokenSink& on_token,
                           const LogitsMask& mask = {}, const Heartbeat& heartbeat = {});

  // The last step's logits after the sampler's processors (valid inside a TokenSink call):
  // what OpenAI's logprobs describe.
  // The logits of the last step (copied from the backend on first use).
  std::span<const float> last_logits();
  int64_t context() const { return cache_->max_tokens(); }

  // Logits at every position of `tokens` from a fresh cache: [tokens.size() × vocab], row-major.
  std::vector<float> logits_for(std::span<const int32_t> tokens);

 private:
  // Runs `tokens` at positions cache.length()... and leaves the last row's logits in logits_;
  // false when the heartbeat stopped it between chunks.
  bool step(std::span<const int32_t> tokens, const Heartbeat& heartbeat = {});

  model::Transformer& model_;
  backend::Backend& backend_;
  int64_t prefill_chunk_;
  std::unique_ptr<model::KvCache> cache_;
  backend::Tensor hidden_, logits_;
  std::vector<float> host_logits_;
  bool logits_on_host_ = false;  // host_logits_ holds the last step's logits
};

}  // namespace salut::engine
