#pragma once
// Pulls a model from the Hub into the HF cache: resumable (blobs/{etag}.incomplete continues
// with HTTP Range, in-process after a dropped connection and across runs after a crash),
// verified (size, and sha256 for LFS files), atomic (a blob is renamed into place only when
// complete, then linked from snapshots/), parallel, and safe against a second process pulling
// the same model (per-blob file locks).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/hf_cache.h"
#include "store/hub_client.h"
#include "store/model_id.h"

namespace salut::store {

struct PlannedFile {
  std::string path;
  uint64_t size = 0;  // 0 when the Hub did not say
};

// Progress reports; called from download threads, so implementations must be thread-safe.
class PullObserver {
 public:
  virtual ~PullObserver() = default;
  virtual void on_plan(const ModelId& id, const std::vector<PlannedFile>& files) {}
  // A transfer begins; `resumed_from` bytes were already on disk from an earlier run.
  virtual void on_file_start(const std::string& path, uint64_t resumed_from, uint64_t total) {}
  // `done` bytes of `total` are on disk (including what an earlier run left).
  virtual void on_progress(const std::string& path, uint64_t done, uint64_t total) {}
  virtual void on_file_done(const std::string& path, uint64_t size, bool downloaded) {}
  virtual void on_notice(const std::string& message) {}
};

struct PullOptions {
  int parallel_files = 8;
  int max_retries = 6;           // per file, reset whenever a retry makes progress
  double first_backoff_s = 0.5;  // doubles on each retry
  bool offline = false;          // cache only ($HF_HUB_OFFLINE)
  const std::atomic<bool>* cancel = nullptr;
};

struct PullResult {
  std::string commit;
  std::filesystem::path snapshot;
  uint64_t bytes_downloaded = 0;
  bool from_cache = false;  // nothing was asked of the network
};

class Downloader {
 public:
  Downloader(HfCache cache, HubClient client, PullOptions options = {});

  PullResult pull(const ModelId& id, PullObserver* observer = nullptr);

  // The cached snapshot of `id` when it holds a complete model.
  std::optional<std::filesystem::path> cached_model(const ModelId& id) const;

 private:
  struct Shared;
  uint64_t fetch_file(const ModelId& id, const std::string& commit, const std::string& file, Shared& shared,
                      PullObserver* observer);
  uint64_t download_blob(const ModelId& id, const std::string& file, const FileMeta& meta, Shared& shared,
                         PullObserver* observer);

  HfCache cache_;
  HubClient client_;
  PullOptions options_;
};

}  // namespace salut::store
