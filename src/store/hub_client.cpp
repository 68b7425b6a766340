#include "store/hub_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/env.h"
#include "core/error.h"
#include "salut/version.h"

namespace salut::store {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// "scheme://host:port" of a URL, lower-cased, for the same-origin check on redirects.
std::string origin_of(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return {};
  auto path_start = url.find('/', scheme_end + 3);
  return lower(url.substr(0, path_start));
}

// W/"abc" -> abc, as huggingface_hub normalises ETags.
std::string normalize_etag(std::string etag) {
  etag = trim(etag);
  if (etag.starts_with("W/")) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last response only
  std::string body;
};

// One libcurl easy handle per thread, reused so connections to the Hub stay alive.
CURL* thread_handle() {
  global_init();
  struct Handle {
    CURL* curl = curl_easy_init();
    ~Handle() { curl_easy_cleanup(curl); }
  };
  static thread_local Handle handle;
  curl_easy_reset(handle.curl);
  return handle.curl;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  std::string line(data, size * count);
  if (line.starts_with("HTTP/")) {
    response->headers.clear();  // a new response (after a redirect or 100-continue)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    response->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<Response*>(user)->body.append(data, size * count);
  return size * count;
}

class Headers {
 public:
  Headers(const HubConfig& config, bool with_auth) {
    add("Accept-Encoding: identity");  // sizes must be the real file sizes
    if (with_auth && config.token) add("Authorization: Bearer " + *config.token);
  }
  ~Headers() { curl_slist_free_all(list_); }
  void add(const std::string& header) { list_ = curl_slist_append(list_, header.c_str()); }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

void set_common(CURL* curl, const HubConfig& config, const std::string& url, const Headers& headers) {
  static const std::string user_agent = fmt::format("salut/{}", kVersion);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, config.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, config.low_speed_timeout_s);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
}

// Runs a small request (metadata) once: the whole body is kept. Transport failures throw.
Response perform_once(const HubConfig& config, const std::string& method, const std::string& url,
                      bool follow_redirects) {
  CURL* curl = thread_handle();
  Headers headers(config, true);
  Response response;
  set_common(curl, config, url, headers);
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK)
    throw Error(Errc::unavailable, fmt::format("cannot reach the Hub at {}: {}", config.endpoint, curl_easy_strerror(rc)));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

// A Hub that answers 429 or 5xx is asked again, twice, with backoff. One that cannot be
// reached is not: the caller falls back to the cache at once, as huggingface_hub does.
Response perform(const HubConfig& config, const std::string& method, const std::string& url,
                 bool follow_redirects = true) {
  double backoff = 0.5;
  for (int attempt = 0;; ++attempt) {
    Response response = perform_once(config, method, url, follow_redirects);
    const bool transient = response.status == 429 || response.status >= 500;
    if (!transient || attempt == 2) return response;
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff *= 2;
  }
}

std::string header(const Response& response, const std::string& name) {
  auto it = response.headers.find(name);
  return it == response.headers.end() ? std::string() : it->second;
}

// Turns a Hub error response into an error that names the cause, as huggingface_hub's
// hf_raise_for_status does from X-Error-Code.
[[noreturn]] void raise_for_status(const HubConfig& config, const Response& response, const ModelId& id,
                                   const std::string& what) {
  const std::string code = header(response, "x-error-code");
  const long status = response.status;
  const std::string repo = id.repo();
  if (code == "GatedRepo") {
    throw Error(status == 403 ? Errc::forbidden : Errc::unauthorized,
                fmt::format("{} is a gated repository: accept its conditions at {}/{} and {}", repo, config.endpoint,
                            repo, config.token ? "use a token that has access (HF_TOKEN)" : "set HF_TOKEN"));
  }
  if (code == "RepoNotFound" || (status == 404 && code.empty() && what == "repo")) {
    throw Error(Errc::not_found,
                config.token ? fmt::format("repository {} not found on {} (or the token in use cannot access it)",
                                           repo, config.endpoint)
                             : fmt::format("repository {} not found on {} (if it is private or gated, set HF_TOKEN)",
                                           repo, config.endpoint));
  }
  if (code == "RevisionNotFound")
    throw Error(Errc::not_found, fmt::format("revision '{}' not found in {}", id.revision_or_main(), repo));
  if (code == "EntryNotFound" || status == 404)
    throw Error(Errc::not_found, fmt::format("{} not found in {}", what, repo));
  if (status == 401)
    throw Error(Errc::unauthorized, config.token ? fmt::format("the Hub refused the token for {} (HTTP 401): check HF_TOKEN", repo)
                                                 : fmt::format("{} needs authentication (HTTP 401): set HF_TOKEN", repo));
  if (status == 403)
    throw Error(Errc::forbidden, fmt::format("access to {} is forbidden (HTTP 403)", repo));
  if (status == 429 || status >= 500)
    throw Error(Errc::unavailable, fmt::format("the Hub is unavailable (HTTP {}) for {}", status, repo));
  throw Error(Errc::unavailable, fmt::format("unexpected HTTP {} from the Hub for {} ({})", status, repo, what));
}

std::optional<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = trim(ss.str());
  if (token.empty()) return std::nullopt;
  return token;
}

// The "next" URL of a Link header, for the tree API's pagination.
std::optional<std::string> next_link(const std::string& link) {
  auto rel = link.find("rel=\"next\"");
  if (rel == std::string::npos) return std::nullopt;
  auto close = link.rfind('>', rel);
  auto open = link.rfind('<', close);
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  return link.substr(open + 1, close - open - 1);
}

}  // namespace

std::string url_encode(const std::string& text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

HubConfig HubConfig::from_env() {
  HubConfig config;
  if (auto endpoint = env("HF_ENDPOINT")) config.endpoint = *endpoint;
  while (config.endpoint.ends_with('/')) config.endpoint.pop_back();
  if (auto token = env("HF_TOKEN")) {
    config.token = trim(*token);
  } else {
    std::string path;
    if (auto token_path = env("HF_TOKEN_PATH")) path = *token_path;
    else if (auto hf_home = env("HF_HOME")) path = *hf_home + "/token";
    else path = (xdg_cache_home() / "huggingface" / "token").string();
    config.token = read_token_file(path);
  }
  return config;
}

HubClient::HubClient(HubConfig config) : config_(std::move(config)) {}

RepoInfo HubClient::repo_info(const ModelId& id) {
  const std::string api = config_.endpoint + "/api/models/" + id.owner + "/" + id.name;
  Response response = perform(config_, "GET", api + "/revision/" + url_encode(id.revision_or_main(), false));
  if (response.status != 200) raise_for_status(config_, response, id, "repo");

  RepoInfo info;
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (!json.is_object() || !json.contains("sha") || !json["sha"].is_string())
    throw Error(Errc::unavailable, fmt::format("the Hub sent an unreadable answer for {}", id.repo()));
  info.commit = json["sha"].get<std::string>();
  if (json.contains("siblings") && json["siblings"].is_array()) {
    for (const auto& sibling : json["siblings"])
      if (sibling.is_object() && sibling.contains("rfilename") && sibling["rfilename"].is_string())
        info.files.push_back({sibling["rfilename"].get<std::string>(), std::nullopt, std::nullopt});
  }

  // Sizes and LFS hashes come from the tree API; without them downloads still work (HEAD
  // gives both), only the total in the progress bar arrives later.
  std::map<std::string, RepoFile*> by_path;
  for (auto& file : info.files) by_path[file.path] = &file;
  std::optional<std::string> url = api + "/tree/" + info.commit + "?recursive=true";
  for (int page = 0; url && page < 1000; ++page) {
    Response tree = perform(config_, "GET", *url);
    if (tree.status != 200) break;
    auto entries = nlohmann::json::parse(tree.body, nullptr, false);
    if (!entries.is_array()) break;
    for (const auto& entry : entries) {
      if (!entry.is_object() || entry.value("type", "") != "file" || !entry.contains("path")) continue;
      auto it = by_path.find(entry["path"].get<std::string>());
      if (it == by_path.end()) continue;
      if (entry.contains("size") && entry["size"].is_number_unsigned()) it->second->size = entry["size"].get<uint64_t>();
      if (entry.contains("lfs") && entry["lfs"].is_object() && entry["lfs"].contains("oid"))
        it->second->lfs_sha256 = entry["lfs"]["oid"].get<std::string>();
    }
    url = next_link(header(tree, "link"));
  }
  return info;
}

FileMeta HubClient::file_meta(const ModelId& id, const std::string& commit, const std::string& file) {
  std::string url = config_.endpoint + "/" + id.repo() + "/resolve/" + commit + "/" + url_encode(file, true);
  const std::string hub_origin = origin_of(config_.endpoint);
  // Follow relative redirects (renamed repositories) ourselves; stop at the first one that
  // leaves the Hub: that is where the bytes are.
  for (int hop = 0; hop < 10; ++hop) {
    Response response = perform(config_, "HEAD", url, /*follow_redirects=*/false);
    const std::string location = header(response, "location");
    const bool redirect = response.status >= 300 && response.status < 400 && !location.empty();
    if (redirect && location.starts_with("/")) {
      url = hub_origin + location;
      continue;
    }
    if (response.status >= 400 || (response.status >= 300 && !redirect))
      raise_for_status(config_, response, id, "file " + file);

    FileMeta meta;
    meta.commit = header(response, "x-repo-commit");
    std::string etag = header(response, "x-linked-etag");
    if (etag.empty()) etag = header(response, "etag");
    meta.etag = normalize_etag(etag);
    std::string size = header(response, "x-linked-size");
    if (size.empty() && !redirect) size = header(response, "content-length");
    if (!size.empty()) meta.size = std::stoull(size);
    meta.url = redirect ? location : url;
    meta.send_auth = origin_of(meta.url) == hub_origin;
    if (meta.etag.empty() || meta.etag.find('/') != std::string::npos || meta.etag.find("..") != std::string::npos)
      throw Error(Errc::unavailable, fmt::format("the Hub sent no usable ETag for {} in {}", file, id.repo()));
    return meta;
  }
  throw Error(Errc::unavailable, fmt::format("too many redirects for {} in {}", file, id.repo()));
}

FetchResult HubClient::fetch(const FileMeta& meta, uint64_t offset, const DataSink& on_data) {
  struct Sink {
    const DataSink* on_data;
    CURL* curl;
    bool aborted = false;
    long status = 0;
  };
  CURL* curl = thread_handle();
  Headers headers(config_, meta.send_auth);
  if (offset > 0) headers.add(fmt::format("Range: bytes={}-", offset));
  set_common(curl, config_, meta.url, headers);
  // libcurl drops Authorization itself if a further redirect changes host.
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
  Sink sink{&on_data, curl};
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) -> size_t {
    auto* s = static_cast<Sink*>(user);
    if (s->status == 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    // Error bodies are not file content.
    if (s->status != 200 && s->status != 206) return size * count;
    if (!(*s->on_data)(s->status, data, size * count)) {
      s->aborted = true;
      return 0;
    }
    return size * count;
  });
  CURLcode rc = curl_easy_perform(curl);
  FetchResult result;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.aborted = sink.aborted;
  result.transport_ok = rc == CURLE_OK;
  if (rc != CURLE_OK) result.error = curl_easy_strerror(rc);
  else if (result.status != 200 && result.status != 206) result.error = fmt::format("HTTP {}", result.status);
  return result;
}

}  // namespace salut::store
