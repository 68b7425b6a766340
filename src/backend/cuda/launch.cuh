#pragma once
// Kernel launches that let the next kernel start early (programmatic dependent launch). At batch 1
// a decode step is ~600 short kernels, and the launch and ramp-up of each one, in series, cost as
// much as their work. Launched this way, a kernel may be placed on the SMs while the one before
// it still runs: every kernel calls `wait_for_inputs()` before it touches activations, which first
// lets the kernel after it be launched and then returns once the kernels before have finished and
// their writes are visible. Before the wait a kernel only reads constant data (the matvecs start
// streaming their weights there), so the next product's blocks take each SM as the product before
// leaves it and bring their first weights in while the short kernels between the two still run
// (8B decode on an H100, releasing the next kernel before the wait instead of after it: 382 -> 399
// tok/s at context 512, 354 -> 361 at 4096). The release is safe that early: a kernel's own wait
// covers the one before, which cannot finish before its own wait has returned.
//
// So no kernel reads activations through the read-only path (ld.global.nc: `__ldg`, or what the
// compiler emits for `const __restrict__` pointers): it assumes the data fixed for the kernel's
// whole life, and a kernel started early lives while its inputs are still being written (seen on
// an H100: stale activations in the tiled matvec). Only weights are read that way.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace salut::backend::cuda {

__device__ __forceinline__ void let_dependents_start() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void wait_for_inputs() {
  let_dependents_start();
  asm volatile("griddepcontrol.wait;" ::: "memory");
}

// The current GPU's SM count (asked once per process).
inline int multiprocessors() {
  static const int count = [] {
    int device = 0, n = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device);
    return std::max(n, 1);
  }();
  return count;
}

// SALUT_CUDA_EARLY_LAUNCH=0 launches kernels one after the other instead (for measuring).
inline bool early_launch_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SALUT_CUDA_EARLY_LAUNCH");
    return v == nullptr || std::string_view(v) != "0";
  }();
  return enabled;
}

// Early starts are defined between kernels: the kernel right after a copy or a memset is launched
// the ordinary way (every memcpy/memset of this backend is followed by after_copy()).
void after_copy();
bool ordinary_launch_due();  // and clears it

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute early{};
  early.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  early.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &early;
  config.numAttrs = !ordinary_launch_due() && early_launch_enabled() ? 1 : 0;
  cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);  // errors surface at the next check, as <<<>>>'s
}

}  // namespace salut::backend::cuda
