#include "test_util.h"

#include <fmt/format.h>
#include <zlib.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace salut::tokenizer::test {

std::filesystem::path data_dir() { return std::filesystem::path(SALUT_TEST_DATA_DIR) / "tokenizers"; }

std::string read_gz(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path.string());
  std::string out;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) out.append(buffer, n);
  gzclose(file);
  if (n < 0) throw std::runtime_error("cannot read " + path.string());
  return out;
}

nlohmann::json read_json_gz(const std::filesystem::path& path) { return nlohmann::json::parse(read_gz(path)); }

std::string real_tokenizer_json(const std::string& name) { return read_gz(data_dir() / name / "tokenizer.json.gz"); }

const Tokenizer& real_tokenizer(const std::string& name, bool with_config) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, bool>, std::unique_ptr<Tokenizer>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[{name, with_config}];
  if (!slot) {
    std::string json = real_tokenizer_json(name);
    if (with_config) {
      std::string config = read_gz(data_dir() / name / "tokenizer_config.json.gz");
      slot = std::make_unique<Tokenizer>(Tokenizer::from_json(json, config));
    } else {
      slot = std::make_unique<Tokenizer>(Tokenizer::from_json(json));
    }
  }
  return *slot;
}

std::string stream_decode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip_special) {
  StreamingDetokenizer stream(tokenizer, skip_special);
  std::string out;
  for (int32_t id : ids) out += stream.push(id);
  out += stream.finish();
  return out;
}

namespace {
uint64_t fnv(const unsigned char* p, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
}  // namespace

std::string fnv_ids(const std::vector<int32_t>& ids) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t id : ids) {
    auto u = static_cast<uint32_t>(id);
    unsigned char le[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                           static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
    h = fnv(le, 4, h);
  }
  return fmt::format("{:016x}", h);
}

std::string fnv_bytes(std::string_view bytes) {
  return fmt::format("{:016x}", fnv(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

std::vector<int32_t> ids_of(const nlohmann::json& list) {
  std::vector<int32_t> ids;
  for (const auto& v : list) ids.push_back(v.get<int32_t>());
  return ids;
}

}  // namespace salut::tokenizer::test
