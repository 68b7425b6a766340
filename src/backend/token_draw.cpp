#include "backend/token_draw.h"

#include "backend/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

namespace salut::backend {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Kept between draws on a thread (a draw per token allocates nothing once grown), freed by
// release_draw_scratch.
struct DrawScratch {
  std::vector<float> heap;     // top_k's
  std::vector<double> blocks;  // the walk's block sums
};
thread_local DrawScratch draw_scratch;

// The k-th largest logit (1 <= k < n).
float kth_largest(std::span<const float> logits, int k, std::vector<float>& scratch) {
  if (k <= 1024) {  // a min-heap of the k largest so far: most logits lose to its top in one comparison
    scratch.assign(logits.begin(), logits.begin() + k);
    std::make_heap(scratch.begin(), scratch.end(), std::greater<>());
    for (size_t i = size_t(k); i < logits.size(); ++i) {
      if (!(logits[i] > scratch.front())) continue;
      std::pop_heap(scratch.begin(), scratch.end(), std::greater<>());
      scratch.back() = logits[i];
      std::push_heap(scratch.begin(), scratch.end(), std::greater<>());
    }
    return scratch.front();
  }
  scratch.assign(logits.begin(), logits.end());
  std::nth_element(scratch.begin(), scratch.begin() + (k - 1), scratch.end(), std::greater<>());
  return scratch[size_t(k - 1)];
}

// The smallest logit of the smallest set of most likely tokens whose probability reaches top_p.
// e[i] = e^(logit_i - top), `total` their sum. The tokens are binned by their distance to the top
// logit (a quarter nat a bin): only the bin where the mass crosses top_p is sorted (a full sort
// of a 150k vocabulary would cost milliseconds per token).
float top_p_threshold(std::span<const float> logits, float top, float top_p, const float* e, double total) {
  constexpr int kBins = 128;
  constexpr float kBinsPerNat = 4;
  auto bin_of = [&](float v) {
    const float d = (top - v) * kBinsPerNat;  // NaN and -inf: the last bin
    return d < float(kBins - 1) ? int(d) : kBins - 1;
  };
  // four histograms in turn: consecutive tokens of one bin do not wait on each other's adds
  float partial[4][kBins] = {};
  size_t i = 0;
  for (; i + 4 <= logits.size(); i += 4)
    for (int h = 0; h < 4; ++h) partial[h][bin_of(logits[i + size_t(h)])] += e[i + size_t(h)] > 0 ? e[i + size_t(h)] : 0.0f;
  for (; i < logits.size(); ++i) partial[0][bin_of(logits[i])] += e[i] > 0 ? e[i] : 0.0f;
  double mass[kBins];
  for (int b = 0; b < kBins; ++b)
    mass[b] = double(partial[0][b]) + double(partial[1][b]) + double(partial[2][b]) + double(partial[3][b]);
  const double target = double(top_p) * total;
  double reached = 0;
  int bin = 0;
  for (; bin < kBins && reached + mass[bin] < target; ++bin) reached += mass[bin];
  if (bin == kBins) return kNegInf;  // rounding kept the sum below top_p: every token
  std::vector<std::pair<float, float>> members;  // the crossing bin's (logit, e), most likely first
  for (size_t i = 0; i < logits.size(); ++i)
    if (e[i] > 0 && bin_of(logits[i]) == bin) members.emplace_back(logits[i], e[i]);
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  float threshold = kNegInf;
  for (const auto& [v, w] : members) {
    threshold = v;
    reached += w;
    if (reached >= target) break;
  }
  return threshold;
}

// The largest logit, in eight independent lanes (one chain through memory measured 0.3 ms on 128k).
float max_of(std::span<const float> v) {
  float lane[8];
  std::fill(lane, lane + 8, kNegInf);
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8)
    for (int j = 0; j < 8; ++j) lane[j] = v[i + size_t(j)] > lane[j] ? v[i + size_t(j)] : lane[j];
  float top = kNegInf;
  for (; i < v.size(); ++i) top = v[i] > top ? v[i] : top;
  for (float l : lane) top = l > top ? l : top;
  return top;
}

// Σ weights, a block at a time: blocks[b] = the sum of block b (the draw's scan skips whole blocks).
constexpr size_t kScanBlock = 256;
double sum_of(std::span<const float> weights, std::vector<double>* blocks = nullptr) {
  double total = 0;
  for (size_t b = 0; b < weights.size(); b += kScanBlock) {
    float block = 0;
    const size_t end = std::min(weights.size(), b + kScanBlock);
    float part[8] = {};  // eight chains: the adds need not wait on each other
    size_t i = b;
    for (; i + 8 <= end; i += 8)
      for (int j = 0; j < 8; ++j) part[j] += weights[i + size_t(j)];
    for (; i < end; ++i) block += weights[i];
    for (float p : part) block += p;
    if (blocks) blocks->push_back(block);
    total += block;
  }
  return total;
}

}  // namespace

double exp_shifted_scalar(const float* x, int64_t n, float shift, float scale, float* out) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += out[i] = std::exp((x[i] - shift) * scale);
  return total;
}

void adjust_logits(std::span<float> logits, std::span<const LogitAdjustment> adjustments) {
  for (const LogitAdjustment& a : adjustments) {
    float& v = logits[size_t(a.token)];
    v += a.add_before;
    if (a.penalty != 1) v = v < 0 ? v * a.penalty : v / a.penalty;
    v += a.add_after;
  }
}

double draw_weights(std::span<const float> logits, const TokenDraw& draw, std::vector<float>& weights,
                    ExpShifted exp_shifted, std::vector<double>* blocks) {
  const int64_t n = int64_t(logits.size());
  const float top = max_of(logits);
  // The filters as thresholds: each keeps the tokens at or above its own, so together they keep
  // those at or above the highest (top_k over what top_p and min_p left is top_k over all).
  float threshold = kNegInf;
  int64_t ties = -1;  // when top_k sets the threshold: how many tokens equal to it stay
  if (!exp_shifted) exp_shifted = cpu::active_kernels().exp_shifted;
  weights.resize(size_t(n));
  float* weight = weights.data();
  if (draw.top_p > 0 && draw.top_p < 1) {
    const double total = exp_shifted(logits.data(), n, top, 1.0f, weight);
    threshold = top_p_threshold(logits, top, draw.top_p, weight, total);
  }
  if (draw.min_p > 0) threshold = std::max(threshold, top + std::log(draw.min_p));
  if (draw.top_k > 0 && draw.top_k < n) {
    const float kth = kth_largest(logits, draw.top_k, draw_scratch.heap);
    if (kth > threshold || (kth == threshold && kth != kNegInf)) {
      int64_t above = 0;
      for (float v : logits) above += v > kth;
      threshold = kth;
      ties = draw.top_k - above;
    }
  }
  const double total = exp_shifted(logits.data(), n, top, 1.0f / draw.temperature, weight);
  if (threshold == kNegInf && !blocks) return total;
  if (threshold == kNegInf) return sum_of(weights, blocks);
  if (ties < 0) {
    for (int64_t i = 0; i < n; ++i) weight[i] = logits[size_t(i)] >= threshold ? weight[i] : 0.0f;  // vectorises
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float v = logits[size_t(i)];
      if (!(v > threshold) && !(v == threshold && ties-- > 0)) weight[i] = 0;  // NaN: dropped
    }
  }
  return sum_of(weights, blocks);
}

int32_t draw_token(std::span<float> logits, const TokenDraw& draw, std::vector<float>& scratch,
                   ExpShifted exp_shifted) {
  adjust_logits(logits, draw.adjustments);
  if (draw.temperature == 0)  // the first of equal maxima, as argmax
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  // the token where uniform · total falls, in index order: whole blocks first, then within one
  std::vector<double>& blocks = draw_scratch.blocks;
  blocks.clear();
  double target = draw.uniform * draw_weights(logits, draw, scratch, exp_shifted, &blocks);
  const int64_t n = int64_t(logits.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (target >= blocks[b]) {
      target -= blocks[b];
      continue;
    }
    const size_t end = std::min(size_t(n), (b + 1) * kScanBlock);
    for (size_t i = b * kScanBlock; i < end; ++i) {
      target -= scratch[i];
      if (target < 0) return int32_t(i);
    }
  }
  for (int64_t i = n - 1; i >= 0; --i)  // rounding left a sliver: the last token with mass
    if (scratch[size_t(i)] > 0) return int32_t(i);
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

void release_draw_scratch() { draw_scratch = {}; }

}  // namespace salut::backend
