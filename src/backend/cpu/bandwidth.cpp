#include "backend/cpu/bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace salut::backend::cpu {
namespace {

// Anonymous memory aligned to 2 MiB and advised MADV_HUGEPAGE.
class HugePageBuffer {
 public:
  explicit HugePageBuffer(size_t bytes) {
    const size_t whole = (bytes + kHuge - 1) / kHuge * kHuge;  // aligned_alloc wants a multiple
    data_ = static_cast<uint64_t*>(std::aligned_alloc(kHuge, whole));
    if (!data_) throw std::bad_alloc();
    ::madvise(data_, whole, MADV_HUGEPAGE);
  }
  ~HugePageBuffer() { std::free(data_); }
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;
  uint64_t& operator[](int64_t i) { return data_[i]; }
  uint64_t* get() { return data_; }

 private:
  static constexpr size_t kHuge = size_t(2) << 20;
  uint64_t* data_;
};

// Sum of n words with four independent chains (the loads, not the adds, set the pace).
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

}  // namespace

MemoryBandwidth measure_memory_bandwidth(ThreadPool& pool, size_t bytes, int runs) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const int64_t words = int64_t(bytes / sizeof(uint64_t));
  const int64_t grain = 1 << 19;  // 4 MiB chunks
  // In transparent huge pages where the system allows them, as the weights' mapping asks for
  // (weights/safetensors.cpp): the reference and the decode then pay the same for address
  // translation, and it is the faster of the two ways to map memory.
  HugePageBuffer a(size_t(words) * sizeof(uint64_t)), b(size_t(words) * sizeof(uint64_t));
  pool.run_range(words, grain, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) a[i] = uint64_t(i), b[i] = 0;  // every page touched before timing
  });

  MemoryBandwidth best;
  best.threads = pool.threads();
  std::atomic<uint64_t> sink{0};
  for (int run = 0; run < runs; ++run) {
    auto start = Clock::now();
    pool.run_range(words, grain, [&](int64_t first, int64_t last) {
      std::memcpy(b.get() + first, a.get() + first, size_t(last - first) * sizeof(uint64_t));
    });
    best.copy_gb_s = std::max(best.copy_gb_s, 2.0 * double(words * 8) / since(start) / 1e9);

    start = Clock::now();
    pool.run_range(words, grain, [&](int64_t first, int64_t last) {
      sink.fetch_add(sum_words(a.get() + first, size_t(last - first)), std::memory_order_relaxed);
    });
    best.read_gb_s = std::max(best.read_gb_s, double(words * 8) / since(start) / 1e9);
  }
  return best;
}

}  // namespace salut::backend::cpu
