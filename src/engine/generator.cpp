#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "core/error.h"

namespace salut::engine {

using Clock = std::chrono::steady_clock;

Generator::Generator(model::Transformer& model, backend::Backend& backend, int64_t context, int64_t prefill_chunk)
    : model_(model),
      backend_(backend),
      prefill_chunk_(prefill_chunk > 0 ? prefill_chunk : backend.prefill_chunk()),
      cache_(model.new_cache(context)) {
  if (!model.has_embedding() || !model.has_head())
    throw Error(Errc::internal, "a Generator needs every layer of the model");
  hidden_ = backend_.alloc(prefill_chunk_, model.hidden_size());
  logits_ = backend_.alloc(1, model.vocab_size());
  host_logits_.resize(model.vocab_size());
}

Generator::~Generator() {
  backend_.free(hidden_);
  backend_.free(logits_);
}

bool Generator::step(std::span<const int32_t> tokens, const Heartbeat& heartbeat) {
  for (size_t done = 0; done < tokens.size();) {
    if (done > 0 && heartbeat && !heartbeat()) return false;
    const size_t n = std::min<size_t>(prefill_chunk_, tokens.size() - done);
    backend::Tensor hidden = hidden_.rows_view(0, static_cast<int64_t>(n));
    model_.embed(tokens.subspan(done, n), hidden);
    const bool last_chunk = done + n == tokens.size();
    model_.forward(hidden, *cache_, cache_->length(), last_chunk ? &logits_ : nullptr);
    done += n;
    if (last_chunk) logits_on_host_ = false;
  }
  return true;
}

GenerationStats Generator::generate(std::span<const int32_t> prompt, Sampler& sampler, int64_t max_tokens,
                                    std::span<const int32_t> stop_tokens, const TokenSink& on_token,
                                    const LogitsMask& mask, const Heartbeat& heartbeat) {
  if (prompt.empty()) throw Error(Errc::invalid_argument, "the prompt is empty");
  const int64_t room = cache_->max_tokens() - static_cast<int64_t>(prompt.size());
  if (room <= 0)
    throw Error(Errc::invalid_argument, fmt::format("the prompt has {} tokens but the context holds {}", prompt.size(),
                                                    cache_->max_tokens()));
  max_tokens = std::min(max_tokens, room);
  cache_->set_length(0);

  GenerationStats stats;
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  auto start = Clock::now();
  const bool prefilled = step(prompt, heartbeat);
  backend_.synchronize();  // a GPU may still be working on it: the prefill's time is all of it
  stats.prefill_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!prefilled) {
    stats.cancelled = true;
    return stats;
  }

  start = Clock::now();
  for (int64_t i = 0; i < max_tokens; ++i) {
    int32_t token;
    std::optional<backend::TokenDraw> draw;
    if (!mask && sampler.is_argmax()) {
      token = backend_.argmax(logits_);  // only the token comes back
    } else if (!mask && (draw = sampler.next_draw(history))) {
      token = backend_.draw(logits_, *draw);  // drawn where the logits are; they stay adjusted there
      logits_on_host_ = false;
    } else {
      last_logits();
      if (mask) mask(host_logits_);
      token = sampler.sample(host_logits_, history);
    }
    history.push_back(token);
    if (std::find(stop_tokens.begin(), stop_tokens.end(), token) != stop_tokens.end()) {
      stats.stopped_by_eos = true;
      break;
    }
    ++stats.generated_tokens;
    if (!on_token(token) || i + 1 == max_tokens) break;
    const int32_t next[] = {token};
    step(next);
  }
  stats.decode_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

std::span<const float> Generator::last_logits() {
  if (!logits_on_host_) {
    backend_.read_rows(logits_, 0, 1, host_logits_.data());
    logits_on_host_ = true;
  }
  return host_logits_;
}

std::vector<float> Generator::logits_for(std::span<const int32_t> tokens) {
  const int64_t vocab = model_.vocab_size();
  std::vector<float> out(tokens.size() * vocab);
  cache_->set_length(0);
  cache_->reserve(static_cast<int64_t>(tokens.size()));
  backend::Tensor logits = backend_.alloc(prefill_chunk_, vocab);
  for (size_t done = 0; done < tokens.size();) {
    const size_t n = std::min<size_t>(prefill_chunk_, tokens.size() - done);
    backend::Tensor hidden = hidden_.rows_view(0, static_cast<int64_t>(n));
    backend::Tensor chunk_logits = logits.rows_view(0, static_cast<int64_t>(n));
    model_.embed(tokens.subspan(done, n), hidden);
    model_.forward(hidden, *cache_, cache_->length());
    model_.head(hidden, chunk_logits);
    backend_.read_rows(chunk_logits, 0, static_cast<int64_t>(n), out.data() + done * vocab);
    done += n;
  }
  backend_.free(logits);
  return out;
}

}  // namespace salut::engine
