// Times salut's tokenizer on the benchmark corpus; bench/tokenizer_bench.py writes the corpus,
// runs this and the Python `tokenizers` package side by side, and compares.
//
//   salut_tokenizer_bench <tokenizer.json> <chunks.bin> [repeats]
//
// chunks.bin holds the texts as (little-endian uint32 length, bytes) records. Prints one JSON
// object: load times, encode times (single thread), byte and token counts, and a checksum of all
// IDs (sum over chunks k of (k+1) * sum over positions j of (j+1) * id, modulo 2^64) so the driver
// can check that both sides produced the same tokens.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<std::string> read_chunks(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos + 4 <= data.size();) {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<unsigned char>(data[pos + i])) << (8 * i);
    pos += 4;
    chunks.push_back(data.substr(pos, n));
    pos += n;
  }
  return chunks;
}

std::string list(const std::vector<double>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <tokenizer.json> <chunks.bin> [repeats]\n", argv[0]);
    return 2;
  }
  int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  std::vector<std::string> chunks = read_chunks(argv[2]);

  std::vector<double> load_ms;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    auto t = salut::tokenizer::Tokenizer::from_file(argv[1]);
    load_ms.push_back(seconds_since(start) * 1000);
  }
  auto tokenizer = salut::tokenizer::Tokenizer::from_file(argv[1]);

  std::vector<double> encode_s;
  size_t bytes = 0, tokens = 0;
  uint64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    bytes = tokens = 0;
    auto start = Clock::now();
    for (size_t k = 0; k < chunks.size(); ++k) {
      std::vector<int32_t> ids = tokenizer.encode(chunks[k], false);
      bytes += chunks[k].size();
      tokens += ids.size();
      if (r == 0) {
        uint64_t sum = 0;
        for (size_t j = 0; j < ids.size(); ++j) sum += (j + 1) * static_cast<uint64_t>(ids[j]);
        checksum += (k + 1) * sum;
      }
    }
    encode_s.push_back(seconds_since(start));
  }
  std::printf("{\"load_ms\": %s, \"encode_s\": %s, \"bytes\": %zu, \"tokens\": %zu, \"checksum\": \"%016llx\"}\n",
              list(load_ms).c_str(), list(encode_s).c_str(), bytes, tokens, static_cast<unsigned long long>(checksum));
  return 0;
}
