#pragma once
// What GPUs this node has. Built without CUDA (or on a machine without a driver) the list is
// simply empty: the CPU backend is always there.

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

}  // namespace salut::backend
