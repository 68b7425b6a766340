// The floor of a grid-wide barrier inside one persistent kernel on a GPU (one block per SM, 512
// threads): the release/acquire counter of the runs experiment (branch exp/persistent-runs), the
// same with a fence-and-reset count, cooperative groups' grid.sync(), and a one-way hand-off (one
// block signals, the others wait: the latency a per-tile dependency would pay). Prints
// microseconds per barrier over 2000 back-to-back barriers. Standalone (not part of the build):
//   nvcc -O2 -arch=sm_90 -o /tmp/grid_barrier bench/cuda_grid_barrier.cu
// Results: bench/results/cuda/persistent_runs_h100_s12.txt.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cstdio>

namespace cg = cooperative_groups;

__device__ unsigned long long arrivals = 0;
__device__ unsigned count = 0, generation = 0, flag = 0;
constexpr int kShards = 8;
__device__ unsigned long long shards[kShards * 16];  // one 128-byte line each

__device__ __forceinline__ unsigned long long load_acquire(const unsigned long long* p) {
  unsigned long long v;
  asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ unsigned load_acquire32(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// kind 0: release add + acquire polling of a never-reset count; 1: fence, atomic, last resets
// and bumps a generation; 2: cooperative groups; 3: block 0 signals, the others wait; 4: the count
// sharded over 8 lines (a block adds to one, polls all 8 with one lane each); 5: every block
// adds, block 0 alone polls the count and then releases a flag the others poll.
__global__ void barriers(int kind, int n, float* sink) {
  __shared__ unsigned long long target;
  if (threadIdx.x == 0) target = load_acquire(&arrivals) / gridDim.x * gridDim.x;
  // shard s receives the blocks b with b % kShards == s
  const int shard = blockIdx.x % kShards;
  const unsigned shard_blocks = threadIdx.x < kShards ? (gridDim.x - threadIdx.x + kShards - 1) / kShards : 0;
  unsigned long long shard_target = threadIdx.x < kShards ? load_acquire(&shards[threadIdx.x * 16]) / shard_blocks * shard_blocks : 0;
  __syncthreads();
  float v = threadIdx.x;
  for (int i = 0; i < n; ++i) {
    v = v * 0.999f + 1.0f;  // a little work between barriers
    if (kind == 2) {
      cg::this_grid().sync();
      continue;
    }
    __syncthreads();
    if (kind == 4) {
      if (threadIdx.x == 0) asm volatile("red.release.gpu.global.add.u64 [%0], 1;" ::"l"(&shards[shard * 16]) : "memory");
      if (threadIdx.x < kShards) {
        shard_target += shard_blocks;
        while (load_acquire(&shards[threadIdx.x * 16]) < shard_target) {
        }
      }
      __syncthreads();
      continue;
    }
    if (threadIdx.x == 0) {
      if (kind == 5) {
        target += gridDim.x;
        asm volatile("red.release.gpu.global.add.u64 [%0], 1;" ::"l"(&arrivals) : "memory");
        if (blockIdx.x == 0) {
          while (load_acquire(&arrivals) < target) {
          }
          asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(&flag), "r"(unsigned(i + 1)) : "memory");
        } else {
          while (load_acquire32(&flag) < unsigned(i + 1)) {
          }
        }
      } else if (kind == 0) {
        target += gridDim.x;
        asm volatile("red.release.gpu.global.add.u64 [%0], 1;" ::"l"(&arrivals) : "memory");
        while (load_acquire(&arrivals) < target) {
        }
      } else if (kind == 1) {
        const unsigned g = load_acquire32(&generation);
        __threadfence();
        if (atomicAdd(&count, 1u) == gridDim.x - 1) {
          atomicExch(&count, 0u);
          __threadfence();
          atomicAdd(&generation, 1u);
        } else {
          while (load_acquire32(&generation) == g) {
          }
        }
        __threadfence();
      } else {
        if (blockIdx.x == 0) {
          asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(&flag) : "memory");
        } else {
          while (load_acquire32(&flag) < unsigned(i + 1)) {
          }
        }
      }
    }
    __syncthreads();
  }
  if (v == 12345.0f) *sink = v;
}

int main() {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  float* sink;
  cudaMalloc(&sink, 4);
  const int n = 2000;
  const char* names[] = {"release/acquire count", "fence + reset count", "cooperative groups grid.sync", "one-way hand-off",
                         "count sharded over 8 lines", "count, block 0 releases a flag"};
  for (int kind = 0; kind < 6; ++kind) {
    for (int rep = 0; rep < 3; ++rep) {
      if (kind == 3 || kind == 5) {
        unsigned zero = 0;
        cudaMemcpyToSymbol(flag, &zero, 4);
      }
      cudaEvent_t t0, t1;
      cudaEventCreate(&t0);
      cudaEventCreate(&t1);
      cudaEventRecord(t0);
      int k = kind, count_n = n;
      void* args[] = {&k, &count_n, &sink};
      cudaLaunchCooperativeKernel(reinterpret_cast<void*>(barriers), sms, 512, args, 0, 0);
      cudaEventRecord(t1);
      cudaEventSynchronize(t1);
      float ms;
      cudaEventElapsedTime(&ms, t0, t1);
      if (rep > 0) printf("%-30s %d blocks: %.3f us per barrier\n", names[kind], sms, ms * 1000 / n);
    }
  }
  printf("%s\n", cudaGetErrorString(cudaGetLastError()));
}
