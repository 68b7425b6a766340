#include "backend/cuda/device_memory.h"

#include <cuda.h>  // types only: the driver's functions come through the runtime (no link to libcuda)
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace salut::backend::cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear it: the error is reported once, here
  const Errc code = status == cudaErrorMemoryAllocation ? Errc::insufficient_memory : Errc::internal;
  throw Error(code, fmt::format("CUDA: {} failed: {}", what, cudaGetErrorString(status)));
}

DeviceBuffer::DeviceBuffer(size_t n) : bytes(n) { check(cudaMalloc(&data, std::max<size_t>(n, 1)), "cudaMalloc"); }

DeviceBuffer::~DeviceBuffer() {
  if (data && !arena) cudaFree(data);
}

namespace {

// The driver's virtual memory functions, looked up once; all null where the driver lacks one.
struct VirtualMemory {
  decltype(&cuMemGetAllocationGranularity) granularity = nullptr;
  decltype(&cuMemAddressReserve) reserve = nullptr;
  decltype(&cuMemAddressFree) free_range = nullptr;
  decltype(&cuMemCreate) create = nullptr;
  decltype(&cuMemRelease) release = nullptr;
  decltype(&cuMemMap) map = nullptr;
  decltype(&cuMemUnmap) unmap = nullptr;
  decltype(&cuMemSetAccess) set_access = nullptr;
  decltype(&cuDeviceGetAttribute) attribute = nullptr;

  bool complete() const {
    return granularity && reserve && free_range && create && release && map && unmap && set_access && attribute;
  }

  static const VirtualMemory& get() {
    static const VirtualMemory functions = [] {
      VirtualMemory f;
      auto find = [](const char* name, auto& fn) {
        void* found = nullptr;
        cudaDriverEntryPointQueryResult status{};
        if (cudaGetDriverEntryPointByVersion(name, &found, 12000, cudaEnableDefault, &status) == cudaSuccess &&
            status == cudaDriverEntryPointSuccess)
          fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(found);
        else cudaGetLastError();
      };
      find("cuMemGetAllocationGranularity", f.granularity);
      find("cuMemAddressReserve", f.reserve);
      find("cuMemAddressFree", f.free_range);
      find("cuMemCreate", f.create);
      find("cuMemRelease", f.release);
      find("cuMemMap", f.map);
      find("cuMemUnmap", f.unmap);
      find("cuMemSetAccess", f.set_access);
      find("cuDeviceGetAttribute", f.attribute);
      return f;
    }();
    return functions;
  }
};

CUmemAllocationProp device_memory_properties(int device) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  return prop;
}

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

constexpr size_t kAlignment = 256;

}  // namespace

std::shared_ptr<WeightArena> WeightArena::create(int device) {
  return std::shared_ptr<WeightArena>(new WeightArena(device));
}

WeightArena::WeightArena(int device) : device_(device) {
  const VirtualMemory& vm = VirtualMemory::get();
  int supported = 0;
  if (!vm.complete() ||
      vm.attribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, device) != CUDA_SUCCESS ||
      !supported)
    return;
  const CUmemAllocationProp prop = device_memory_properties(device);
  size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  if (vm.granularity(&granularity_, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS || granularity_ == 0) return;
  // room for the whole card: addresses cost nothing until memory is mapped to them
  reserved_ = round_up(total_bytes, granularity_);
  CUdeviceptr base = 0;
  if (vm.reserve(&base, reserved_, granularity_, 0, 0) != CUDA_SUCCESS) return;
  base_ = base;
  virtual_ = true;
}

WeightArena::~WeightArena() {
  if (!virtual_) return;
  const VirtualMemory& vm = VirtualMemory::get();
  cudaDeviceSynchronize();  // no kernel may still read the weights
  for (const Mapping& m : mappings_) {
    vm.unmap(base_ + m.offset, m.bytes);
    vm.release(m.handle);
  }
  vm.free_range(base_, reserved_);
}

std::shared_ptr<DeviceBuffer> WeightArena::allocate(size_t bytes) {
  if (!virtual_) return std::make_shared<DeviceBuffer>(bytes);
  const size_t offset = round_up(used_, kAlignment);
  const size_t end = offset + std::max<size_t>(bytes, 1);
  if (end > reserved_)
    throw Error(Errc::insufficient_memory, fmt::format("CUDA: the weights need more than the card's {} bytes", reserved_));
  if (end > mapped_) {
    const VirtualMemory& vm = VirtualMemory::get();
    const size_t step = round_up(end - mapped_, granularity_);
    const CUmemAllocationProp prop = device_memory_properties(device_);
    CUmemGenericAllocationHandle handle = 0;
    const CUresult made = vm.create(&handle, step, &prop, 0);
    if (made != CUDA_SUCCESS)
      throw Error(made == CUDA_ERROR_OUT_OF_MEMORY ? Errc::insufficient_memory : Errc::internal,
                  fmt::format("CUDA: cuMemCreate of {} bytes failed (error {})", step, int(made)));
    CUmemAccessDesc access{};
    access.location = prop.location;
    access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    if (vm.map(base_ + mapped_, step, 0, handle, 0) != CUDA_SUCCESS) {
      vm.release(handle);
      throw Error(Errc::internal, "CUDA: cuMemMap failed");
    }
    mappings_.push_back({handle, mapped_, step});
    mapped_ += step;
    if (vm.set_access(base_ + mappings_.back().offset, step, &access, 1) != CUDA_SUCCESS)
      throw Error(Errc::internal, "CUDA: cuMemSetAccess failed");
  }
  used_ = end;
  return std::make_shared<DeviceBuffer>(reinterpret_cast<void*>(base_ + offset), bytes, shared_from_this());
}

}  // namespace salut::backend::cuda
