// The CUDA backend's device memory: a model's weights (the arena) and a sequence's KV cache take
// what they hold plus at most one step of the driver's granularity, and give all of it back.
// Skips without a GPU.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "backend/gpu_info.h"
#include "backend/cuda/device_memory.h"
#include "core/error.h"

namespace salut::backend {
namespace {

constexpr int64_t kSlack = int64_t(2) << 20;  // one step of the driver's granularity

bool have_gpu() { return !list_gpus().empty(); }
int64_t free_memory() { return int64_t(gpu_free_memory(0)); }

TEST(CudaMemory, WeightArenaHoldsItsPiecesAndNoMore) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA GPU here";
  cudaFree(nullptr);  // the context first: it is not the arena's
  const int64_t before = free_memory();
  // an 8B layer's shapes: scales and biases of 1.75 MiB, norms of 16 KiB, a 56 MiB weight
  std::vector<size_t> sizes;
  for (int i = 0; i < 24; ++i) sizes.push_back(size_t(7) << 18);
  for (int i = 0; i < 40; ++i) sizes.push_back(size_t(16) << 10);
  sizes.push_back(size_t(56) << 20);
  sizes.push_back(100);
  int64_t total = 0;
  {
    auto arena = cuda::WeightArena::create(0);
    std::vector<std::shared_ptr<cuda::DeviceBuffer>> pieces;
    const std::byte* last_end = nullptr;
    for (size_t i = 0; i < sizes.size(); ++i) {
      pieces.push_back(arena->allocate(sizes[i]));
      const auto* start = static_cast<const std::byte*>(pieces.back()->data);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(start) % 256, 0u);
      if (last_end && arena->mapped_bytes() > 0) {
        ASSERT_GE(start, last_end);  // one range, in order
      }
      last_end = start + sizes[i];
      total += int64_t(sizes[i]);
      std::vector<uint8_t> pattern(sizes[i], uint8_t(i + 1)), back(sizes[i]);
      cuda::check(cudaMemcpy(pieces.back()->data, pattern.data(), sizes[i], cudaMemcpyHostToDevice), "cudaMemcpy");
      cuda::check(cudaMemcpy(back.data(), pieces.back()->data, sizes[i], cudaMemcpyDeviceToHost), "cudaMemcpy");
      ASSERT_EQ(std::memcmp(pattern.data(), back.data(), sizes[i]), 0) << "piece " << i;
    }
    const int64_t used = before - free_memory();
    if (arena->mapped_bytes() > 0) {
      EXPECT_LE(used, total + kSlack) << "pieces of " << total << " bytes";
    }
    arena.reset();  // the pieces keep it
    std::vector<uint8_t> back(sizes[0]);
    cuda::check(cudaMemcpy(back.data(), pieces[0]->data, sizes[0], cudaMemcpyDeviceToHost), "cudaMemcpy");
    EXPECT_EQ(back[0], 1);
  }
  EXPECT_EQ(free_memory(), before) << "after the last piece went";
}

TEST(CudaMemory, KvCacheIsOneAllocation) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA GPU here";
  auto backend = make_cuda_backend(0);
  backend->synchronize();
  const int64_t before = free_memory();
  const int layers = 32;
  const int64_t capacity = 641, width = 1024;
  std::vector<KvLayer> cache = backend->alloc_kv(layers, capacity, width);
  ASSERT_EQ(cache.size(), size_t(layers));
  const int64_t bytes = int64_t(layers) * 2 * capacity * width * backend->kv_value_bytes();
  EXPECT_LE(before - free_memory(), bytes + kSlack);
  for (const KvLayer& layer : cache) {
    EXPECT_EQ(layer.keys.rows, capacity);
    EXPECT_EQ(layer.values.cols, width);
  }
  backend->free_kv(cache);
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(free_memory(), before);
}

}  // namespace
}  // namespace salut::backend
