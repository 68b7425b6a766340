#pragma once
// What GPUs this node has. Built without CUDA (or on a machine without a driver) the list is
// simply empty: the CPU backend is always there.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace salut::backend {

struct GpuInfo {
  int index = 0;
  std::string name;
  uint64_t total_memory = 0;
  uint64_t free_memory = 0;
};

bool built_with_cuda();
std::vector<GpuInfo> list_gpus();

// Free memory on GPU `device` now (cudaMemGetInfo); 0 without CUDA.
uint64_t gpu_free_memory(int device);

// GPU `device`'s memory bandwidth in GB/s, bytes read plus bytes written, from the best of a few
// device-to-device copies of `bytes`; 0 without CUDA.
double measure_gpu_copy_bandwidth(int device, size_t bytes);

}  // namespace salut::backend
