#pragma once
// This machine's memory bandwidth, measured with the threads the CPU kernels use: what decode,
// which streams every weight once per token, can at best reach.

#include <cstddef>

#include "backend/cpu/thread_pool.h"

namespace salut::backend::cpu {

struct MemoryBandwidth {
  double copy_gb_s = 0;  // memcpy, counted as STREAM counts it: bytes read + bytes written
  double read_gb_s = 0;  // a streaming sum: bytes read
  int threads = 0;
};

// Best of `runs` passes over two buffers of `bytes` each, in chunks shared by the pool's threads
// as the decode kernels share a layer.
MemoryBandwidth measure_memory_bandwidth(ThreadPool& pool, size_t bytes, int runs);

}  // namespace salut::backend::cpu
