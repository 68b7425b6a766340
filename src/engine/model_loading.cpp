#include "engine/model_loading.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/format.h"
#include "model/kv_cache.h"

namespace salut::engine {
namespace fs = std::filesystem;

int64_t kv_cache_bytes(const weights::ModelConfig& config, int64_t context, bool cuda) {
  return model::KvCache::bytes_for(int(config.num_hidden_layers), config.num_key_value_heads * config.head_dim,
                                   context, cuda ? 2 : 4);
}

uint64_t safetensors_bytes(const fs::path& folder) {
  uint64_t bytes = 0;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().extension() == ".safetensors") bytes += fs::file_size(entry.path());
  return bytes;
}

ModelOnDevice load_on_device(const fs::path& folder, backend::Placement wanted, int threads, int64_t context) {
  ModelOnDevice loaded;
  loaded.placement = std::move(wanted);
  backend::Placement& p = loaded.placement;
  if (p.cuda) {
    const auto config = weights::ModelConfig::load(folder);
    const uint64_t needed = safetensors_bytes(folder) + uint64_t(kv_cache_bytes(config, context, true));
    // a margin for activations, scratch and the CUDA context
    if (needed + needed / 20 + (uint64_t(512) << 20) > p.free_bytes) {
      p.why_not = fmt::format("{} needs {} (weights and a {}-token KV cache) but {} has {} free", folder.filename().string(),
                              human_bytes(needed), context, p.name, human_bytes(p.free_bytes));
      p.cuda = false;
    }
  }
  if (p.cuda) {
    try {
      loaded.backend = backend::open_backend(p, threads);
      loaded.model = std::make_unique<model::Transformer>(folder, *loaded.backend);
      return loaded;
    } catch (const Error& e) {
      if (e.code() != Errc::insufficient_memory && e.code() != Errc::unavailable) throw;
      loaded.model.reset();
      loaded.backend.reset();
      p.why_not = e.what();
      p.cuda = false;
    }
  }
  if (!p.why_not.empty()) spdlog::warn("running on the CPU: {}", p.why_not);
  p.name = "cpu";
  loaded.backend = backend::open_backend(p, threads);
  loaded.model = std::make_unique<model::Transformer>(folder, *loaded.backend);
  return loaded;
}

}  // namespace salut::engine
