#pragma once
// An exclusive advisory lock on a file (flock), held for the object's lifetime. Used so two
// processes downloading the same blob end with one correct copy.

#include <filesystem>

namespace salut {

class FileLock {
 public:
  // Blocks until the lock is held; `on_wait` runs once if another process holds it first.
  template <typename OnWait>
  FileLock(const std::filesystem::path& path, OnWait on_wait) : fd_(open_lock_file(path)) {
    if (!try_lock()) {
      on_wait();
      lock();
    }
  }
  explicit FileLock(const std::filesystem::path& path) : FileLock(path, [] {}) {}
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  static int open_lock_file(const std::filesystem::path& path);
  bool try_lock();
  void lock();
  int fd_;
};

}  // namespace salut
