#include "store/blob_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace salut::store {

BlobWriter::BlobWriter(int fd, std::unique_ptr<Sha256> hasher) : fd_(fd), hasher_(std::move(hasher)) {
  for (size_t i = 0; i < kBuffers; ++i) {
    free_.emplace_back();
    free_.back().reserve(kBufferSize);
  }
  current_ = std::move(free_.back());
  free_.pop_back();
  worker_ = std::thread([this] { run(); });
}

BlobWriter::~BlobWriter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

bool BlobWriter::append(const char* data, size_t size) {
  while (size > 0) {
    size_t n = std::min(kBufferSize - current_.size(), size);
    current_.insert(current_.end(), data, data + n);
    data += n;
    size -= n;
    if (current_.size() < kBufferSize) continue;
    std::unique_lock lock(mutex_);
    if (errno_ != 0) return false;
    full_.push_back(std::move(current_));
    changed_.notify_all();
    changed_.wait(lock, [this] { return !free_.empty() || errno_ != 0; });
    if (errno_ != 0) return false;
    current_ = std::move(free_.back());
    free_.pop_back();
  }
  return true;
}

bool BlobWriter::flush() {
  std::unique_lock lock(mutex_);
  if (!current_.empty() && errno_ == 0) {
    full_.push_back(std::move(current_));
    changed_.notify_all();
    changed_.wait(lock, [this] { return (full_.empty() && !busy_) || errno_ != 0; });
    current_ = std::move(free_.back());
    free_.pop_back();
  }
  changed_.wait(lock, [this] { return (full_.empty() && !busy_) || errno_ != 0; });
  return errno_ == 0;
}

bool BlobWriter::restart() {
  if (!flush()) return false;
  std::lock_guard lock(mutex_);
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) < 0) {
    errno_ = errno;
    return false;
  }
  if (hasher_) hasher_ = std::make_unique<Sha256>();
  return true;
}

int BlobWriter::error() const {
  std::lock_guard lock(mutex_);
  return errno_;
}

std::string BlobWriter::hex_digest() { return hasher_ ? hasher_->hex_digest() : std::string(); }

void BlobWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stop_ || !full_.empty(); });
    if (full_.empty()) return;  // stopping, nothing left
    Buffer buffer = std::move(full_.front());
    full_.pop_front();
    busy_ = true;
    lock.unlock();

    int failure = 0;
    for (size_t written = 0; written < buffer.size() && failure == 0;) {
      ssize_t n = ::write(fd_, buffer.data() + written, buffer.size() - written);
      if (n < 0 && errno != EINTR) failure = errno;
      if (n > 0) written += static_cast<size_t>(n);
    }
    if (failure == 0 && hasher_) hasher_->update(buffer.data(), buffer.size());

    lock.lock();
    busy_ = false;
    if (failure != 0) {
      errno_ = failure;
      for (; !full_.empty(); full_.pop_front()) free_.push_back(std::move(full_.front()));
    }
    buffer.clear();
    free_.push_back(std::move(buffer));
    changed_.notify_all();
  }
}

}  // namespace salut::store
