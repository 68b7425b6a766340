// Every kernel a CUDA process runs, graph nodes included, with its start and end on the GPU's clock:
// a CUPTI activity library the CUDA driver loads into the process (CUDA_INJECTION64_PATH). With
// early launch a kernel's blocks sit resident long before its inputs are ready, so its own span
// says little; bench/cuda_trace_steps.py turns the list into what each kernel adds to a decode
// step (end to end). Standalone (not part of the build):
//   g++ -O2 -shared -fPIC -o /tmp/libkernel_trace.so bench/cuda_kernel_trace.cpp -lcupti
//       (with -I and -L for the CUDA toolkit's include and lib64 folders)
//   TRACE_OUT=/tmp/trace.txt CUDA_INJECTION64_PATH=/tmp/libkernel_trace.so build/salut bench <model> --device cuda
// One line a kernel: start end gridX gridY gridZ blockX name (ns). Results:
// bench/results/cuda/step_timeline_h100_s15.txt.
#include <cupti.h>

#include <cstdio>
#include <cstdlib>

namespace {

FILE* out = nullptr;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *size = size_t(32) << 20;
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, *size));
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
    const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
    std::fprintf(out, "%llu %llu %d %d %d %d %s\n", static_cast<unsigned long long>(k->start),
                 static_cast<unsigned long long>(k->end), k->gridX, k->gridY, k->gridZ, k->blockX, k->name);
  }
  std::free(buffer);
}

void flush() {
  cuptiActivityFlushAll(1);
  if (out) std::fclose(out);
}

}  // namespace

extern "C" int InitializeInjection() {
  const char* path = std::getenv("TRACE_OUT");
  out = std::fopen(path ? path : "/tmp/kernel_trace.txt", "w");
  if (!out) return 0;
  cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);  // does not serialise kernels
  cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
  std::atexit(flush);
  return 1;
}
