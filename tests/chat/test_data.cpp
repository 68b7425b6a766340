#include "test_data.h"

#include <zlib.h>

#include <stdexcept>

namespace salut::chat::testing {

std::filesystem::path data_dir() { return SALUT_TEST_DATA_DIR; }

std::string read_gz(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path.string());
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(file, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(file);
  if (n < 0) throw std::runtime_error("cannot decompress " + path.string());
  return out;
}

nlohmann::ordered_json read_json_gz(const std::filesystem::path& path) {
  return nlohmann::ordered_json::parse(read_gz(path));
}

}  // namespace salut::chat::testing
