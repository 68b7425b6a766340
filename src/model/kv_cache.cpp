#include "model/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace salut::model {

KvCache::KvCache(backend::Backend& backend, int layers, int kv_heads, int head_dim, int64_t max_tokens,
                 int64_t initial_tokens)
    : backend_(backend), kv_heads_(kv_heads), kv_dim_(int64_t(kv_heads) * head_dim), max_tokens_(max_tokens),
      layer_count_(layers) {
  reserve(backend.grows_kv() ? std::min(initial_tokens, max_tokens) : max_tokens);
}

KvCache::~KvCache() {
  backend_.free_kv(layers_);
}

void KvCache::reserve(int64_t tokens) {
  if (tokens <= capacity_) return;
  if (tokens > max_tokens_)
    throw Error(Errc::invalid_argument,
                fmt::format("the sequence needs {} tokens but the context holds {}", tokens, max_tokens_));
  const int64_t grown = std::min(max_tokens_, std::max(tokens, capacity_ * 2));
  std::vector<backend::KvLayer> bigger = backend_.alloc_kv(layer_count_, grown, kv_dim_);
  if (length_ > 0)
    for (size_t i = 0; i < layers_.size(); ++i) backend_.copy_kv(layers_[i], bigger[i], length_, kv_heads_);
  backend_.free_kv(layers_);
  layers_ = std::move(bigger);
  capacity_ = grown;
}

void KvCache::set_length(int64_t tokens) {
  if (tokens < 0 || tokens > capacity_)
    throw Error(Errc::internal, fmt::format("KV cache length {} outside [0, {}]", tokens, capacity_));
  length_ = tokens;
}

}  // namespace salut::model
