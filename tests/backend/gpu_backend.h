#pragma once
// The CUDA backend on GPU 0 for the GPU tests, or null where there is none (the test skips).

#include <memory>

#include "backend/backend.h"
#include "core/error.h"

namespace salut::testing {

inline std::unique_ptr<backend::Backend> cuda_backend_or_none() {
  try {
    return backend::make_cuda_backend(0);
  } catch (const Error&) {
    return nullptr;
  }
}

}  // namespace salut::testing
