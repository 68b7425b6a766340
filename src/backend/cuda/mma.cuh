#pragma once
// The tensor-core instruction both hand-written paths use (tiled_matvec.cu, attention.cu):
// mma.m16n8k16 with f16 inputs and f32 sums, and packing two floats into its f16x2 registers.

#include <cuda_fp16.h>

#include <cstdint>

namespace salut::backend::cuda {

// c (16x8, f32) += a (16x16, f16, 4 registers per lane) · b (16x8, f16, 2 registers per lane), in
// the fragment layouts of the PTX ISA.
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_half2(float a, float b) {
  const __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&h);
}

}  // namespace salut::backend::cuda
