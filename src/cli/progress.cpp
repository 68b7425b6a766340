#include "cli/progress.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/format.h"

namespace salut::cli {

PullProgress::PullProgress(FILE* out, bool live) : out_(out), live_(live) {
  if (live_) renderer_ = std::thread([this] { render_loop(); });
}

PullProgress::~PullProgress() { finish(); }

void PullProgress::finish() {
  {
    std::lock_guard lock(mutex_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (renderer_.joinable()) renderer_.join();
  std::lock_guard lock(mutex_);
  if (live_) redraw_locked(true);
  std::fflush(out_);
}

void PullProgress::on_plan(const store::ModelId& id, const std::vector<store::PlannedFile>& files) {
  std::lock_guard lock(mutex_);
  for (const auto& file : files) {
    files_[file.path].total = file.size;
    plan_total_ += file.size;
  }
  started_ = Clock::now();
  std::string line = fmt::format("pulling {}: {} files, {}", id.str(), files.size(), human_bytes(plan_total_));
  if (live_) pending_lines_.push_back(line);
  else fmt::print(out_, "{}\n", line);
}

void PullProgress::on_file_start(const std::string& path, uint64_t resumed_from, uint64_t total) {
  std::lock_guard lock(mutex_);
  FileState& file = files_[path];
  file.active = true;
  file.started = Clock::now();
  file.start_bytes = resumed_from;
  file.done = resumed_from;
  if (total > 0) file.total = total;
  session_start_bytes_ += resumed_from;
}

void PullProgress::on_progress(const std::string& path, uint64_t done, uint64_t total) {
  std::lock_guard lock(mutex_);
  FileState& file = files_[path];
  file.done = done;
  if (total > 0) file.total = total;
}

void PullProgress::on_file_done(const std::string& path, uint64_t size, bool downloaded) {
  std::lock_guard lock(mutex_);
  FileState& file = files_[path];
  if (!downloaded) session_start_bytes_ += size;  // cached bytes are not part of the transfer rate
  file.finished = true;
  file.active = false;
  file.done = size;
  if (file.total == 0) file.total = size;
  double seconds = std::chrono::duration<double>(Clock::now() - file.started).count();
  const uint64_t transferred = size - std::min(size, file.start_bytes);
  std::string line = fmt::format("  {} {}", path, human_bytes(size));
  if (!downloaded) line += " (cached)";
  else if (transferred >= 1'000'000)  // a rate over a few bytes says nothing
    line += fmt::format(" ({}/s)", human_bytes(static_cast<uint64_t>(transferred / std::max(seconds, 1e-3))));
  if (live_) pending_lines_.push_back(line);
  else fmt::print(out_, "{}\n", line);
}

void PullProgress::on_notice(const std::string& message) {
  std::lock_guard lock(mutex_);
  if (live_) pending_lines_.push_back("  " + message);
  else fmt::print(out_, "  {}\n", message);
}

uint64_t PullProgress::done_bytes_locked() const {
  uint64_t done = 0;
  for (const auto& [path, file] : files_) done += file.done;
  return done;
}

std::string PullProgress::bar_line(const std::string& label, uint64_t done, uint64_t total, double rate) const {
  constexpr int kWidth = 24;
  double fraction = total > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0.0;
  int filled = static_cast<int>(fraction * kWidth);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
  double eta = rate > 0 && total >= done ? static_cast<double>(total - done) / rate : -1;
  std::string name = label.size() > 32 ? "..." + label.substr(label.size() - 29) : label;
  return fmt::format("  {:<32} [{}] {:>3}% {:>9} / {:<9} {:>10}/s  ETA {}", name, bar, static_cast<int>(fraction * 100),
                     human_bytes(done), total > 0 ? human_bytes(total) : "?", human_bytes(static_cast<uint64_t>(rate)),
                     human_duration(eta));
}

void PullProgress::redraw_locked(bool final) {
  std::string frame;
  for (int i = 0; i < live_lines_; ++i) frame += "\x1b[1A";  // back over the previous live block
  frame += "\r\x1b[J";
  for (const auto& line : pending_lines_) frame += line + "\n";
  pending_lines_.clear();
  live_lines_ = 0;
  if (!final) {
    const auto now = Clock::now();
    for (const auto& [path, file] : files_) {
      if (!file.active) continue;
      double seconds = std::max(std::chrono::duration<double>(now - file.started).count(), 1e-3);
      frame += bar_line(path, file.done, file.total, static_cast<double>(file.done - std::min(file.done, file.start_bytes)) / seconds) + "\n";
      ++live_lines_;
    }
    if (plan_total_ > 0) {
      uint64_t done = done_bytes_locked();
      double seconds = std::max(std::chrono::duration<double>(now - started_).count(), 1e-3);
      double rate = static_cast<double>(done > session_start_bytes_ ? done - session_start_bytes_ : 0) / seconds;
      frame += bar_line("total", done, plan_total_, rate) + "\n";
      ++live_lines_;
    }
  }
  std::fputs(frame.c_str(), out_);
  std::fflush(out_);
}

void PullProgress::render_loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    redraw_locked(false);
    wake_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

}  // namespace salut::cli
