#pragma once
// The keys and values of one sequence, for the layers one engine runs. Grows geometrically
// up to a maximum (the context length), and can be trimmed back (prompt-cache reuse, retries).

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace salut::model {

class KvCache {
 public:
  KvCache(backend::Backend& backend, int layers, int kv_heads, int head_dim, int64_t max_tokens,
          int64_t initial_tokens = 256);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Makes room for `tokens` positions in total; throws when that exceeds max_tokens().
  void reserve(int64_t tokens);
  backend::KvLayer& layer(int index) { return layers_[index]; }

  int64_t length() const { return length_; }  // positions filled
  void set_length(int64_t tokens);            // after a forward pass, or to trim
  int64_t capacity() const { return capacity_; }
  int64_t max_tokens() const { return max_tokens_; }
  // Bytes of keys and values for `tokens` positions: what a memory check must count.
  static int64_t bytes_for(int layers, int64_t kv_dim, int64_t tokens, int value_bytes = 4) {
    return 2 * layers * kv_dim * tokens * value_bytes;
  }

 private:
  backend::Backend& backend_;
  int kv_heads_;
  int64_t kv_dim_;
  int64_t max_tokens_;
  int layer_count_;
  int64_t capacity_ = 0;
  int64_t length_ = 0;
  std::vector<backend::KvLayer> layers_;
};

}  // namespace salut::model
