#pragma once
// One rotary pair (a, b) at `position`: the arithmetic of every kernel that rotates (rope_kernel,
// and the attention's append that rotates keys as it stores them), kept in one place so that they
// agree to the bit.

#include <cstdint>

namespace salut::backend::cuda {

__device__ __forceinline__ void rotate_pair(float a, float b, int64_t position, float inv_freq, float input_scale,
                                            float& ra, float& rb) {
  const float angle = float(position) * inv_freq;
  float sn, cs;
  sincosf(angle, &sn, &cs);
  const float x0 = a * input_scale, x1 = b * input_scale;
  ra = x0 * cs - x1 * sn;
  rb = x0 * sn + x1 * cs;
}

}  // namespace salut::backend::cuda
