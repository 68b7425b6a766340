#pragma once
// Logits as unsigned integers that order as the floats do: radix selection over the keys' bytes
// (sampling.cu) and an arg-max as one 64-bit atomicMax (value above, index below). -0 counts as
// 0, as the host's comparisons have it.

#include <cstdint>

namespace salut::backend::cuda {

__device__ __forceinline__ unsigned ordered_bits(float v) {
  if (v == 0.0f) v = 0.0f;
  const unsigned bits = __float_as_uint(v);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// From the largest value (key 0) down; NaN last of all.
__device__ __forceinline__ unsigned descending_key(float v) { return v != v ? 0xFFFFFFFFu : ~ordered_bits(v); }

// The larger value wins, then the lower index (as std::max_element); NaN never does (key 0).
__device__ __forceinline__ unsigned long long argmax_key(float v, int64_t i) {
  if (v != v) return 0;
  return (static_cast<unsigned long long>(ordered_bits(v)) << 32) | (0xFFFFFFFFu - unsigned(i));
}

}  // namespace salut::backend::cuda
