// The pool runs every chunk exactly once, whoever claims it, job after job.

#include "backend/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace salut::backend::cpu {
namespace {

TEST(ThreadPool, EveryChunkOnceInManyJobs) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t chunks : {0, 1, 2, 7, 100, 5000}) {
      for (int round = 0; round < 20; ++round) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(chunks));
        pool.run(chunks, [&](int64_t c) { hits[size_t(c)].fetch_add(1); });
        for (int64_t c = 0; c < chunks; ++c) ASSERT_EQ(hits[size_t(c)].load(), 1) << threads << " threads, chunk " << c;
      }
    }
  }
}

// Each thread runs its own share of a job front to back, then takes the others' leftovers from
// their backs (decode's chunks are consecutive rows: one long stream a core). The caller's share
// comes first: it runs chunks 0, 1, 2, ... until its share is gone, and after that only chunks of
// the other shares.
TEST(ThreadPool, TheCallerRunsItsShareInOrderFirst) {
  constexpr int kThreads = 3;
  ThreadPool pool(kThreads);
  for (int64_t chunks : {3, 10, 64, 1000}) {
    for (int round = 0; round < 20; ++round) {
      std::vector<int64_t> mine;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(chunks));
      const auto caller = std::this_thread::get_id();
      pool.run(chunks, [&](int64_t c) {
        hits[size_t(c)].fetch_add(1);
        if (std::this_thread::get_id() == caller) mine.push_back(c);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
      const int64_t share = chunks / kThreads;  // the caller's: [0, share)
      size_t i = 0;
      for (; i < mine.size() && mine[i] == int64_t(i); ++i) {
      }
      for (; i < mine.size(); ++i) ASSERT_GE(mine[i], share) << chunks << " chunks, round " << round;
    }
  }
}

TEST(ThreadPool, RangesCoverEveryItemOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 3, 64, 1000, 123457}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.run_range(n, 10, [&](int64_t a, int64_t b) {
      for (int64_t i = a; i < b; ++i) hits[size_t(i)].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << n;
  }
}

TEST(ThreadPool, ReturnsOnlyWhenSlowChunksAreDone) {
  ThreadPool pool(4);
  std::atomic<int> finished{0};
  pool.run(8, [&](int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    finished.fetch_add(1);
  });
  EXPECT_EQ(finished.load(), 8);
}

TEST(ThreadPool, WorkersThatSleptComeBack) {
  ThreadPool pool(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // long enough for the workers to sleep
  std::vector<std::atomic<int>> hits(64);
  pool.run(64, [&](int64_t c) { hits[size_t(c)].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

}  // namespace
}  // namespace salut::backend::cpu
