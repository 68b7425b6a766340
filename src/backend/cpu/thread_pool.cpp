#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <stdexcept>

namespace salut::backend::cpu {
namespace {

constexpr int kFieldBits = 17;
constexpr uint64_t kFieldMask = (uint64_t(1) << kFieldBits) - 1;
constexpr int kGenerationShift = 2 * kFieldBits;
constexpr uint64_t kGenerationMask = (uint64_t(1) << 30) - 1;

uint64_t generation(uint64_t word) { return word >> kGenerationShift; }
int64_t front(uint64_t range) { return int64_t((range >> kFieldBits) & kFieldMask); }
int64_t back(uint64_t range) { return int64_t(range & kFieldMask); }
uint64_t make_range(uint64_t gen, int64_t first, int64_t last) {
  return (gen << kGenerationShift) | (uint64_t(first) << kFieldBits) | uint64_t(last);
}

// Claims the next chunk of `range` for job `gen`, from the front (its owner) or the back (the
// others); false once the range is empty or belongs to another job.
bool claim(std::atomic<uint64_t>& range, uint64_t gen, bool from_front, int64_t& chunk) {
  uint64_t word = range.load(std::memory_order_acquire);
  while (generation(word) == gen && front(word) < back(word)) {
    const uint64_t claimed = from_front ? word + (uint64_t(1) << kFieldBits) : word - 1;
    if (range.compare_exchange_weak(word, claimed, std::memory_order_acq_rel, std::memory_order_acquire)) {
      chunk = from_front ? front(word) : back(word) - 1;
      return true;
    }
  }
  return false;
}

// Waiting: spin briefly (ops come microseconds apart), then give the core away, then sleep.
constexpr int kSpins = 4000;
constexpr int kYields = 200;

void relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads) : ranges_(size_t(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()))) {
  for (int i = 1; i < this->threads(); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  job_.fetch_add(uint64_t(1) << kGenerationShift);  // a new generation wakes every worker
  wake_sleepers();
  for (auto& t : workers_) t.join();
}

int64_t ThreadPool::chunk_count(int64_t n, int64_t grain) const {
  const int64_t most = std::min<int64_t>(kMaxChunks, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  // several chunks per thread, so that a slow or late thread leaves little to wait for
  return std::min<int64_t>(most, int64_t(threads()) * 8);
}

void ThreadPool::work_on(uint64_t gen, int self) {
  // Read once: a claim succeeds only while job `gen` is running, and a newer job's call and fn
  // are stored only after every chunk of this one has been claimed.
  const Call call = call_.load(std::memory_order_relaxed);
  void* fn = fn_.load(std::memory_order_relaxed);
  const int n = threads();
  for (int k = 0; k < n; ++k) {
    const int owner = (self + k) % n;
    for (int64_t chunk; claim(ranges_[size_t(owner)].word, gen, k == 0, chunk);) {
      call(fn, chunk);
      done_.fetch_add(1, std::memory_order_release);
    }
  }
}

void ThreadPool::worker_loop(int self) {
  // Generation 0 is the one at construction, not whatever job_ holds when this thread first runs:
  // a thread the OS starts late must still see the jobs (and the stop) published before it ran.
  uint64_t seen = 0;
  while (true) {
    uint64_t job = job_.load(std::memory_order_acquire);
    for (int spin = 0; generation(job) == seen; ++spin) {
      if (spin < kSpins) {
        relax();
      } else if (spin < kSpins + kYields) {
        std::this_thread::yield();
      } else {
        // Counted before the check, under the lock: a job published after this check sees the
        // sleeper and notifies under the same lock, so the wake-up cannot fall in between.
        std::unique_lock lock(sleep_mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return stop_.load() || generation(job_.load()) != seen; });
        sleepers_.fetch_sub(1);
        spin = 0;
      }
      job = job_.load(std::memory_order_acquire);
    }
    if (stop_) return;
    seen = generation(job);
    work_on(seen, self);
  }
}

void ThreadPool::wake_sleepers() {
  { std::lock_guard lock(sleep_mutex_); }
  wake_.notify_all();
}

void ThreadPool::run_job(int64_t chunks, Call call, void* fn) {
  if (chunks <= 0) return;
  if (workers_.empty() || chunks == 1) {
    for (int64_t c = 0; c < chunks; ++c) call(fn, c);
    return;
  }
  if (chunks > kMaxChunks) throw std::length_error("ThreadPool::run: too many chunks");
  call_.store(call, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = (generation(job_.load(std::memory_order_relaxed)) + 1) & kGenerationMask;
  const int n = threads();
  for (int t = 0; t < n; ++t)
    ranges_[size_t(t)].word.store(make_range(gen, chunks * t / n, chunks * (t + 1) / n), std::memory_order_release);
  job_.store(gen << kGenerationShift);
  if (sleepers_.load() > 0) wake_sleepers();
  work_on(gen, 0);
  // only chunks that a worker claimed are left: wait for those
  for (int spin = 0; done_.load(std::memory_order_acquire) < chunks; ++spin)
    if (spin < kSpins) relax();
    else std::this_thread::yield();
}

}  // namespace salut::backend::cpu
