#pragma once
// Bounds recursion by the stack it really uses: frame sizes differ between compilers, build types
// and sanitizers, so counting levels alone cannot promise that deep templates never overflow.

#include <cstddef>
#include <cstdint>

namespace salut::jinja {

class StackBudget {
 public:
  explicit StackBudget(size_t bytes) : base_(here()), bytes_(bytes) {}
  // True once the stack below the point of construction is larger than the budget.
  bool exceeded() const { return base_ > here() && base_ - here() > bytes_; }  // the stack grows down

 private:
  static uintptr_t here() { return reinterpret_cast<uintptr_t>(__builtin_frame_address(0)); }
  uintptr_t base_;
  size_t bytes_;
};

// Parsing and rendering each stay within these, so a render needs well under 1 MiB of stack.
constexpr size_t kParseStackBytes = 256 << 10;
constexpr size_t kRenderStackBytes = 384 << 10;

}  // namespace salut::jinja
