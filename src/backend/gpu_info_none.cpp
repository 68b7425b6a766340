#include "backend/gpu_info.h"

namespace salut::backend {

bool built_with_cuda() { return false; }
std::vector<GpuInfo> list_gpus() { return {}; }

}  // namespace salut::backend
