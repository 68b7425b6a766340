#include "engine/completion.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace salut::engine {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
  }
  return "stop";
}

size_t partial_stop_length(std::string_view text, std::span<const std::string> stops) {
  size_t hold = 0;
  for (const auto& stop : stops)
    for (size_t n = std::min(stop.size() - 1, text.size()); n > hold; --n)
      if (text.substr(text.size() - n) == std::string_view(stop).substr(0, n)) {
        hold = n;
        break;
      }
  return hold;
}

namespace {

// log-softmax of the processed logits: the chosen token's logprob and the `k` most likely.
TokenLogprob logprobs_of(std::span<const float> logits, int32_t token, int k, const tokenizer::Tokenizer& tokenizer,
                         std::vector<float>& scratch, std::vector<int32_t>& order) {
  scratch.assign(logits.begin(), logits.end());
  log_softmax(scratch);
  TokenLogprob out;
  out.text = tokenizer.decode(std::span(&token, 1), /*skip_special_tokens=*/false);
  out.logprob = scratch[size_t(token)];
  if (k > 0) {
    order.resize(scratch.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t n = std::min<size_t>(size_t(k), order.size());
    std::partial_sort(order.begin(), order.begin() + ptrdiff_t(n), order.end(),
                      [&](int32_t a, int32_t b) { return scratch[size_t(a)] > scratch[size_t(b)]; });
    for (size_t i = 0; i < n; ++i) {
      const int32_t id = order[i];
      out.top.push_back({tokenizer.decode(std::span(&id, 1), false), scratch[size_t(id)]});
    }
  }
  return out;
}

}  // namespace

CompletionResult complete(Generator& generator, const tokenizer::Tokenizer& tokenizer,
                          std::span<const int32_t> eos_tokens, const CompletionRequest& request, const TextSink& sink) {
  if (request.prompt.empty()) throw Error(Errc::invalid_argument, "the prompt is empty");
  const int64_t room = generator.context() - int64_t(request.prompt.size());
  if (room <= 0)
    throw Error(Errc::invalid_argument, "the prompt has " + std::to_string(request.prompt.size()) +
                                            " tokens but the model's context holds " +
                                            std::to_string(generator.context()));
  const int64_t budget = request.max_tokens > 0 ? std::min(request.max_tokens, room) : room;

  const int64_t vocab = int64_t(generator.last_logits().size());
  request.sampling.validate(vocab);
  Sampler sampler(request.sampling, vocab);
  tokenizer::StreamingDetokenizer detok(tokenizer, /*skip_special_tokens=*/!request.keep_special_tokens);
  CompletionResult result;
  std::string pending;                 // released by the detokenizer, not yet by us (a stop may be forming)
  std::vector<TokenLogprob> logprobs;  // of the tokens whose text is in `pending` or not yet released
  std::vector<float> scratch;
  std::vector<int32_t> order;
  bool stopped_on_string = false, caller_gone = false;

  // Releases `pending` up to where a stop string starts (then stops), or up to a partial match.
  auto release = [&](bool final) {
    if (!request.stop.empty()) {
      size_t cut = std::string::npos;
      for (const auto& stop : request.stop) cut = std::min(cut, pending.find(stop));
      if (cut != std::string::npos) {
        pending.resize(cut);
        stopped_on_string = true;
        final = true;
      }
    }
    const size_t hold = final ? 0 : partial_stop_length(pending, request.stop);
    const size_t n = pending.size() - hold;
    if (n == 0 && !(final && !logprobs.empty())) return true;  // nothing new (held logprobs wait for their text)
    const std::string_view out(pending.data(), n);
    result.text.append(out);
    const bool ok = sink(out, logprobs);
    logprobs.clear();
    pending.erase(0, n);
    return ok;
  };

  const GenerationStats stats = generator.generate(
      request.prompt, sampler, budget, eos_tokens,
      [&](int32_t token) {
        ++result.completion_tokens;
        if (request.on_token) request.on_token(token);
        if (request.top_logprobs >= 0)
          logprobs.push_back(logprobs_of(generator.last_logits(), token, request.top_logprobs, tokenizer, scratch, order));
        pending += detok.push(token);
        if (!release(false)) {
          caller_gone = true;
          return false;
        }
        return !stopped_on_string;
      },
      request.mask, [&] { return sink({}, {}); });
  caller_gone |= stats.cancelled;
  if (!caller_gone && !stopped_on_string) {
    pending += detok.finish();
    if (!release(true)) caller_gone = true;
  }

  result.prompt_tokens = stats.prompt_tokens;
  result.prefill_seconds = stats.prefill_seconds;
  result.decode_seconds = stats.decode_seconds;
  if (caller_gone) result.finish = FinishReason::cancelled;
  else if (stopped_on_string || stats.stopped_by_eos) result.finish = FinishReason::stop;
  else result.finish = result.completion_tokens >= budget ? FinishReason::length : FinishReason::stop;
  return result;
}

}  // namespace salut::engine
