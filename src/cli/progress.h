#pragma once
// Pull progress for people: live bars (bytes, rate, ETA per file and in total) on a terminal,
// a plain line per file otherwise (logs, pipes, CI).

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/downloader.h"

namespace salut::cli {

class PullProgress : public store::PullObserver {
 public:
  // `live` picks the bars; the default is whether stderr is a terminal.
  explicit PullProgress(FILE* out, bool live);
  ~PullProgress() override;

  void on_plan(const store::ModelId& id, const std::vector<store::PlannedFile>& files) override;
  void on_file_start(const std::string& path, uint64_t resumed_from, uint64_t total) override;
  void on_progress(const std::string& path, uint64_t done, uint64_t total) override;
  void on_file_done(const std::string& path, uint64_t size, bool downloaded) override;
  void on_notice(const std::string& message) override;

  // Stops the live display, leaving the final state on screen.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  struct FileState {
    uint64_t done = 0;
    uint64_t total = 0;
    uint64_t start_bytes = 0;  // already on disk when this run began
    Clock::time_point started;
    bool active = false;
    bool finished = false;
  };

  void render_loop();
  void redraw_locked(bool final);
  std::string bar_line(const std::string& label, uint64_t done, uint64_t total, double rate) const;
  uint64_t done_bytes_locked() const;

  FILE* out_;
  bool live_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread renderer_;
  std::map<std::string, FileState> files_;
  std::vector<std::string> pending_lines_;  // printed above the live block on the next redraw
  int live_lines_ = 0;
  uint64_t plan_total_ = 0;
  uint64_t session_start_bytes_ = 0;
  Clock::time_point started_ = Clock::now();
};

}  // namespace salut::cli
