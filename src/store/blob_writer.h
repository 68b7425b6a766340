#pragma once
// Writes a download to disk and hashes it on a second thread, so the thread that receives
// from the network only copies bytes into large buffers. On a busy machine this keeps a
// verified download close to the speed of an unverified one.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"

namespace salut::store {

class BlobWriter {
 public:
  // Appends to `fd` (already positioned); hashes when `hasher` is set, which may already hold
  // the bytes an earlier run left in the file.
  BlobWriter(int fd, std::unique_ptr<Sha256> hasher);
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Copies `size` bytes in; false once a write has failed (errno in error()).
  bool append(const char* data, size_t size);
  // Waits until everything appended is on disk and hashed; false on a write error.
  bool flush();
  // Drops everything and starts the file and the hash over (the server ignored a Range).
  bool restart();
  int error() const;
  // The hex digest of everything written; call once, after flush().
  std::string hex_digest();

 private:
  using Buffer = std::vector<char>;
  void run();

  int fd_;
  std::unique_ptr<Sha256> hasher_;
  static constexpr size_t kBufferSize = 256 << 10;  // small enough to stay in cache between the copy, the write and the hash
  static constexpr size_t kBuffers = 16;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Buffer> full_;   // waiting to be written, in order
  std::vector<Buffer> free_;  // ready to be filled
  Buffer current_;
  bool busy_ = false;  // the worker holds a buffer
  bool stop_ = false;
  int errno_ = 0;
  std::thread worker_;
};

}  // namespace salut::store
