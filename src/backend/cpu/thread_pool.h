#pragma once
// The CPU backend's threads. A job is a number of chunks, dealt out as one contiguous range per
// thread: each thread runs its own range front to back (decode's chunks are consecutive rows of a
// weight matrix, so a thread reads one long stream that the prefetchers follow), then takes
// what is left of the others' ranges from their backs. The caller never waits for a worker that
// has not claimed anything, so a worker that the OS has descheduled (a busy machine, more
// threads than cores) costs nothing but what it claimed: a fork-join barrier would stall every
// op until that thread runs again. Decode runs ~10 jobs per layer, so this matters.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace salut::backend::cpu {

class ThreadPool {
 public:
  // `threads` counts the caller; 0 means one per core.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(ranges_.size()); }

  // Calls fn(chunk) for every chunk in [0, chunks) and returns when all have returned. fn must
  // not call run() itself. At most kMaxChunks chunks.
  template <class Fn>
  void run(int64_t chunks, Fn&& fn) {
    using Target = std::remove_reference_t<Fn>;
    run_job(chunks, [](void* f, int64_t chunk) { (*static_cast<Target*>(f))(chunk); }, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into chunks of at least `grain` items (and no more than needed to keep every
  // thread busy with some to spare) and calls fn(begin, end) for each.
  template <class Fn>
  void run_range(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    const int64_t chunks = chunk_count(n, grain);
    run(chunks, [&](int64_t c) { fn(n * c / chunks, n * (c + 1) / chunks); });
  }

  static constexpr int64_t kMaxChunks = 1 << 16;

 private:
  using Call = void (*)(void* fn, int64_t chunk);

  void run_job(int64_t chunks, Call call, void* fn);
  void work_on(uint64_t generation, int self);  // runs chunks of that job until none is left
  void worker_loop(int self);
  void wake_sleepers();
  int64_t chunk_count(int64_t n, int64_t grain) const;

  // the job's generation (30 bits, shifted as in a range's word): a new generation is a new job
  std::atomic<uint64_t> job_{0};
  std::atomic<Call> call_{nullptr};
  std::atomic<void*> fn_{nullptr};
  // One thread's range of the job: generation (30 bits) | front (17) | back (17), one word so
  // that a claim (a compare-and-swap) fails if the job changed since it was read. On its own
  // cache line: the owner claims from it on every chunk.
  struct alignas(64) Range {
    std::atomic<uint64_t> word{0};
  };
  std::vector<Range> ranges_;
  alignas(64) std::atomic<int64_t> done_{0};
  // Sleeping is a mutex and a condition variable, not job_.wait(): libstdc++ 12's wait on a
  // 64-bit atomic goes through a shared waiter pool that can miss a notify (seen as a hang at exit).
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
};

}  // namespace salut::backend::cpu
