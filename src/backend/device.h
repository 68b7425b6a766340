#pragma once
// Which backend runs a model: `--device cpu|cuda|cuda:N|auto` (or SALUT_DEVICE). `auto` takes the
// first GPU when this build has CUDA and the machine a GPU, else the CPU.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "backend/backend.h"

namespace salut::backend {

struct DeviceChoice {
  enum class Kind { automatic, cpu, cuda } kind = Kind::automatic;
  int index = 0;  // the GPU, for cuda
};

// "", "auto", "cpu", "cuda", "cuda:N"; throws salut::Error (invalid_argument) naming the spelling.
DeviceChoice parse_device(std::string_view spec);

// Where a model would run: cuda:N when asked for (or auto) and such a GPU exists, else the CPU.
// `why_not` says why a GPU that was asked for is not used ("no CUDA GPU is available").
struct Placement {
  bool cuda = false;
  int index = 0;
  std::string name;              // "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3)"
  uint64_t free_bytes = 0;       // of the GPU, when cuda
  std::string why_not;
};
Placement place(const DeviceChoice& choice);

// Why GPU `index` cannot be used on a machine with `gpus` of them.
std::string missing_gpu_reason(int index, size_t gpus);

// The backend for a placement (the CPU with `threads` threads, or the GPU).
std::unique_ptr<Backend> open_backend(const Placement& placement, int threads);

}  // namespace salut::backend
