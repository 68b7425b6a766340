#pragma once
// Device memory of the CUDA backend: buffers that free themselves, and the arena a model's
// weights live in.

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace salut::backend::cuda {

// Throws salut::Error (insufficient_memory for an allocation failure, internal otherwise).
void check(cudaError_t status, const char* what);

// Device memory that frees itself, or a piece of an arena that keeps the arena alive.
struct DeviceBuffer {
  void* data = nullptr;
  size_t bytes = 0;
  std::shared_ptr<const void> arena;  // set: a piece, released with the arena
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n);  // cudaMalloc
  DeviceBuffer(void* piece, size_t n, std::shared_ptr<const void> owner) : data(piece), bytes(n), arena(std::move(owner)) {}
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// A model's weights: one reserved range of addresses, backed by physical memory in steps of the
// driver's granularity (2 MiB) as pieces are added, all released together when the last piece
// goes. cudaMalloc rounds every buffer up to that granularity on its own: an 8B model's 700-odd
// layers (scales and biases of 1.75 MiB each) wasted ~50 MB that way. Where the driver lacks
// virtual memory management, each piece is a cudaMalloc of its own.
class WeightArena : public std::enable_shared_from_this<WeightArena> {
 public:
  static std::shared_ptr<WeightArena> create(int device);
  ~WeightArena();
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;

  // `bytes` of device memory, 256-byte aligned, valid while the piece lives.
  std::shared_ptr<DeviceBuffer> allocate(size_t bytes);
  // Physical memory the arena holds (all of it in use but the last step's tail).
  size_t mapped_bytes() const { return mapped_; }

 private:
  explicit WeightArena(int device);
  struct Mapping {
    unsigned long long handle;
    size_t offset, bytes;
  };
  int device_ = 0;
  bool virtual_ = false;  // the driver maps physical memory into a reserved range
  unsigned long long base_ = 0;
  size_t reserved_ = 0, mapped_ = 0, used_ = 0, granularity_ = 0;
  std::vector<Mapping> mappings_;
};

}  // namespace salut::backend::cuda
