// libFuzzer target: a fuzzed model.safetensors in a folder, opened as a WeightStore; every
// `<module>.weight` resolved as a linear layer (with and without an input width) under a fixed
// quantized config, and the first and last rows of each layer that resolves dequantized. Checks
// that resolve_linear's validation is enough for dequantize_row to stay inside the mapping
// (AddressSanitizer) and that bad files end in salut::Error.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "weights/quantization.h"

namespace {

namespace fs = std::filesystem;
using namespace salut::weights;

const fs::path& folder() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("salut-linear-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(folder(), ec);
    });
    return d;
  }();
  return dir;
}

const ModelConfig& config() {
  static const ModelConfig c = ModelConfig::parse(
      nlohmann::json::parse(R"({"model_type": "fuzz", "quantization": {"group_size": 64, "bits": 4,
        "o.proj": {"group_size": 32, "bits": 3}, "n.proj": false, "m.proj": {"mode": "mxfp4"},
        "v.proj": {"mode": "nvfp4"}, "x.proj": {"mode": "mxfp8"}, "d.proj": true}})"),
      nullptr, "fuzz config.json");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(folder() / "model.safetensors", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  try {
    const WeightStore store = WeightStore::open(folder());
    std::vector<float> row;
    for (std::string_view name : store.names()) {
      if (!name.ends_with(".weight")) continue;
      const std::string module(name.substr(0, name.size() - 7));
      for (std::optional<int64_t> in : {std::optional<int64_t>(), std::optional<int64_t>(64),
                                        std::optional<int64_t>(128), std::optional<int64_t>(32)}) {
        try {
          const LinearView v = resolve_linear(store, config(), module, in);
          if (v.in_features > (1 << 20) || v.out_features == 0) continue;
          row.assign(size_t(v.in_features), 0.0f);
          dequantize_row(v, 0, row.data());
          dequantize_row(v, v.out_features - 1, row.data());
        } catch (const salut::Error&) {
        }
      }
    }
  } catch (const salut::Error&) {
  }
  return 0;
}
