// The floor of a kernel boundary on a GPU: a CUDA graph of 300 dependent trivial kernels, launched
// plainly or with programmatic dependent launch (each kernel releasing the next before it waits, as
// src/backend/cuda/launch.cuh does), for several grid sizes; prints microseconds a kernel. Standalone
// (not part of the build): nvcc -O2 -arch=sm_90 -o /tmp/kernel_boundary bench/cuda_kernel_boundary.cu
// Results: bench/results/cuda/release_before_wait_h100_s11.txt (call 6).
#include <cstdio>
#include <cuda_runtime.h>
__global__ void step(float* buf, int n, int pdl) {
  if (pdl) asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
  if (pdl) asm volatile("griddepcontrol.wait;" ::: "memory");
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) buf[i] = buf[i] * 0.999f + 1.0f;
}
int main() {
  float* buf; cudaMalloc(&buf, 1 << 24);
  cudaStream_t s; cudaStreamCreate(&s);
  const int kChain = 300;
  for (int pdl = 0; pdl < 2; ++pdl)
  for (int blocks : {1, 8, 32, 132, 264}) {
    cudaGraph_t g; cudaGraphExec_t e;
    cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
    for (int k = 0; k < kChain; ++k) {
      cudaLaunchAttribute a{}; a.id = cudaLaunchAttributeProgrammaticStreamSerialization; a.val.programmaticStreamSerializationAllowed = 1;
      cudaLaunchConfig_t c{}; c.gridDim = blocks; c.blockDim = 256; c.stream = s; c.attrs = &a; c.numAttrs = pdl;
      cudaLaunchKernelEx(&c, step, buf, blocks * 256, pdl);
    }
    cudaStreamEndCapture(s, &g);
    cudaGraphInstantiate(&e, g, 0);
    for (int w = 0; w < 3; ++w) cudaGraphLaunch(e, s);
    cudaStreamSynchronize(s);
    cudaEvent_t t0, t1; cudaEventCreate(&t0); cudaEventCreate(&t1);
    cudaEventRecord(t0, s);
    for (int r = 0; r < 20; ++r) cudaGraphLaunch(e, s);
    cudaEventRecord(t1, s); cudaEventSynchronize(t1);
    float ms; cudaEventElapsedTime(&ms, t0, t1);
    printf("pdl=%d blocks=%3d  %.2f us per kernel\n", pdl, blocks, ms * 1000 / (20 * kChain));
    cudaGraphExecDestroy(e); cudaGraphDestroy(g);
  }
  printf("%s\n", cudaGetErrorString(cudaGetLastError()));
}
