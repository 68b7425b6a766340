#include "backend/device.h"

#include <fmt/format.h>

#include <charconv>

#include "backend/gpu_info.h"
#include "core/error.h"

namespace salut::backend {

DeviceChoice parse_device(std::string_view spec) {
  DeviceChoice choice;
  if (spec.empty() || spec == "auto") return choice;
  if (spec == "cpu") {
    choice.kind = DeviceChoice::Kind::cpu;
    return choice;
  }
  if (spec == "cuda" || spec.starts_with("cuda:")) {
    choice.kind = DeviceChoice::Kind::cuda;
    if (spec.size() > 5) {
      const std::string_view digits = spec.substr(5);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), choice.index);
      if (ec != std::errc() || end != digits.data() + digits.size() || choice.index < 0)
        throw Error(Errc::invalid_argument, fmt::format("bad device '{}': expected cuda:N with N a GPU number", spec));
    }
    return choice;
  }
  throw Error(Errc::invalid_argument, fmt::format("unknown device '{}' (expected cpu, cuda, cuda:N or auto)", spec));
}

Placement place(const DeviceChoice& choice) {
  Placement p;
  p.name = "cpu";
  if (choice.kind == DeviceChoice::Kind::cpu) return p;
  if (!built_with_cuda()) {
    if (choice.kind == DeviceChoice::Kind::cuda) p.why_not = "this build of salut has no CUDA backend";
    return p;
  }
  const auto gpus = list_gpus();
  for (const auto& gpu : gpus) {
    if (gpu.index != choice.index) continue;
    p.cuda = true;
    p.index = gpu.index;
    p.name = fmt::format("cuda:{} ({})", gpu.index, gpu.name);
    p.free_bytes = gpu.free_memory;
    return p;
  }
  if (choice.kind == DeviceChoice::Kind::cuda) p.why_not = missing_gpu_reason(choice.index, gpus.size());
  return p;
}

std::string missing_gpu_reason(int index, size_t gpus) {
  if (gpus == 0) return "no CUDA GPU is available";
  return fmt::format("there is no CUDA GPU {} (this machine has {})", index, gpus);
}

std::unique_ptr<Backend> open_backend(const Placement& placement, int threads) {
  if (placement.cuda) return make_cuda_backend(placement.index);
  return make_cpu_backend(threads);
}

}  // namespace salut::backend
