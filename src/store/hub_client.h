#pragma once
// A client for the Hugging Face Hub's HTTP protocol (libcurl): repository info, the tree API,
// per-file metadata by HEAD on resolve/, and ranged file transfers.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/model_id.h"

namespace salut::store {

struct HubConfig {
  std::string endpoint = "https://huggingface.co";  // no trailing slash
  std::optional<std::string> token;
  long connect_timeout_s = 15;
  long low_speed_timeout_s = 30;  // a transfer that stalls this long is dropped (and resumed)

  // $HF_ENDPOINT; token from $HF_TOKEN, else the file $HF_TOKEN_PATH (default $HF_HOME/token).
  static HubConfig from_env();
};

struct RepoFile {
  std::string path;
  std::optional<uint64_t> size;
  std::optional<std::string> lfs_sha256;
};

struct RepoInfo {
  std::string commit;
  std::vector<RepoFile> files;
};

struct FileMeta {
  std::string commit;
  std::string etag;  // sha256 for LFS files, git blob sha1 otherwise
  std::optional<uint64_t> size;
  std::string url;            // where the bytes are (the redirect target for LFS files)
  bool send_auth = true;      // false once the bytes live on another host
};

// What a transfer ended with. Transport failures are data, not exceptions: the downloader
// decides whether to resume.
struct FetchResult {
  bool transport_ok = false;
  long status = 0;
  std::string error;  // transport error or HTTP error summary
  bool aborted = false;  // the data callback asked to stop
};

class HubClient {
 public:
  explicit HubClient(HubConfig config);

  const HubConfig& config() const { return config_; }

  // Resolves the model's revision to a commit and lists its files (with sizes and LFS hashes
  // from the tree API when the Hub provides them). Throws salut::Error naming the cause.
  RepoInfo repo_info(const ModelId& id);

  // HEAD /{repo}/resolve/{commit}/{file} without following the CDN redirect.
  FileMeta file_meta(const ModelId& id, const std::string& commit, const std::string& file);

  // Receives the body of a successful (200 or 206) response; returns false to abort.
  using DataSink = std::function<bool(long status, const char* data, size_t size)>;
  // GETs meta.url from byte `offset` (a 200 means the server ignored the range).
  FetchResult fetch(const FileMeta& meta, uint64_t offset, const DataSink& on_data);

 private:
  HubConfig config_;
};

// Percent-encodes everything but unreserved characters (and '/', when keep_slash).
std::string url_encode(const std::string& text, bool keep_slash);

}  // namespace salut::store
