// Which kernel table runs: the best the CPU supports, or the one SALUT_CPU_KERNELS names.

#include <fmt/format.h>

#include <string>

#include "backend/cpu/kernels.h"
#include "core/env.h"
#include "core/error.h"

namespace salut::backend::cpu {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__)
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

const Kernels* runnable(const std::string& name) {
  if (name == "scalar") return &scalar_kernels();
  if (name == "avx2") return cpu_has_avx2() ? avx2_kernels() : nullptr;
  if (name == "avx512") return cpu_has_avx512() ? avx512_kernels() : nullptr;
  return nullptr;
}

const Kernels& choose() {
  if (auto forced = env("SALUT_CPU_KERNELS")) {
    if (const Kernels* k = runnable(*forced)) return *k;
    throw Error(Errc::invalid_argument,
                fmt::format("SALUT_CPU_KERNELS={}: not one of scalar, avx2, avx512 that this CPU and build can run",
                            *forced));
  }
  for (const char* name : {"avx512", "avx2"})
    if (const Kernels* k = runnable(name)) return *k;
  return scalar_kernels();
}

}  // namespace

const Kernels& active_kernels() {
  static const Kernels& chosen = choose();
  return chosen;
}

int runnable_kernels(const Kernels* out[3]) {
  int n = 0;
  for (const char* name : {"scalar", "avx2", "avx512"})
    if (const Kernels* k = runnable(name)) out[n++] = k;
  return n;
}

}  // namespace salut::backend::cpu
