#include "core/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace salut {

int FileLock::open_lock_file(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(Errc::io, "cannot open lock file " + path.string() + ": " + std::strerror(errno));
  return fd;
}

bool FileLock::try_lock() { return ::flock(fd_, LOCK_EX | LOCK_NB) == 0; }

void FileLock::lock() {
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) throw Error(Errc::io, std::string("cannot lock: ") + std::strerror(errno));
  }
}

FileLock::~FileLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace salut
