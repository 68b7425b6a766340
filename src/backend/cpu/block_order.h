#pragma once
// Where the SIMD kernels find each value of a 32-input block, computed at compile time.
//
// A SIMD table decodes a block of 32 inputs into V = 32 / L vectors of L lanes. Vector i, lane k
// holds input element(i, k) of the block. For affine weights, lane k of the packed block holds
// the V consecutive values k*V ... k*V + V - 1 (a lane of V*bits bits starting at bit k*V*bits),
// and vector i is "mask value i in every lane, convert to float" without shifting it down: the
// value arrives multiplied by 2^shift(i, k). The matvec path divides x by the same power of two
// when it prepares x (exact), which saves a shift per vector in the hottest loop.

#include <cstdint>

#include "backend/cpu/kernels.h"

namespace salut::backend::cpu {

struct BlockOrder {
  int8_t element[32];  // [i * L + k]
  int8_t shift[32];    // affine: the value's bit position inside its lane
};

// Affine lane geometry for `bits` with L lanes of V = 32 / L values.
struct AffineLanes {
  int bits, lanes;
  constexpr int per_lane() const { return 32 / lanes; }
  constexpr int lane_bits() const { return per_lane() * bits; }
  constexpr int first_bit(int k) const { return k * lane_bits(); }
  constexpr int offset(int k) const { return first_bit(k) % 8; }  // of the lane's first value in its byte
  constexpr int start_byte(int k) const { return first_bit(k) / 8; }
  // A lane of exactly 32 bits (8-bit with 8 lanes): its last value would reach the sign bit, so
  // that vector is taken with a shift instead of a mask and arrives unscaled.
  constexpr bool top_shift() const { return lane_bits() == 32; }
  constexpr int shift(int i, int k) const { return top_shift() && i == per_lane() - 1 ? 0 : offset(k) + bits * i; }
  constexpr uint32_t mask(int i, int k) const { return ((1u << bits) - 1) << shift(i, k); }
  // The bytes of a block (4 * bits) are loaded as one 16-byte window per half of the vector:
  // the low half from byte 0, the high half ending at the block's last byte.
  constexpr int window(int k) const { return k < lanes / 2 || 4 * bits <= 16 ? 0 : 4 * bits - 16; }
};

static constexpr BlockOrder make_block_order(WeightFormat format, int bits, int lanes) {
  BlockOrder o{};
  const int per = 32 / lanes;
  for (int i = 0; i < per; ++i)
    for (int k = 0; k < lanes; ++k) {
      const int p = i * lanes + k;
      int e = p;  // natural order (dense, mxfp8)
      if (format == WeightFormat::affine) {
        e = k * per + i;
      } else if (format == WeightFormat::mxfp4 || format == WeightFormat::nvfp4) {
        // low nibbles (even elements) then high nibbles (odd), each sign-extended in order
        const int half = per / 2;  // vectors per nibble kind
        const int kind = i / half, part = i % half;
        e = 2 * (part * lanes + k) + kind;
      }
      o.element[p] = int8_t(e);
      o.shift[p] = int8_t(format == WeightFormat::affine ? AffineLanes{bits, lanes}.shift(i, k) : 0);
    }
  return o;
}

// (v)pshufb control that gathers each lane's bytes of an affine block (3-, 5-, 6-bit), relative
// to the 16-byte window that the lane's 128-bit part holds.
template <int Lanes>
struct ShuffleControl {
  alignas(4 * Lanes) int8_t bytes[4 * Lanes];
};
template <int Lanes>
constexpr ShuffleControl<Lanes> make_shuffle(int bits) {
  ShuffleControl<Lanes> c{};
  const AffineLanes g{bits, Lanes};
  for (int k = 0; k < Lanes; ++k) {
    const int used = (g.offset(k) + g.lane_bits() + 7) / 8;
    for (int t = 0; t < 4; ++t)
      c.bytes[4 * k + t] = t < used ? int8_t(g.start_byte(k) - g.window(k) + t) : int8_t(-128);
  }
  return c;
}

}  // namespace salut::backend::cpu
