#include "backend/gpu_info.h"

namespace salut::backend {

bool built_with_cuda() { return false; }
std::vector<GpuInfo> list_gpus() { return {}; }
double measure_gpu_copy_bandwidth(int, size_t) { return 0; }
uint64_t gpu_free_memory(int) { return 0; }

}  // namespace salut::backend

#include "backend/backend.h"
#include "core/error.h"

namespace salut::backend {

std::unique_ptr<Backend> make_cuda_backend(int) {
  throw Error(Errc::unavailable, "this build of salut has no CUDA backend (built without the CUDA toolkit)");
}

}  // namespace salut::backend
