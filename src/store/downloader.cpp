#include "store/downloader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/file_lock.h"
#include "core/format.h"
#include "core/sha256.h"
#include "store/blob_writer.h"
#include "store/model_files.h"

namespace salut::store {
namespace {

bool is_sha256(const std::string& etag) {
  return etag.size() == 64 && std::all_of(etag.begin(), etag.end(), [](char c) { return std::isxdigit(c); });
}

uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// Free bytes on the filesystem that holds `path` (or its nearest existing parent).
uint64_t free_space(fs::path path) {
  std::error_code ec;
  while (!path.empty() && !fs::exists(path, ec)) path = path.parent_path();
  struct statvfs info {};
  if (::statvfs(path.empty() ? "." : path.c_str(), &info) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

// State the download threads share: the first error wins and stops the others.
struct Downloader::Shared {
  std::mutex mutex;
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  const std::atomic<bool>* cancel = nullptr;
  bool stopped() const { return failed.load() || (cancel != nullptr && cancel->load()); }
};

Downloader::Downloader(HfCache cache, HubClient client, PullOptions options)
    : cache_(std::move(cache)), client_(std::move(client)), options_(options) {}

std::optional<fs::path> Downloader::cached_model(const ModelId& id) const {
  auto snapshot = cache_.snapshot_path(id);
  if (snapshot && check_model_folder(*snapshot).complete) return snapshot;
  return std::nullopt;
}

PullResult Downloader::pull(const ModelId& id, PullObserver* observer) {
  if (options_.offline) {
    if (auto snapshot = cached_model(id)) return {snapshot->filename().string(), *snapshot, 0, true};
    throw Error(Errc::unavailable, fmt::format("offline (HF_HUB_OFFLINE=1) and {} is not in the cache at {}", id.str(),
                                               cache_.root().string()));
  }

  RepoInfo info;
  try {
    info = client_.repo_info(id);
  } catch (const Error& e) {
    if (e.code() != Errc::unavailable) throw;
    // As huggingface_hub does: without the network, a cached copy is good enough.
    if (auto snapshot = cached_model(id)) {
      if (observer) observer->on_notice(fmt::format("{}; using the cached copy", e.what()));
      return {snapshot->filename().string(), *snapshot, 0, true};
    }
    throw Error(Errc::unavailable, fmt::format("{}, and {} is not in the cache", e.what(), id.str()));
  }

  std::vector<RepoFile> files;
  for (const auto& file : info.files)
    if (is_model_file(file.path)) files.push_back(file);
  auto has = [&](auto pred) { return std::any_of(files.begin(), files.end(), pred); };
  if (!has([](const RepoFile& f) { return f.path == "config.json"; }))
    throw Error(Errc::not_a_model, fmt::format("{} is not an MLX model: it has no config.json", id.str()));
  if (!has([](const RepoFile& f) { return f.path.ends_with(".safetensors"); }))
    throw Error(Errc::not_a_model, fmt::format("{} is not an MLX model: it has no .safetensors weights", id.str()));

  // Biggest first, so the long transfers start at once and small files fill the gaps.
  std::stable_sort(files.begin(), files.end(),
                   [](const RepoFile& a, const RepoFile& b) { return a.size.value_or(0) > b.size.value_or(0); });

  uint64_t missing_bytes = 0;
  std::vector<PlannedFile> plan;
  for (const auto& file : files) {
    plan.push_back({file.path, file.size.value_or(0)});
    const bool cached = file.lfs_sha256 && fs::exists(cache_.blob_path(id, *file.lfs_sha256));
    if (!cached) {
      uint64_t partial = file.lfs_sha256 ? file_size_or_zero(cache_.blob_path(id, *file.lfs_sha256).string() + ".incomplete") : 0;
      missing_bytes += file.size.value_or(0) > partial ? file.size.value_or(0) - partial : 0;
    }
  }
  if (uint64_t available = free_space(cache_.repo_dir(id)); missing_bytes > available)
    throw Error(Errc::no_space, fmt::format("not enough disk space for {}: it needs {} more, {} is free at {}", id.str(),
                                            human_bytes(missing_bytes), human_bytes(available), cache_.root().string()));
  if (observer) observer->on_plan(id, plan);

  Shared shared;
  shared.cancel = options_.cancel;
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> downloaded{0};
  auto worker = [&] {
    for (size_t i = next++; i < files.size() && !shared.stopped(); i = next++) {
      try {
        downloaded += fetch_file(id, info.commit, files[i].path, shared, observer);
      } catch (...) {
        std::lock_guard lock(shared.mutex);
        if (!shared.error) shared.error = std::current_exception();
        shared.failed = true;
      }
    }
  };
  const size_t thread_count = std::min<size_t>(std::max(1, options_.parallel_files), files.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < thread_count; ++t) threads.emplace_back(worker);
  worker();
  for (auto& thread : threads) thread.join();
  if (shared.error) std::rethrow_exception(shared.error);
  if (options_.cancel && options_.cancel->load()) throw Error(Errc::unavailable, "download cancelled");

  // The ref moves only once every file of the new commit is in place.
  if (!is_commit_hash(id.revision_or_main())) cache_.write_ref(id, id.revision_or_main(), info.commit);
  return {info.commit, cache_.snapshot_dir(id, info.commit), downloaded.load(), false};
}

uint64_t Downloader::fetch_file(const ModelId& id, const std::string& commit, const std::string& file, Shared& shared,
                                PullObserver* observer) {
  FileMeta meta = client_.file_meta(id, commit, file);
  uint64_t downloaded = 0;
  fs::path blob = cache_.blob_path(id, meta.etag);
  if (!fs::exists(blob)) downloaded = download_blob(id, file, meta, shared, observer);
  cache_.link_snapshot_file(id, commit, file, meta.etag);
  if (observer) observer->on_file_done(file, file_size_or_zero(blob), downloaded > 0);
  return downloaded;
}

uint64_t Downloader::download_blob(const ModelId& id, const std::string& file, const FileMeta& meta, Shared& shared,
                                   PullObserver* observer) {
  const fs::path blob = cache_.blob_path(id, meta.etag);
  std::error_code ec;
  fs::create_directories(blob.parent_path(), ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot create {}: {}", blob.parent_path().string(), ec.message()));

  FileLock lock(cache_.lock_path(id, meta.etag), [&] {
    if (observer) observer->on_notice(fmt::format("{}: waiting for another process downloading it", file));
  });
  if (fs::exists(blob)) return 0;  // the other process finished it

  const fs::path partial = blob.string() + ".incomplete";
  Fd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw Error(Errc::io, fmt::format("cannot write {}: {}", partial.string(), std::strerror(errno)));

  const bool verify_sha = is_sha256(meta.etag);
  const uint64_t expected = meta.size.value_or(UINT64_MAX);
  uint64_t offset = file_size_or_zero(partial);
  if (offset > expected) offset = 0;
  auto hasher = verify_sha ? std::make_unique<Sha256>() : nullptr;
  if (offset > 0) {
    if (hasher) sha256_file(partial, *hasher, offset);
    if (observer) observer->on_notice(fmt::format("{}: resuming at {}", file, human_bytes(offset)));
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(offset)) != 0 || ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
    throw Error(Errc::io, fmt::format("cannot write {}: {}", partial.string(), std::strerror(errno)));

  if (observer) observer->on_file_start(file, offset, meta.size.value_or(0));
  BlobWriter writer(fd.get(), std::move(hasher));
  uint64_t received = 0;  // bytes this run took from the network
  bool first_chunk = true;
  auto sink = [&](long status, const char* data, size_t size) {
    if (shared.stopped()) return false;
    if (std::exchange(first_chunk, false) && status == 200 && offset > 0) {
      // The server ignored our Range and sends the whole file: start over.
      if (!writer.restart()) return false;
      offset = 0;
    }
    if (!writer.append(data, size)) return false;
    offset += size;
    received += size;
    if (observer) observer->on_progress(file, offset, meta.size.value_or(0));
    return true;
  };

  double backoff = options_.first_backoff_s;
  for (int attempt = 0;; ++attempt) {
    const uint64_t before = offset;
    first_chunk = true;
    FetchResult result = client_.fetch(meta, offset, sink);
    if (!writer.flush()) {
      const int write_errno = writer.error();
      if (write_errno == ENOSPC || write_errno == EDQUOT)
        throw Error(Errc::no_space, fmt::format("disk full while writing {} of {}; free some space and pull again (the "
                                                "partial download is kept and will resume)", file, id.str()));
      throw Error(Errc::io, fmt::format("cannot write {}: {}", partial.string(), std::strerror(write_errno)));
    }
    if (shared.stopped()) throw Error(Errc::unavailable, "download cancelled");
    if (result.transport_ok && result.status == 416 && offset == expected) break;  // already complete
    if (result.transport_ok && (result.status == 200 || result.status == 206)) {
      if (meta.size && offset != expected)
        throw Error(Errc::verification, fmt::format("{} of {}: the server sent {} bytes, expected {}", file, id.str(),
                                                    offset, expected));
      break;
    }
    if (result.transport_ok && result.status >= 400 && result.status < 500 && result.status != 408 &&
        result.status != 429)
      throw Error(result.status == 401 ? Errc::unauthorized : result.status == 403 ? Errc::forbidden : Errc::unavailable,
                  fmt::format("downloading {} of {} failed: {}", file, id.str(), result.error));
    if (offset > before) {  // progress was made: this is a fresh problem, not a repeated one
      attempt = 0;
      backoff = options_.first_backoff_s;
    }
    if (attempt >= options_.max_retries)
      throw Error(Errc::unavailable, fmt::format("downloading {} of {} failed after {} retries: {} (run pull again to "
                                                 "resume)", file, id.str(), options_.max_retries, result.error));
    if (observer)
      observer->on_notice(fmt::format("{}: {} at {}; resuming in {:.1f}s", file, result.error, human_bytes(offset), backoff));
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(backoff * 2, 30.0);
  }

  if (verify_sha) {
    std::string actual = writer.hex_digest();
    if (actual != meta.etag) {
      fs::remove(partial, ec);
      throw Error(Errc::verification, fmt::format("{} of {} is corrupt: sha256 {} but the Hub says {}; the partial "
                                                  "download was deleted, pull again", file, id.str(), actual, meta.etag));
    }
  }
  ::fchmod(fd.get(), 0644);
  fs::rename(partial, blob, ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot move {} into place: {}", blob.string(), ec.message()));
  return received;
}

}  // namespace salut::store
