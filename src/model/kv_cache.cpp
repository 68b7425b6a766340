#include "model/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace salut::model {

KvCache::KvCache(backend::Backend& backend, int layers, int64_t kv_dim, int64_t max_tokens, int64_t initial_tokens)
    : backend_(backend), kv_dim_(kv_dim), max_tokens_(max_tokens), layers_(layers) {
  reserve(std::min(initial_tokens, max_tokens));
}

KvCache::~KvCache() {
  for (auto& layer : layers_) {
    backend_.free(layer.keys);
    backend_.free(layer.values);
  }
}

void KvCache::reserve(int64_t tokens) {
  if (tokens <= capacity_) return;
  if (tokens > max_tokens_)
    throw Error(Errc::invalid_argument,
                fmt::format("the sequence needs {} tokens but the context holds {}", tokens, max_tokens_));
  const int64_t grown = std::min(max_tokens_, std::max(tokens, capacity_ * 2));
  for (auto& layer : layers_) {
    for (backend::Tensor* tensor : {&layer.keys, &layer.values}) {
      backend::Tensor bigger = backend_.alloc(grown, kv_dim_);
      if (length_ > 0) backend_.copy_rows(*tensor, 0, bigger, 0, length_);
      backend_.free(*tensor);
      *tensor = bigger;
    }
  }
  capacity_ = grown;
}

void KvCache::set_length(int64_t tokens) {
  if (tokens < 0 || tokens > capacity_)
    throw Error(Errc::internal, fmt::format("KV cache length {} outside [0, {}]", tokens, capacity_));
  length_ = tokens;
}

}  // namespace salut::model
