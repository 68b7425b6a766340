#pragma once
// Loading a model on the device the user chose (`--device`, SALUT_DEVICE): a GPU when asked for
// (or by default when there is one) and when the weights and the KV cache fit in its free
// memory; otherwise, or when the GPU runs out of memory while loading, the CPU, with a warning
// that says why.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/device.h"
#include "model/transformer.h"

namespace salut::engine {

struct ModelOnDevice {
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::Transformer> model;
  backend::Placement placement;  // where it runs
};

// Bytes of the KV cache for `context` tokens of this model on that device.
int64_t kv_cache_bytes(const weights::ModelConfig& config, int64_t context, bool cuda);
// Bytes of a model folder's safetensors files: the weights a load brings into memory.
uint64_t safetensors_bytes(const std::filesystem::path& folder);

// `wanted`: backend::place() of the user's choice (it may fall back to the CPU here).
ModelOnDevice load_on_device(const std::filesystem::path& folder, backend::Placement wanted, int threads,
                             int64_t context);

}  // namespace salut::engine
