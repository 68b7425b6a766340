// The linear-layer kernels, written once over an instruction-set description `Isa` and
// included by kernels_avx2.cpp and kernels_avx512.cpp, each inside its own namespace and
// compiled with its own flags (see those files for what `Isa` provides).
//
// Decode (matvec) streams each weight once: a block of 32 packed inputs is decoded into V
// vectors (block_order.h says which input sits in which lane), multiplied with the prepared
// activations and summed per group; the group's scale multiplies the group's sum once, and
// the bias term is Σ bias·Σx over the groups, as MLX's quantized matmul computes it.
// Prefill dequantizes a panel of weight rows to f32 (in the same lane order) and runs a
// register-blocked outer-product GEMM over it, reusing each dequantized panel for every token.

// Loops over a block's vectors or a tile's registers must be unrolled for the values to stay in
// registers.
#define SALUT_UNROLL _Pragma("GCC unroll 16")

static constexpr int L = Isa::L;   // floats per vector
static constexpr int V = 32 / L;   // vectors per 32-input block
using F = typename Isa::F;
using I = typename Isa::I;

// ---- Where each input of a block goes ----

template <WeightFormat Format, int Bits>
inline constexpr BlockOrder kOrder = make_block_order(Format, Bits, L);

// Per vector i and lane k of an affine block: the mask that picks value i, and 2^-shift.
template <int Bits>
struct AffineTables {
  alignas(64) int32_t mask[V][L];
  alignas(64) float inv_pow[V][L];
};
template <int Bits>
constexpr AffineTables<Bits> make_affine_tables() {
  AffineTables<Bits> t{};
  constexpr AffineLanes g{Bits, L};
  SALUT_UNROLL
  for (int i = 0; i < V; ++i)
    for (int k = 0; k < L; ++k) {
      t.mask[i][k] = g.top_shift() && i == V - 1 ? -1 : int32_t(g.mask(i, k));
      t.inv_pow[i][k] = 1.0f / float(1u << g.shift(i, k));
    }
  return t;
}
template <int Bits>
inline constexpr AffineTables<Bits> kAffine = make_affine_tables<Bits>();

// fp4 blocks with 16-input groups (nvfp4): which lanes of vector i hold the block's second group.
struct LaneMasks {
  alignas(64) int32_t mask[V][L];
};
static constexpr LaneMasks make_second_half_masks() {
  LaneMasks m{};
  constexpr BlockOrder o = make_block_order(WeightFormat::mxfp4, 4, L);
  SALUT_UNROLL
  for (int i = 0; i < V; ++i)
    for (int k = 0; k < L; ++k) m.mask[i][k] = o.element[i * L + k] >= 16 ? -1 : 0;
  return m;
}
inline constexpr LaneMasks kSecondHalf16 = make_second_half_masks();

static const BlockOrder* order_of(const PackedMatrix& w) {
  switch (w.format) {
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return &kOrder<WeightFormat::affine, 2>;
        case 3: return &kOrder<WeightFormat::affine, 3>;
        case 4: return &kOrder<WeightFormat::affine, 4>;
        case 5: return &kOrder<WeightFormat::affine, 5>;
        case 6: return &kOrder<WeightFormat::affine, 6>;
        case 8: return &kOrder<WeightFormat::affine, 8>;
      }
      return nullptr;
    case WeightFormat::mxfp4:
    case WeightFormat::nvfp4: return &kOrder<WeightFormat::mxfp4, 4>;
    default: return nullptr;  // natural order
  }
}

// ---- Scales, converted a row at a time ----

static float e8m0(uint8_t v) { return v == 0 ? std::bit_cast<float>(0x00400000u) : std::bit_cast<float>(uint32_t(v) << 23); }

static constexpr float e4m3_value(int v) {
  if ((v & 0x7f) == 0x7f) return __builtin_nanf("");
  const int exp = (v >> 3) & 0xf, mant = v & 7;
  float mag = exp == 0 ? float(mant) / 512.0f : float(8 + mant);
  for (int e = 10; e < exp; ++e) mag *= 2.0f;  // (8 + m) * 2^(exp - 10)
  for (int e = exp; e < 10 && exp != 0; ++e) mag /= 2.0f;
  return (v & 0x80) ? -mag : mag;
}
struct E4m3Table {
  float value[256];
};
static constexpr E4m3Table make_e4m3_table() {
  E4m3Table t{};
  for (int v = 0; v < 256; ++v) t.value[v] = e4m3_value(v);
  return t;
}
inline constexpr E4m3Table kE4m3 = make_e4m3_table();

// L values of a dense row as f32.
template <WeightFormat Format>
static inline F load_dense(const std::byte* p) {
  if constexpr (Format == WeightFormat::f32) return Isa::load_f32(p);
  else if constexpr (Format == WeightFormat::f16) return Isa::load_f16(p);
  else return Isa::load_bf16(p);
}

static constexpr int scale_bytes(ScaleFormat s) {
  return s == ScaleFormat::f32 ? 4 : s == ScaleFormat::f16 || s == ScaleFormat::bf16 ? 2 : 1;
}

// n values of a scale (or bias) row as f32, times `factor` (the decoders' constant value scale).
template <ScaleFormat S>
static void convert_scales(const std::byte* src, int64_t n, float factor, float global, float* out) {
  int64_t g = 0;
  if constexpr (S == ScaleFormat::f32 || S == ScaleFormat::f16 || S == ScaleFormat::bf16) {
    constexpr WeightFormat kAs = S == ScaleFormat::f32 ? WeightFormat::f32
                                 : S == ScaleFormat::f16 ? WeightFormat::f16 : WeightFormat::bf16;
    const F f = Isa::set1(factor);
    for (; g + L <= n; g += L) Isa::store(out + g, Isa::mul(load_dense<kAs>(src + g * scale_bytes(S)), f));
  }
  for (; g < n; ++g) {
    float v;
    if constexpr (S == ScaleFormat::f32) {
      std::memcpy(&v, src + 4 * g, 4);
    } else if constexpr (S == ScaleFormat::f16 || S == ScaleFormat::bf16) {
      uint16_t h;
      std::memcpy(&h, src + 2 * g, 2);
      v = S == ScaleFormat::f16 ? _cvtsh_ss(h) : std::bit_cast<float>(uint32_t(h) << 16);
    } else if constexpr (S == ScaleFormat::e8m0) {
      v = e8m0(std::to_integer<uint8_t>(src[g]));
    } else {
      v = kE4m3.value[std::to_integer<uint8_t>(src[g])] * global;
    }
    out[g] = v * factor;
  }
}

// ---- Block decoders: 32 inputs -> V vectors in block order ----

// Affine: the raw masked values (value i of lane k arrives times 2^shift(i, k)).
template <int Bits>
struct AffineDecoder {
  static constexpr int kBytes = 4 * Bits;
  static constexpr float kValueScale = 1.0f;
  static constexpr bool kBias = true;
  // The 3-bit loader reads 16 bytes of a 12-byte block: near the tensor's end it reads a copy.
  static constexpr bool kOverreads = Bits == 3;

  static inline void decode(const std::byte* p, const std::byte* end, F v[V]) {
    I lanes;
    if constexpr (kOverreads) {
      if (p + 16 > end) [[unlikely]] {
        alignas(16) std::byte copy[16] = {};
        std::memcpy(copy, p, kBytes);
        lanes = Isa::template affine_lanes<Bits>(copy);
      } else {
        lanes = Isa::template affine_lanes<Bits>(p);
      }
    } else {
      lanes = Isa::template affine_lanes<Bits>(p);
    }
    constexpr AffineLanes g{Bits, L};
    SALUT_UNROLL
    for (int i = 0; i < V; ++i) {
      if (g.top_shift() && i == V - 1)
        v[i] = Isa::cvt(Isa::template srli<32 - Bits>(lanes));
      else
        v[i] = Isa::cvt(Isa::and_i(lanes, Isa::load_i(kAffine<Bits>.mask[i])));
    }
  }
  // The true value's factor per vector (the matvec folds it into x instead).
  static inline F unshift(int i) { return Isa::load(kAffine<Bits>.inv_pow[i]); }
};

// mxfp4 / nvfp4: E2M1 values times 2 (small integers).
struct Fp4Decoder {
  static constexpr int kBytes = 16;
  static constexpr float kValueScale = 0.5f;
  static constexpr bool kBias = false;
  static inline void decode(const std::byte* p, const std::byte*, F v[V]) { Isa::fp4_values(p, v); }
  static inline F unshift(int) { return Isa::set1(1.0f); }
};

// mxfp8: E4M3 values times 2^-8 (exact, through f16).
struct Fp8Decoder {
  static constexpr int kBytes = 32;
  static constexpr float kValueScale = 256.0f;
  static constexpr bool kBias = false;
  static inline void decode(const std::byte* p, const std::byte*, F v[V]) { Isa::fp8_values(p, v); }
  static inline F unshift(int) { return Isa::set1(1.0f); }
};

static inline F sum_of_vectors(const F d[V]) {
  if constexpr (V == 4) return Isa::add(Isa::add(d[0], d[1]), Isa::add(d[2], d[3]));
  else return Isa::add(d[0], d[1]);
}

// ---- Activations ----

static void reorder_block(const BlockOrder& o, const float* x, float* out, bool prescale) {
  for (int p = 0; p < 32; ++p) {
    const float v = x[o.element[p]];
    out[p] = prescale ? v / float(1u << o.shift[p]) : v;
  }
}

static float sum_of(const float* x, int64_t n) {
  F a = Isa::zero();
  int64_t j = 0;
  for (; j + L <= n; j += L) a = Isa::add(a, Isa::load(x + j));
  float s = Isa::hsum(a);
  for (; j < n; ++j) s += x[j];
  return s;
}

static void prepare_matvec(const PackedMatrix& w, const float* x, float* prepared) {
  const BlockOrder* o = order_of(w);
  if (o == nullptr) {
    std::memcpy(prepared, x, size_t(w.cols) * sizeof(float));
  } else {
    const bool prescale = w.format == WeightFormat::affine;
    for (int64_t b = 0; b < w.cols; b += 32) reorder_block(*o, x + b, prepared + b, prescale);
  }
  float* sums = prepared + w.cols;
  for (int64_t g = 0; g < w.groups(); ++g) sums[g] = sum_of(x + g * w.group_size, w.group_size);
}

static void prepare_gemm(const PackedMatrix& w, const float* x, int64_t rows, int64_t k0, int64_t kc, float* out) {
  const BlockOrder* o = order_of(w);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + r * w.cols + k0;
    float* dst = out + r * kc;
    if (o == nullptr)
      std::memcpy(dst, src, size_t(kc) * sizeof(float));
    else
      for (int64_t b = 0; b < kc; b += 32) reorder_block(*o, src + b, dst + b, false);
  }
}

// ---- Decode: quantized matrix-vector ----

// Scratch for one row's converted scales and biases (the callers keep cols <= kMaxSimdCols).
static constexpr int64_t kMaxGroups = kMaxSimdCols / 16;

// Σ over one group's blocks of value · x, per lane (kBlocks blocks of 32 inputs), advancing p and x.
template <class Decoder, int kBlocks>
static inline F group_dot(const std::byte*& p, const std::byte* end, const float*& x) {
  F d[V];
  SALUT_UNROLL
  for (int i = 0; i < V; ++i) d[i] = Isa::zero();
  SALUT_UNROLL
  for (int b = 0; b < kBlocks; ++b, p += Decoder::kBytes, x += 32) {
    F v[V];
    Decoder::decode(p, end, v);
    SALUT_UNROLL
    for (int i = 0; i < V; ++i) d[i] = Isa::fma(v[i], Isa::load(x + i * L), d[i]);
  }
  return sum_of_vectors(d);
}

// Decode streams each weight once and does enough work per byte that the hardware prefetcher
// alone falls behind: ask for the lines kPrefetchBytes ahead of the ones being decoded.
static constexpr int kPrefetchBytes = 2048;
template <int kBytes>
static inline void prefetch_ahead(const std::byte* p) {
  SALUT_UNROLL
  for (int b = 0; b < kBytes; b += 64) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes + b, _MM_HINT_T0);
}

static inline void prefetch_range(const std::byte* p, int64_t bytes) {
  for (int64_t b = 0; b < bytes; b += 64) _mm_prefetch(reinterpret_cast<const char*>(p) + b, _MM_HINT_T0);
}

// One row's Σ_groups scale · group_dot, groups of kBlocks blocks (two chains: even and odd groups).
template <class Decoder, int kBlocks>
static inline float row_dot(const std::byte* p, const std::byte* end, const float* x, const float* scale,
                            int64_t groups) {
  F acc0 = Isa::zero(), acc1 = Isa::zero();
  int64_t g = 0;
  for (; g + 2 <= groups; g += 2) {
    prefetch_ahead<2 * kBlocks * Decoder::kBytes>(p);
    acc0 = Isa::fma(group_dot<Decoder, kBlocks>(p, end, x), Isa::set1(scale[g]), acc0);
    acc1 = Isa::fma(group_dot<Decoder, kBlocks>(p, end, x), Isa::set1(scale[g + 1]), acc1);
  }
  if (g < groups) acc0 = Isa::fma(group_dot<Decoder, kBlocks>(p, end, x), Isa::set1(scale[g]), acc0);
  return Isa::hsum(Isa::add(acc0, acc1));
}

// nvfp4: two groups of 16 per block, each lane's group given by the block order.
template <class Decoder>
static inline float row_dot_16(const std::byte* p, const std::byte* end, const float* x, const float* scale,
                               int64_t groups) {
  F acc0 = Isa::zero(), acc1 = Isa::zero();
  for (int64_t g = 0; g < groups; g += 2, p += Decoder::kBytes, x += 32) {
    F v[V];
    Decoder::decode(p, end, v);
    const F lo = Isa::set1(scale[g]), hi = Isa::set1(scale[g + 1]);
    SALUT_UNROLL
    for (int i = 0; i < V; ++i) {
      const F s = Isa::blend(lo, hi, Isa::load_i(kSecondHalf16.mask[i]));
      const F product = Isa::mul(v[i], Isa::load(x + i * L));
      if (i % 2 == 0) acc0 = Isa::fma(product, s, acc0);
      else acc1 = Isa::fma(product, s, acc1);
    }
  }
  return Isa::hsum(Isa::add(acc0, acc1));
}

// Scales and biases are converted for a batch of rows in one pass (a row range's scales are
// contiguous), so that a short row (576 inputs: 18 groups) pays no per-row conversion tail.
// Calls row(r, scale, bias_total) for each row r in [first, last): `scale` its group scales times
// `value_scale`, bias_total Σ bias · Σx over its groups (0 without biases).
// At most kScaleBatch floats of converted scales (and of biases) at a time, one row at least: the
// batch, x and the row being read stay in L1 (a 16 KiB batch measured 25% slower on 576 inputs).
static constexpr int64_t kScaleBatch = 512;

// With `group_factor`, every row's scale of group g is also multiplied by group_factor[g] (the int16
// path's activation scale: one multiply per group here instead of one per group and row in the dot).
template <ScaleFormat S, bool kBias, class BatchFn>
static inline void for_each_batch_scaled(const PackedMatrix& w, int64_t first, int64_t last, float value_scale,
                                         BatchFn&& batch_fn, const float* group_factor = nullptr) {
  const int64_t groups = w.groups();
  alignas(64) float scale[kMaxGroups];
  alignas(64) float bias[kMaxGroups];
  const bool packed_rows = w.scale_stride == size_t(groups * scale_bytes(S));  // true of every MLX tensor
  const int64_t batch = packed_rows ? std::max<int64_t>(1, kScaleBatch / groups) : 1;
  for (int64_t r0 = first; r0 < last; r0 += batch) {
    const int64_t rows = std::min(batch, last - r0);
    // The scale streams are short and read in bursts: fetch the next batch's while this one runs.
    if (packed_rows && r0 + batch < last) {
      const int64_t next_rows = std::min(batch, last - r0 - batch);
      prefetch_range(w.scale_row(r0 + batch), next_rows * groups * scale_bytes(S));
      if constexpr (kBias) prefetch_range(w.bias_row(r0 + batch), next_rows * groups * scale_bytes(S));
    }
    convert_scales<S>(w.scale_row(r0), rows * groups, value_scale, w.global_scale, scale);
    if (group_factor) {
      for (int64_t i = 0; i < rows; ++i) {
        float* row_scale = scale + i * groups;
        int64_t g = 0;
        for (; g + L <= groups; g += L)
          Isa::store(row_scale + g, Isa::mul(Isa::load(row_scale + g), Isa::load(group_factor + g)));
        for (; g < groups; ++g) row_scale[g] *= group_factor[g];
      }
    }
    if constexpr (kBias) convert_scales<S>(w.bias_row(r0), rows * groups, 1.0f, 1.0f, bias);
    batch_fn(r0, rows, scale, bias);
  }
}

// Σ_g bias_g · Σx_g of one row.
static inline float bias_total(const float* row_bias, const float* sums, int64_t groups) {
  F b = Isa::zero();
  int64_t g = 0;
  for (; g + L <= groups; g += L) b = Isa::fma(Isa::load(row_bias + g), Isa::load(sums + g), b);
  float total = Isa::hsum(b);
  for (; g < groups; ++g) total += row_bias[g] * sums[g];
  return total;
}

template <ScaleFormat S, bool kBias, class RowFn>
static inline void for_each_row_scaled(const PackedMatrix& w, const float* sums, int64_t first, int64_t last,
                                       float value_scale, RowFn&& row) {
  const int64_t groups = w.groups();
  for_each_batch_scaled<S, kBias>(w, first, last, value_scale,
                                  [&](int64_t r0, int64_t rows, const float* scale, const float* bias) {
                                    for (int64_t i = 0; i < rows; ++i)
                                      row(r0 + i, scale + i * groups,
                                          kBias ? bias_total(bias + i * groups, sums, groups) : 0.0f);
                                  });
}

template <class Decoder, ScaleFormat S>
static void matvec_quantized(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  const int64_t groups = w.groups();
  for_each_row_scaled<S, Decoder::kBias>(
      w, prepared + w.cols, first, last, Decoder::kValueScale, [&](int64_t r, const float* scale, float bias_total) {
        const std::byte* p = w.weight_row(r);
        float dot;
        switch (w.group_size) {  // the block count a compile-time constant: the group's loop unrolls
          case 16: dot = row_dot_16<Decoder>(p, w.weight_end, prepared, scale, groups); break;
          case 32: dot = row_dot<Decoder, 1>(p, w.weight_end, prepared, scale, groups); break;
          case 64: dot = row_dot<Decoder, 2>(p, w.weight_end, prepared, scale, groups); break;
          default: dot = row_dot<Decoder, 4>(p, w.weight_end, prepared, scale, groups); break;  // 128: all quant_spec allows
        }
        y[r - first] = dot + bias_total;
      });
}

// ---- Decode: dense matrix-vector ----

template <WeightFormat Format>
static inline float dense_value(const std::byte* p) {
  if constexpr (Format == WeightFormat::f32) return weights::load_f32(p);
  else if constexpr (Format == WeightFormat::f16) return weights::f16_to_f32(weights::load_u16(p));
  else return weights::bf16_to_f32(weights::load_u16(p));
}

template <WeightFormat Format>
static void matvec_dense(const PackedMatrix& w, const float* x, int64_t first, int64_t last, float* y) {
  constexpr int kItem = Format == WeightFormat::f32 ? 4 : 2;
  for (int64_t r = first; r < last; ++r) {
    const std::byte* p = w.weight_row(r);
    F acc[4] = {Isa::zero(), Isa::zero(), Isa::zero(), Isa::zero()};
    int64_t j = 0;
    for (; j + 4 * L <= w.cols; j += 4 * L)
      SALUT_UNROLL
      for (int u = 0; u < 4; ++u)
        acc[u] = Isa::fma(load_dense<Format>(p + (j + u * L) * kItem), Isa::load(x + j + u * L), acc[u]);
    for (; j + L <= w.cols; j += L) acc[0] = Isa::fma(load_dense<Format>(p + j * kItem), Isa::load(x + j), acc[0]);
    float total = Isa::hsum(Isa::add(Isa::add(acc[0], acc[1]), Isa::add(acc[2], acc[3])));
    for (; j < w.cols; ++j) total += dense_value<Format>(p + j * kItem) * x[j];  // cols not a multiple of L
    y[r - first] = total;
  }
}

template <int Bits>
static void matvec_affine(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  switch (w.scale_format) {
    case ScaleFormat::f32: return matvec_quantized<AffineDecoder<Bits>, ScaleFormat::f32>(w, prepared, first, last, y);
    case ScaleFormat::f16: return matvec_quantized<AffineDecoder<Bits>, ScaleFormat::f16>(w, prepared, first, last, y);
    default: return matvec_quantized<AffineDecoder<Bits>, ScaleFormat::bf16>(w, prepared, first, last, y);
  }
}

static void matvec(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  switch (w.format) {
    case WeightFormat::f32: return matvec_dense<WeightFormat::f32>(w, prepared, first, last, y);
    case WeightFormat::f16: return matvec_dense<WeightFormat::f16>(w, prepared, first, last, y);
    case WeightFormat::bf16: return matvec_dense<WeightFormat::bf16>(w, prepared, first, last, y);
    case WeightFormat::mxfp4: return matvec_quantized<Fp4Decoder, ScaleFormat::e8m0>(w, prepared, first, last, y);
    case WeightFormat::nvfp4: return matvec_quantized<Fp4Decoder, ScaleFormat::e4m3>(w, prepared, first, last, y);
    case WeightFormat::mxfp8: return matvec_quantized<Fp8Decoder, ScaleFormat::e8m0>(w, prepared, first, last, y);
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return matvec_affine<2>(w, prepared, first, last, y);
        case 3: return matvec_affine<3>(w, prepared, first, last, y);
        case 4: return matvec_affine<4>(w, prepared, first, last, y);
        case 5: return matvec_affine<5>(w, prepared, first, last, y);
        case 6: return matvec_affine<6>(w, prepared, first, last, y);
        case 8: return matvec_affine<8>(w, prepared, first, last, y);
      }
  }
}

// ---- Prefill: dequantize a panel ----

template <class Decoder, ScaleFormat S>
static void dequantize_quantized(const PackedMatrix& w, int64_t first, int64_t count, int64_t k0, int64_t kc,
                                 float* out) {
  const int64_t g0 = k0 / w.group_size, groups = kc / w.group_size;
  alignas(64) float scale[kMaxGroups];
  alignas(64) float bias[kMaxGroups];
  for (int64_t r = first; r < first + count; ++r) {
    float* o = out + (r - first) * kc;
    convert_scales<S>(w.scale_row(r) + g0 * scale_bytes(S), groups, Decoder::kValueScale, w.global_scale, scale);
    if constexpr (Decoder::kBias) convert_scales<S>(w.bias_row(r) + g0 * scale_bytes(S), groups, 1.0f, 1.0f, bias);
    const std::byte* p = w.weight_row(r) + k0 / 32 * Decoder::kBytes;
    for (int64_t b = 0; b < kc; b += 32, p += Decoder::kBytes) {
      F v[V];
      Decoder::decode(p, w.weight_end, v);
      const int64_t g = b / w.group_size;
      SALUT_UNROLL
      for (int i = 0; i < V; ++i) {
        F s = w.group_size >= 32 ? Isa::set1(scale[g])
                                 : Isa::blend(Isa::set1(scale[g]), Isa::set1(scale[g + 1]), Isa::load_i(kSecondHalf16.mask[i]));
        s = Isa::mul(s, Decoder::unshift(i));
        Isa::store(o + b + i * L, Decoder::kBias ? Isa::fma(v[i], s, Isa::set1(bias[g])) : Isa::mul(v[i], s));
      }
    }
  }
}

template <WeightFormat Format>
static void dequantize_dense(const PackedMatrix& w, int64_t first, int64_t count, int64_t k0, int64_t kc, float* out) {
  constexpr int kItem = Format == WeightFormat::f32 ? 4 : 2;
  for (int64_t r = first; r < first + count; ++r) {
    const std::byte* p = w.weight_row(r) + k0 * kItem;
    float* o = out + (r - first) * kc;
    int64_t j = 0;
    for (; j + L <= kc; j += L) Isa::store(o + j, load_dense<Format>(p + j * kItem));
    for (; j < kc; ++j) o[j] = dense_value<Format>(p + j * kItem);
  }
}

template <int Bits>
static void dequantize_affine(const PackedMatrix& w, int64_t first, int64_t count, int64_t k0, int64_t kc,
                              float* out) {
  switch (w.scale_format) {
    case ScaleFormat::f32: return dequantize_quantized<AffineDecoder<Bits>, ScaleFormat::f32>(w, first, count, k0, kc, out);
    case ScaleFormat::f16: return dequantize_quantized<AffineDecoder<Bits>, ScaleFormat::f16>(w, first, count, k0, kc, out);
    default: return dequantize_quantized<AffineDecoder<Bits>, ScaleFormat::bf16>(w, first, count, k0, kc, out);
  }
}

static void dequantize(const PackedMatrix& w, int64_t first, int64_t count, int64_t k0, int64_t kc, float* out) {
  switch (w.format) {
    case WeightFormat::f32: return dequantize_dense<WeightFormat::f32>(w, first, count, k0, kc, out);
    case WeightFormat::f16: return dequantize_dense<WeightFormat::f16>(w, first, count, k0, kc, out);
    case WeightFormat::bf16: return dequantize_dense<WeightFormat::bf16>(w, first, count, k0, kc, out);
    case WeightFormat::mxfp4: return dequantize_quantized<Fp4Decoder, ScaleFormat::e8m0>(w, first, count, k0, kc, out);
    case WeightFormat::nvfp4: return dequantize_quantized<Fp4Decoder, ScaleFormat::e4m3>(w, first, count, k0, kc, out);
    case WeightFormat::mxfp8: return dequantize_quantized<Fp8Decoder, ScaleFormat::e8m0>(w, first, count, k0, kc, out);
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return dequantize_affine<2>(w, first, count, k0, kc, out);
        case 3: return dequantize_affine<3>(w, first, count, k0, kc, out);
        case 4: return dequantize_affine<4>(w, first, count, k0, kc, out);
        case 5: return dequantize_affine<5>(w, first, count, k0, kc, out);
        case 6: return dequantize_affine<6>(w, first, count, k0, kc, out);
        case 8: return dequantize_affine<8>(w, first, count, k0, kc, out);
      }
  }
}

// ---- Prefill: GEMM on f32 panels ----
//
// C += A · Bᵀ by outer products, as BLIS-style kernels do: B's rows are packed a panel of
// kGemmCols at a time into k-major order, then each step of k loads kGemmN vectors of the panel
// and broadcasts kGemmM values of A, whose products go to kGemmM x kGemmN accumulators that stay
// in registers over the whole k: no horizontal sums, and two loads per FMA pair at most. (The
// dot-product tiles before them ran at ~40% of one core's FMA peak: salut_kernels_bench Gemm.)

static constexpr int kGemmCols = Isa::kGemmN * L;  // C columns of a tile: one packed panel
static constexpr int64_t kGemmDepth = 256;          // k packed at a time
static constexpr int kGemmPanels = 64 / kGemmCols;  // panels packed at a time: 64 rows of B (64 KiB on the stack)

// B [cols, k] (stride ldb) as a panel [k][kGemmCols], zero past `cols`.
static inline void pack_gemm_panel(int64_t cols, int64_t k, const float* b, int64_t ldb, float* panel) {
  for (int64_t j = 0; j < kGemmCols; ++j) {
    const float* row = b + j * ldb;
    if (j < cols)
      for (int64_t p = 0; p < k; ++p) panel[p * kGemmCols + j] = row[p];
    else
      for (int64_t p = 0; p < k; ++p) panel[p * kGemmCols + j] = 0.0f;
  }
}

// C [M, cols] (stride ldc) += A [M, k] (stride lda) · the panel's k x cols.
template <int M>
static inline void gemm_tile(int64_t k, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
                             int64_t cols) {
  constexpr int N = Isa::kGemmN;
  F acc[M][N];
  SALUT_UNROLL
  for (int i = 0; i < M; ++i)
    SALUT_UNROLL
    for (int j = 0; j < N; ++j) acc[i][j] = Isa::zero();
  for (int64_t p = 0; p < k; ++p) {
    F bv[N];
    SALUT_UNROLL
    for (int j = 0; j < N; ++j) bv[j] = Isa::load(panel + p * kGemmCols + j * L);
    SALUT_UNROLL
    for (int i = 0; i < M; ++i) {
      const F av = Isa::set1(a[i * lda + p]);
      SALUT_UNROLL
      for (int j = 0; j < N; ++j) acc[i][j] = Isa::fma(av, bv[j], acc[i][j]);
    }
  }
  if (cols == kGemmCols) {
    SALUT_UNROLL
    for (int i = 0; i < M; ++i)
      SALUT_UNROLL
      for (int j = 0; j < N; ++j) Isa::store(c + i * ldc + j * L, Isa::add(Isa::load(c + i * ldc + j * L), acc[i][j]));
    return;
  }
  alignas(64) float row[kGemmCols];
  SALUT_UNROLL
  for (int i = 0; i < M; ++i) {
    SALUT_UNROLL
    for (int j = 0; j < N; ++j) Isa::store(row + j * L, acc[i][j]);
    for (int64_t j = 0; j < cols; ++j) c[i * ldc + j] += row[j];
  }
}

static void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                 int64_t ldc) {
  constexpr int M = Isa::kGemmM;
  alignas(64) float panels[kGemmPanels * kGemmDepth * kGemmCols];
  for (int64_t j0 = 0; j0 < n; j0 += kGemmPanels * kGemmCols) {
    const int64_t count = std::min<int64_t>((n - j0 + kGemmCols - 1) / kGemmCols, kGemmPanels);
    auto cols_of = [&](int64_t q) { return std::min<int64_t>(kGemmCols, n - j0 - q * kGemmCols); };  // panel q's
    for (int64_t p0 = 0; p0 < k; p0 += kGemmDepth) {
      const int64_t depth = std::min(kGemmDepth, k - p0);
      for (int64_t q = 0; q < count; ++q)
        pack_gemm_panel(cols_of(q), depth, b + (j0 + q * kGemmCols) * ldb + p0, ldb, panels + q * kGemmDepth * kGemmCols);
      // each block of A's rows against every panel while it is in L1
      auto rows = [&]<int R>(int64_t i) {
        for (int64_t q = 0; q < count; ++q)
          gemm_tile<R>(depth, a + i * lda + p0, lda, panels + q * kGemmDepth * kGemmCols, c + i * ldc + j0 + q * kGemmCols,
                       ldc, cols_of(q));
      };
      int64_t i = 0;
      for (; i + M <= m; i += M) rows.template operator()<M>(i);
      for (; i < m; ++i) rows.template operator()<1>(i);
    }
  }
}

#undef SALUT_UNROLL
