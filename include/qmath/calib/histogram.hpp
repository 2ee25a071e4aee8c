// SPDX-License-Identifier: Apache-2.0
// calib/histogram.hpp: a running histogram of calibration data (torch 1.13's HistogramObserver, bit for bit) and
// four ways to choose a clipping range from it: min/max, percentile, L2 (PyTorch) and KL divergence (TensorRT).
//
// update() and l2_range() / qparams() reproduce torch.ao.quantization.HistogramObserver of torch 1.13 (forward,
// _adjust_min_max, _combine_histograms, _non_linear_param_search, calculate_qparams) in its float32 / float64
// operation order, so that qparams<Q>() returns the bits of calculate_qparams() under profile::pytorch. That
// includes torch's quirks:
//  - torch 1.13 bins each batch with torch.histc(x, bins, min=int(min), max=int(max)): the edges are the range
//    truncated to integers (pytorch/pytorch#83672), the bin of x is int((x - lo) / (hi - lo) * bins) in float
//    (later ATen versions multiply first: other bins unless bins is a power of two). Values outside the truncated
//    edges are not counted; when the truncated edges are equal (a range inside (-1, 1), say) histc falls back to
//    the batch's own min / max; when those are equal too it uses [v - 1, v + 1]. The histogram's bins then do not
//    partition [min(), max()], which torch's L2 search nevertheless assumes. histogram(histogram_edges::torch) is
//    that histogram.
//  - A batch after one whose data was all equal (min == max) restarts the histogram (torch's "same_values").
//  - A wider batch widens the range to [min', max' + e], e chosen so the new width is a whole multiple of the old
//    width / upsample_rate; the old histogram is upsampled, shifted and re-binned (_combine_histograms).
//  - The last histc edge comes from torch.linspace, which for bins + 1 a multiple of 16 computes it in its AVX2
//    vector loop, (hi - 7 * step, fused) + 7 * step, rather than as hi; that is reproduced.
//  - torch.sum in the L2 search sums in ATen's cascade order with 8-lane vectors (the AVX2 and default CPU
//    capabilities; ATEN_CPU_CAPABILITY=avx512 sums in 16 lanes, which could flip a near-tie of the search: none
//    of the test vectors does).
//  - Every float32 product is rounded before the add that follows it (no FMA contraction, see rounded()).
// The observer also keeps the same histogram binned with the exact float edges (histogram_edges::exact: the same
// algorithm without the integer truncation of pytorch#83672), whose bins do partition [min(), max()];
// percentile_range() and entropy_range() read that one, l2_range() either. Both cost one binning pass per batch.
//
// Deliberate divergences from torch:
//  - NaN and +-Inf are skipped and counted in counts() (torch's aminmax would make the range NaN / infinite); a
//    batch with no finite value changes nothing but counts(). An empty batch is a no-op, as in torch.
//  - Bin counts are exact integers converted to float; torch accumulates +1.0f per element in float, which stalls
//    at 2^24 = 16777216 elements in one bin of one batch (per thread).
//  - Where torch fails, this class does something defined: a range growth so large that torch would allocate
//    bins * downsample_rate floats beyond 2^60 entries (or divide by a zero width): the old histogram's mass goes
//    to the new bin holding the old range's middle and the range is not relaxed; an old histogram that would not
//    fit the upsampled grid (torch: shape mismatch) is cut at the grid's end; a constant batch so large that
//    v - 1 == v + 1 in float (|v| >= 2^25): every element goes to the middle bin (torch: undefined behaviour).
//  - An empty observer's range methods and qparams() throw qmath::error (torch returns scale 1, zero point 0).
//
// Not thread safe: update() and reset() must not run concurrently with each other or with any other member
// function. The const member functions may run concurrently with each other.
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/calib/common.hpp"
#include "qmath/core/error.hpp"
#include "qmath/eigen.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE

/// Which of the observer's two histograms to read (see the file comment).
enum class histogram_edges {
  torch,  ///< torch 1.13's histogram, histc edges truncated to integers: bit for bit with torch
  exact,  ///< the same algorithm with histc edges at the float range: bins partition [min(), max()]
};

namespace detail {

/// Returns v after it has been rounded to float on its own: keeps a compiler from fusing the product that made v
/// into a following add (FMA contraction, GCC's default on aarch64 and with -mfma), which would change the bits.
inline float rounded(float v) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+m"(v));
#endif
  return v;
}

/// The outer edges torch.histc(x, bins, min=lo, max=hi) bins between (ATen histc_select_outer_bin_edges, then the
/// first and last element of the float linspace of bins + 1 edges).
struct HistcEdges {
  float lo, hi;
};
inline HistcEdges histc_edges(double lo, double hi, float batch_min, float batch_max, int bins) noexcept {
  if (lo == hi) {
    lo = batch_min;
    hi = batch_max;
  }
  if (lo == hi) {
    lo -= 1.0;
    hi += 1.0;
  }
  HistcEdges e{static_cast<float>(lo), static_cast<float>(hi)};
  const std::int64_t steps = std::int64_t{bins} + 1;
  if (steps % 16 == 0) {
    // ATen's linspace fills 16 floats per step of its AVX2 loop; the last one is arange(base, step)[7] with
    // base = end - step * 7 (fused multiply-add) and the add of 7 * step not fused.
    const float step = (e.hi - e.lo) / static_cast<float>(bins);
    const float base = std::fma(-step, 7.0f, e.hi);
    e.hi = base + rounded(7.0f * step);
  }
  return e;
}

/// Counts of the finite x in [lo, hi] per bin, binned as torch 1.13's histc kernel does (linear interpolation:
/// pos = int64((x - lo) / (hi - lo) * bins) in float, the last edge belonging to the last bin; later ATen versions
/// multiply before dividing, which bins differently unless bins is a power of two).
inline void histc_add(const float* x, std::size_t n, HistcEdges e, int bins, std::vector<std::uint64_t>& counts) {
  const float lo = e.lo, hi = e.hi, span = hi - lo, fbins = static_cast<float>(bins);
  const auto last = static_cast<std::size_t>(bins - 1);
  if (span == 0.0f) {  // torch: 0 / 0 -> undefined behaviour
    for (std::size_t i = 0; i < n; ++i)
      if (x[i] == lo) ++counts[static_cast<std::size_t>(bins / 2)];
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!(v >= lo && v <= hi)) continue;  // also skips NaN and +-Inf (lo and hi are finite)
    const float pos = (v - lo) / span * fbins;
    // pos < bins also sends a NaN pos (an infinite v - lo over an infinite span) to the last bin.
    ++counts[pos < fbins ? static_cast<std::size_t>(pos) : last];
  }
}

/// torch.sum of a contiguous float32 vector on the CPU (ATen cascade_sum, 8-lane vectors; see SumKernel.cpp):
/// level sums of 16-row chunks over rows of 4 vectors, then the leftover vectors, then the tail, then the lanes.
inline float torch_sum(const float* a, std::size_t n) {
  constexpr std::size_t kLanes = 8, kRows = 4, kLevels = 4;
  const auto ceil_log2 = [](std::size_t v) -> std::size_t {
    if (v <= 2) return 1;
    std::size_t bits = 0;
    for (std::size_t m = v - 1; m != 0; m >>= 1) ++bits;
    return bits;
  };
  // multi_row_sum over `rows` rows of kRows elements of `width` lanes; element (row, k) starts at a[(row * kRows + k)
  // * width]. Returns the kRows partial sums (each `width` lanes) in out[k * width + lane].
  const auto multi_row_sum = [&](std::size_t rows, std::size_t width, float* out) {
    const std::size_t level_power = std::max<std::size_t>(4, ceil_log2(rows) / kLevels);
    const std::size_t level_step = std::size_t{1} << level_power, level_mask = level_step - 1;
    std::vector<float> acc(kLevels * kRows * width, 0.0f);
    const auto at = [&](std::size_t level, std::size_t k, std::size_t lane) -> float& {
      return acc[(level * kRows + k) * width + lane];
    };
    const auto add_row = [&](std::size_t row) {
      for (std::size_t k = 0; k < kRows; ++k)
        for (std::size_t lane = 0; lane < width; ++lane) at(0, k, lane) += a[(row * kRows + k) * width + lane];
    };
    std::size_t i = 0;
    while (i + level_step <= rows) {
      for (std::size_t j = 0; j < level_step; ++j) add_row(i++);
      for (std::size_t j = 1; j < kLevels; ++j) {
        for (std::size_t k = 0; k < kRows; ++k)
          for (std::size_t lane = 0; lane < width; ++lane) {
            at(j, k, lane) += at(j - 1, k, lane);
            at(j - 1, k, lane) = 0.0f;
          }
        if ((i & (level_mask << (j * level_power))) != 0) break;
      }
    }
    for (; i < rows; ++i) add_row(i);
    for (std::size_t j = 1; j < kLevels; ++j)
      for (std::size_t k = 0; k < kRows; ++k)
        for (std::size_t lane = 0; lane < width; ++lane) at(0, k, lane) += at(j, k, lane);
    for (std::size_t k = 0; k < kRows; ++k)
      for (std::size_t lane = 0; lane < width; ++lane) out[k * width + lane] = at(0, k, lane);
  };
  // row_sum: partial sums of rows of kRows elements, the leftover elements into partial 0, then partials 1..3.
  const auto row_sum = [&](std::size_t elements, std::size_t width, float* result) {
    std::vector<float> partial(kRows * width);
    const std::size_t rows = elements / kRows;
    multi_row_sum(rows, width, partial.data());
    for (std::size_t e = rows * kRows; e < elements; ++e)
      for (std::size_t lane = 0; lane < width; ++lane) partial[lane] += a[e * width + lane];
    for (std::size_t k = 1; k < kRows; ++k)
      for (std::size_t lane = 0; lane < width; ++lane) partial[lane] += partial[k * width + lane];
    for (std::size_t lane = 0; lane < width; ++lane) result[lane] = partial[lane];
  };
  if (n < kLanes) {  // scalar_inner_sum
    float s = 0.0f;
    row_sum(n, 1, &s);
    return s;
  }
  const std::size_t vectors = n / kLanes;
  std::array<float, kLanes> lanes{};
  row_sum(vectors, kLanes, lanes.data());
  float s = 0.0f;
  for (std::size_t i = vectors * kLanes; i < n; ++i) s += a[i];
  for (float v : lanes) s += v;
  return s;
}

/// c10's div_floor_floating: Python's floor division in float (torch.div(a, b, rounding_mode='floor')).
inline float div_floor(float a, float b) noexcept {
  if (b == 0.0f) return a / b;
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && ((b < 0.0f) != (mod < 0.0f))) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floor_div = std::floor(div);
  if (div - floor_div > 0.5f) floor_div += 1.0f;
  return floor_div;
}

/// HistogramObserver._get_norm's (end^3 - begin^3) / 3, in float.
inline float cube_difference_third(float begin, float end) noexcept {
  return (rounded(rounded(end * end) * end) - rounded(rounded(begin * begin) * begin)) / 3.0f;
}

/// HistogramObserver._compute_quantization_error(start, end): the L2 error of quantizing the histogram h (bins over
/// [min_v, max_v]) with the range of bins [start, end] into dst_bins levels. norms is scratch of h.size() floats.
inline double quantization_error(const std::vector<float>& h, float min_v, float max_v, std::int64_t start,
                                 std::int64_t end, double dst_bins, std::vector<float>& norms) {
  const auto bins = static_cast<std::int64_t>(h.size());
  const double bin_width_d = (static_cast<double>(max_v) - static_cast<double>(min_v)) / static_cast<double>(bins);
  const double dst_width_d = bin_width_d * static_cast<double>(end - start + 1) / dst_bins;
  if (dst_width_d == 0.0) return 0.0;
  const float bin_width = static_cast<float>(bin_width_d), dst_width = static_cast<float>(dst_width_d);
  const float half = static_cast<float>(dst_width_d / 2), neg_half = static_cast<float>(-dst_width_d / 2);
  const float last_dst = static_cast<float>(dst_bins - 1);
  const float whole_bin_norm = cube_difference_third(neg_half, half);
  const float neg_half_cube = rounded(rounded(neg_half * neg_half) * neg_half);
  for (std::int64_t i = 0; i < bins; ++i) {
    const float src_begin = rounded(static_cast<float>(i - start) * bin_width);
    const float src_end = src_begin + bin_width;
    const float dst_of_begin = std::min(std::max(div_floor(src_begin, dst_width), 0.0f), last_dst);
    const float dst_of_begin_center = rounded((dst_of_begin + 0.5f) * dst_width);
    const float dst_of_end = std::min(std::max(div_floor(src_end, dst_width), 0.0f), last_dst);
    const float density = h[static_cast<std::size_t>(i)] / bin_width;

    float norm = 0.0f + rounded(density * cube_difference_third(src_begin - dst_of_begin_center, half));
    const float whole_bins = dst_of_end - dst_of_begin - 1.0f;
    norm = norm + rounded(whole_bins * rounded(density * whole_bin_norm));
    const float dst_of_end_center = rounded(dst_of_end * dst_width) + half;
    const float delta_end = src_end - dst_of_end_center;
    const float end_norm = (rounded(rounded(delta_end * delta_end) * delta_end) - neg_half_cube) / 3.0f;
    norm = norm + rounded(density * end_norm);
    norms[static_cast<std::size_t>(i)] = norm;
  }
  return static_cast<double>(torch_sum(norms.data(), norms.size()));
}

/// HistogramObserver._non_linear_param_search: the bins [start, end] that (greedily) minimise the L2 error.
inline void l2_search(const std::vector<float>& h, float min_v, float max_v, double dst_bins, std::int64_t& start_bin,
                      std::int64_t& end_bin) {
  const auto bins = static_cast<std::int64_t>(h.size());
  const double total = static_cast<double>(torch_sum(h.data(), h.size()));
  std::vector<float> csum(h.size());
  double running = 0.0;  // torch.cumsum accumulates float in double on the CPU
  for (std::size_t i = 0; i < h.size(); ++i) {
    running += static_cast<double>(h[i]);
    csum[i] = static_cast<float>(running);
  }
  std::vector<float> norms(h.size());
  const double step = 1e-5;
  double alpha = 0.0, beta = 1.0, norm_min = std::numeric_limits<double>::infinity();
  start_bin = 0;
  end_bin = bins - 1;
  // The two scans resume where the previous one stopped when that cannot change their result (same anchor bin,
  // threshold moved the same way): the bits of torch's scan at a fraction of its O(bins) per step.
  std::int64_t l_anchor = -1, l_at = 0, r_anchor = -1, r_at = 0;
  float l_threshold = 0.0f, r_threshold = 0.0f;
  while (alpha < beta) {
    const double next_alpha = alpha + step, next_beta = beta - step;
    // cSum[l] < next_alpha * total compares in float: torch rounds the Python float to the tensor's dtype.
    const float lt = static_cast<float>(next_alpha * total), rt = static_cast<float>(next_beta * total);
    std::int64_t l = start_bin;
    if (l_anchor == start_bin && lt >= l_threshold) l = std::min(l_at, end_bin);
    while (l < end_bin && csum[static_cast<std::size_t>(l)] < lt) ++l;
    l_anchor = start_bin;
    l_at = l;
    l_threshold = lt;
    std::int64_t r = end_bin;
    if (r_anchor == end_bin && rt <= r_threshold) r = std::max(r_at, start_bin);
    while (r > start_bin && csum[static_cast<std::size_t>(r)] > rt) --r;
    r_anchor = end_bin;
    r_at = r;
    r_threshold = rt;

    std::int64_t next_start = start_bin, next_end = end_bin;
    if (l - start_bin > end_bin - r) {
      next_start = l;
      alpha = next_alpha;
    } else {
      next_end = r;
      beta = next_beta;
    }
    if (next_start == start_bin && next_end == end_bin) continue;
    const double norm = quantization_error(h, min_v, max_v, next_start, next_end, dst_bins, norms);
    if (norm > norm_min) break;
    norm_min = norm;
    start_bin = next_start;
    end_bin = next_end;
  }
}

}  // namespace detail

/// A running histogram of calibration data, torch.ao.quantization.HistogramObserver of torch 1.13 bit for bit
/// (see the file comment for what that includes and where it deliberately differs).
///
///   qmath::HistogramObserver obs;                 // 2048 bins, upsample rate 128 (torch's defaults)
///   for (const auto& batch : calibration) obs.update(batch.data(), batch.size());
///   auto p = obs.qparams<std::uint8_t>();          // = torch's calculate_qparams() (quint8, per_tensor_affine)
///   qmath::Range r = obs.percentile_range(99.99);  // or entropy_range<std::int8_t>(), l2_range<...>()
class HistogramObserver {
 public:
  /// The cost is bounded by the arguments: a merge in update() takes O(bins * upsample_rate) (at most 2^20 steps),
  /// l2_range() and entropy_range() O(bins^2) (at most 2^28); torch's defaults are 2048 and 128.
  /// @throws qmath::error unless 1 <= bins <= 2^14, 1 <= upsample_rate <= 2^10 and bins * upsample_rate <= 2^20.
  explicit HistogramObserver(int bins = 2048, int upsample_rate = 128) : bins_(bins), upsample_(upsample_rate) {
    constexpr const char* fn = "qmath::HistogramObserver";
    detail::require(bins >= 1 && bins <= (1 << 14), fn, "bins must be in [1, 2^14] (got " + std::to_string(bins) + ")");
    detail::require(upsample_rate >= 1 && upsample_rate <= (1 << 10), fn,
                    "upsample_rate must be in [1, 2^10] (got " + std::to_string(upsample_rate) + ")");
    detail::require(static_cast<std::int64_t>(bins) * upsample_rate <= (std::int64_t{1} << 20), fn,
                    "bins * upsample_rate must be at most 2^20: each merge costs that many steps");
    reset();
  }

  /// Adds one batch of n values (HistogramObserver.forward). O(n + bins * upsample_rate).
  /// @throws qmath::error on a null x with n > 0.
  void update(const float* x, std::size_t n) {
    detail::require(n == 0 || x != nullptr, "qmath::HistogramObserver::update",
                    "null data pointer for a non-empty batch");
    const detail::SlotRanges scanned = detail::scan_slot_ranges(x, TensorShape{{static_cast<std::int64_t>(n)}}, per_tensor(), n, 1,
                                                                detail::nonfinite_policy::skip_nan_and_inf);
    const float batch_min = scanned.min[0], batch_max = scanned.max[0];
    const std::uint64_t nan = scanned.nan, non_finite = scanned.nan + scanned.inf;
    if (n != non_finite) {
      const float lo = empty() ? batch_min : std::min(batch_min, min_), hi = empty() ? batch_max : std::max(batch_max, max_);
      if (!(hi - lo <= FLT_MAX))
        detail::fail("qmath::HistogramObserver::update",
                     "the values seen span [" + detail::float_text(lo) + ", " + detail::float_text(hi) +
                         "], wider than FLT_MAX: float bins cannot cover it (scale the data first); the observer is unchanged");
    }
    counts_.nan += nan;
    counts_.inf += non_finite - nan;
    counts_.finite += n - non_finite;
    if (n == non_finite) return;

    if (empty() || min_ == max_) {  // torch: is_uninitialized or same_values
      min_ = batch_min;
      max_ = batch_max;
      const detail::HistcEdges torch_edges =
          detail::histc_edges(std::trunc(batch_min), std::trunc(batch_max), batch_min, batch_max, bins_);
      const detail::HistcEdges exact_edges = detail::histc_edges(batch_min, batch_max, batch_min, batch_max, bins_);
      bin_batch(x, n, torch_edges, exact_edges);
      for (int h = 0; h < 2; ++h)
        for (std::size_t k = 0; k < hist_[h].size(); ++k) hist_[h][k] = static_cast<float>(batch_hist_[h][k]);
      return;
    }

    const float combined_min = std::min(batch_min, min_);
    float combined_max = std::max(batch_max, max_);
    // _adjust_min_max, in float32 tensor arithmetic.
    const float hist_bin_width =
        (max_ - min_) / static_cast<float>(static_cast<std::int64_t>(bins_) * upsample_);
    const float hist_width = rounded_product(static_cast<float>(bins_), hist_bin_width);
    const float downsample_f = std::ceil((combined_max - combined_min) / hist_width);
    const double limit = std::ldexp(1.0, 60) / bins_;
    if (!(downsample_f >= 1.0f && static_cast<double>(downsample_f) <= limit)) {
      combine_degenerate(x, n, batch_min, batch_max, combined_min, combined_max);
      return;
    }
    const auto downsample = static_cast<std::uint64_t>(downsample_f);
    const float e = rounded_product(static_cast<float>(downsample), hist_width) - (combined_max - combined_min);
    combined_max = combined_max + e;
    const float start_f = std::nearbyint((min_ - combined_min) / hist_bin_width);
    const auto start_idx = static_cast<std::uint64_t>(std::min(std::max(start_f, 0.0f), 1.8e19f));

    const detail::HistcEdges torch_edges =
        detail::histc_edges(std::trunc(combined_min), std::trunc(combined_max), batch_min, batch_max, bins_);
    const detail::HistcEdges exact_edges =
        detail::histc_edges(combined_min, combined_max, batch_min, batch_max, bins_);
    bin_batch(x, n, torch_edges, exact_edges);
    const bool same_range = combined_min == min_ && combined_max == max_;
    for (int h = 0; h < 2; ++h) {
      if (same_range) {
        for (std::size_t k = 0; k < hist_[h].size(); ++k)
          hist_[h][k] = static_cast<float>(batch_hist_[h][k]) + hist_[h][k];
      } else {
        combine(hist_[h], batch_hist_[h], downsample, start_idx);
      }
    }
    min_ = combined_min;
    max_ = combined_max;
  }

  /// Eigen form: any Eigen::Tensor / TensorMap or contiguous matrix / array / Map of float (the histogram ignores
  /// shape and order). @throws qmath::error for a non-contiguous matrix, and as update(x, n).
  template <class X, std::enable_if_t<eigen_detail::is_eigen_v<X>, int> = 0>
  void update(const X& x) {
    const auto v = view(x);
    static_assert(std::is_same<std::remove_const_t<std::remove_pointer_t<decltype(v.data)>>, float>::value,
                  "qmath::HistogramObserver::update: the tensor must hold float");
    update(v.data, v.size());
  }

  /// True until a batch with a finite value has been seen.
  bool empty() const noexcept { return min_ > max_; }
  /// The histogram's range (torch's min_val / max_val): +Inf / -Inf while empty.
  float min() const noexcept { return min_; }
  float max() const noexcept { return max_; }
  int bins() const noexcept { return bins_; }
  int upsample_rate() const noexcept { return upsample_; }
  /// Bin counts (float, like torch). `which` = torch: torch 1.13's histogram (observer.histogram) bit for bit;
  /// exact: the same data binned on [min(), max()] (see the file comment). All zero while empty.
  const std::vector<float>& histogram(histogram_edges which = histogram_edges::torch) const noexcept {
    return hist_[which == histogram_edges::torch ? 0 : 1];
  }
  /// Finite values seen, and the NaN and +-Inf that were skipped.
  const ObserverCounts& counts() const noexcept { return counts_; }

  /// Back to the state of a new observer (same bins and upsample rate).
  void reset() noexcept {
    min_ = std::numeric_limits<float>::infinity();
    max_ = -min_;
    counts_ = ObserverCounts{};
    for (int h = 0; h < 2; ++h) {
      hist_[h].assign(static_cast<std::size_t>(bins_), 0.0f);
      batch_hist_[h].assign(static_cast<std::size_t>(bins_), 0);
    }
  }

  /// [min(), max()]. @throws qmath::error while empty.
  Range minmax_range() const {
    require_data("qmath::HistogramObserver::minmax_range");
    return {min_, max_};
  }

  /// Clips both tails at the same magnitude, NVIDIA pytorch-quantization's "percentile" calibrator convention:
  /// a = the `percentile`-th percentile of |x|, read from the exact histogram with the values spread uniformly
  /// inside each bin (so a is interpolated linearly inside its bin; pytorch-quantization returns the lower edge
  /// of that bin instead, at most one bin lower), then [max(min(), -a), min(max(), a)]. For a symmetric scheme the
  /// range gives amax = a; for an affine one it is the data's range with both tails clipped at |x| = a (one-sided
  /// data such as ReLU outputs keeps its lower end). a never goes below the smallest |x| the range allows, so the
  /// range is never inverted. percentile = 100 gives minmax_range().
  /// @throws qmath::error while empty or unless 0 <= percentile <= 100.
  Range percentile_range(double percentile) const {
    constexpr const char* fn = "qmath::HistogramObserver::percentile_range";
    require_data(fn);
    detail::require(percentile >= 0.0 && percentile <= 100.0, fn, "percentile must be in [0, 100]");
    const AbsCdf cdf(*this);
    if (cdf.total() <= 0.0 || percentile >= 100.0) return {min_, max_};
    const double target = percentile / 100.0 * cdf.total();
    double lo = 0.0, hi = cdf.amax();
    for (int it = 0; it < 200 && lo < hi; ++it) {  // smallest a with F(a) >= target
      const double mid = lo + (hi - lo) / 2;
      if (mid <= lo || mid >= hi) break;
      if (cdf(mid) >= target)
        hi = mid;
      else
        lo = mid;
    }
    return clip_symmetric(hi);
  }

  /// PyTorch's L2 range (HistogramObserver._non_linear_param_search), bit for bit on histogram(torch): the search
  /// quantizes into 2^bits(Q) levels (256 for 8-bit codes; torch's dst_nbins ignores reduce_range, the scheme and
  /// the options, and so does this). With histogram_edges::exact it runs the same search on the exact histogram.
  /// @throws qmath::error while empty.
  template <class Q>
  Range l2_range(const ChooseOptions& o = {}, histogram_edges which = histogram_edges::torch) const {
    static_assert(is_code_type<Q>::value, "l2_range<Q>: Q must be a code type of format/int_traits.hpp");
    (void)o;  // torch's search does not read dtype / qscheme / reduce_range beyond the number of bits
    require_data("qmath::HistogramObserver::l2_range");
    std::int64_t start = 0, end = 0;
    detail::l2_search(histogram(which), min_, max_, std::ldexp(1.0, int_traits<Q>::kBits), start, end);
    const float bin_width = (max_ - min_) / static_cast<float>(bins_);
    return {min_ + rounded_product(bin_width, static_cast<float>(start)),
            min_ + rounded_product(bin_width, static_cast<float>(end + 1))};
  }

  /// TensorRT's KL-divergence ("entropy") calibration as in NVIDIA pytorch-quantization's _compute_amax_entropy,
  /// on a histogram of |x|: the exact histogram folded at zero, each bin's count going whole to the |x| bin that
  /// holds the bin's center, on a grid of max(bin width, max|x| / bins()) (so ~bins() / 2 bins for data symmetric
  /// around zero, bins() for one-sided data); counts are not spread, so empty bins stay empty as in NVIDIA's.
  /// As there, bin 0 takes bin 1's count (a spike of exact zeros, ReLU's, does not dominate). Candidates i run
  /// from max|x| / 16 (NVIDIA's bin 128 of 2048) to the last bin: P = bins [0, i) with the mass above folded into
  /// bin i - 1; Q = bins [0, i) (without the folded mass, as in the TensorRT slides and pytorch-quantization)
  /// merged into `levels` groups of consecutive bins (bin j in group floor(j * levels / i)), each nonzero bin
  /// taking its group's mean over nonzero bins, zero bins staying zero; the divergence is KL(P || Q) after
  /// normalising both (infinite where Q is 0 and P is not). a = the upper edge of bin i - 1 for the smallest
  /// divergence (the largest such i on ties). levels = the codes on one side of zero: half of Q's code range (128
  /// for int8 / uint8, 64 with reduce_range), or all of it (256) for the affine scheme on data with min() >= 0
  /// (pytorch-quantization's unsigned case). Returns [max(min(), -a), min(max(), a)] as percentile_range() does.
  /// Deterministic; O(bins^2).
  /// @throws qmath::error while empty.
  template <class Q>
  Range entropy_range(const ChooseOptions& o = {}) const {
    static_assert(is_code_type<Q>::value, "entropy_range<Q>: Q must be a code type of format/int_traits.hpp");
    require_data("qmath::HistogramObserver::entropy_range");
    std::int32_t qmin = 0, qmax = 0;
    code_range<Q>(o.narrow_range, o.reduce_range, qmin, qmax);
    const std::int64_t codes = static_cast<std::int64_t>(qmax) - qmin + 1;
    const bool one_sided = o.kind == scheme::affine && min_ >= 0.0f;
    const std::int64_t code_levels = std::max<std::int64_t>(1, one_sided ? codes : codes / 2);

    // Fold onto |x| (see above): no spreading, the divergence depends on which bins are empty.
    const std::vector<float>& h = hist_[1];
    const double lo = min_, hi = max_, bin_width = (hi - lo) / bins_;
    const double amax = std::max(std::fabs(lo), std::fabs(hi));
    if (!(bin_width > 0.0) || !(amax > 0.0)) return {min_, max_};
    const double width = std::max(bin_width, amax / bins_);
    const auto n = static_cast<std::size_t>(std::min<double>(bins_, std::max(1.0, std::ceil(amax / width))));
    std::vector<double> c(n, 0.0);
    for (std::size_t k = 0; k < h.size(); ++k) {
      const double center = std::fabs(lo + (static_cast<double>(k) + 0.5) * bin_width);
      c[std::min(static_cast<std::size_t>(center / width), n - 1)] += std::max(0.0, static_cast<double>(h[k]));
    }
    if (n >= 2) c[0] = c[1];
    std::vector<double> suffix(n + 1, 0.0);  // mass of bins [k, n)
    for (std::size_t k = n; k-- > 0;) suffix[k] = suffix[k + 1] + c[k];
    const double total = suffix[0];
    if (total <= 0.0) return {min_, max_};

    // More levels than bins merge nothing, as n levels do (int16 / int32 codes need no bigger tables).
    const auto levels = static_cast<std::size_t>(std::min<std::int64_t>(code_levels, static_cast<std::int64_t>(n)));
    std::vector<double> group_sum(levels), group_count(levels);
    std::size_t best = n;
    double best_divergence = std::numeric_limits<double>::infinity();
    // NVIDIA's first candidate is bin 128 of 2048: 1/16 of max |x|, on this grid too.
    const auto all_bins = static_cast<std::size_t>(bins_);
    const std::size_t first = std::max<std::size_t>(1, (n * 128 + all_bins - 1) / all_bins);
    for (std::size_t i = first; i <= n; ++i) {
      std::fill(group_sum.begin(), group_sum.end(), 0.0);
      std::fill(group_count.begin(), group_count.end(), 0.0);
      const auto group_of = [&](std::size_t j) {
        return static_cast<std::size_t>(static_cast<std::uint64_t>(j) * levels / i);
      };
      for (std::size_t j = 0; j < i; ++j)
        if (c[j] != 0.0) {
          group_sum[group_of(j)] += c[j];
          group_count[group_of(j)] += 1.0;
        }
      const double q_total = total - suffix[i];  // Q keeps the mass of bins [0, i)
      double divergence = 0.0;
      for (std::size_t j = 0; j < i && divergence < std::numeric_limits<double>::infinity(); ++j) {
        const double p = (j + 1 == i ? c[j] + suffix[i] : c[j]) / total;
        if (p <= 0.0) continue;
        const std::size_t g = group_of(j);
        const double q = c[j] != 0.0 && q_total > 0.0 ? group_sum[g] / group_count[g] / q_total : 0.0;
        divergence += q > 0.0 ? p * std::log(p / q) : std::numeric_limits<double>::infinity();
      }
      if (divergence <= best_divergence) {
        best_divergence = divergence;
        best = i;
      }
    }
    return clip_symmetric(std::min(width * static_cast<double>(best), amax));
  }

  /// choose_qparams<Q>(l2_range<Q>(o), o): torch's HistogramObserver.calculate_qparams under profile::pytorch
  /// (dtype quint8 -> Q = std::uint8_t, qint8 -> std::int8_t; qscheme and reduce_range through o).
  /// @throws qmath::error while empty, and as choose_qparams does.
  template <class Q>
  QParams<Q> qparams(const ChooseOptions& o = {}) const {
    const Range r = l2_range<Q>(o);
    return choose_qparams<Q>(r.min, r.max, o);
  }

 private:
  /// P(|x| <= a) of the exact histogram, its values spread uniformly inside each bin.
  class AbsCdf {
   public:
    explicit AbsCdf(const HistogramObserver& o)
        : lo_(o.min_), hi_(o.max_), width_((static_cast<double>(o.max_) - o.min_) / o.bins_),
          prefix_(static_cast<std::size_t>(o.bins_) + 1, 0.0) {
      const std::vector<float>& h = o.hist_[1];
      for (std::size_t k = 0; k < h.size(); ++k) prefix_[k + 1] = prefix_[k] + std::max(0.0, static_cast<double>(h[k]));
    }
    double total() const noexcept { return prefix_.back(); }
    double amax() const noexcept { return std::max(std::fabs(lo_), std::fabs(hi_)); }
    double operator()(double a) const noexcept { return below(a) - below(-a); }

   private:
    double below(double t) const noexcept {  // mass of x < t
      if (t <= lo_ || width_ <= 0.0) return t <= lo_ ? 0.0 : total();
      if (t >= hi_) return total();
      const double pos = (t - lo_) / width_;
      const auto last = prefix_.size() - 2;
      const std::size_t k = std::min(static_cast<std::size_t>(pos), last);
      const double inside = std::min(std::max(pos - static_cast<double>(k), 0.0), 1.0);
      return prefix_[k] + (prefix_[k + 1] - prefix_[k]) * inside;
    }
    double lo_, hi_, width_;
    std::vector<double> prefix_;
  };

  static float rounded_product(float a, float b) noexcept { return detail::rounded(a * b); }

  void require_data(const char* fn) const {
    detail::require(!empty(), fn, "no finite value observed yet: call update() first");
  }

  /// [max(min, -a), min(max, a)], a raised to the smallest |x| in [min, max] so the range is not inverted.
  Range clip_symmetric(double a) const {
    const double smallest = min_ > 0.0f ? min_ : max_ < 0.0f ? -static_cast<double>(max_) : 0.0;
    const auto amax = static_cast<float>(std::max(a, smallest));
    return {std::max(min_, -amax), std::min(max_, amax)};
  }

  /// Bins the batch on both sets of edges into batch_hist_ (once when they agree).
  void bin_batch(const float* x, std::size_t n, detail::HistcEdges torch_edges, detail::HistcEdges exact_edges) {
    for (int h = 0; h < 2; ++h) std::fill(batch_hist_[h].begin(), batch_hist_[h].end(), 0);
    detail::histc_add(x, n, torch_edges, bins_, batch_hist_[0]);
    if (torch_edges.lo == exact_edges.lo && torch_edges.hi == exact_edges.hi)
      batch_hist_[1] = batch_hist_[0];
    else
      detail::histc_add(x, n, exact_edges, bins_, batch_hist_[1]);
  }

  /// _combine_histograms: old upsampled by upsample_rate and placed at start_idx on a grid of bins * downsample
  /// cells, re-binned by downsample cells through a float64 running sum (torch.cumsum in double), the previous
  /// cumulative value read back through float (torch stores it in a float32 tensor), divided by upsample_rate and
  /// added in float to the batch's counts. Only the cells the old histogram covers are summed (the others are 0).
  void combine(std::vector<float>& hist, const std::vector<std::uint64_t>& batch, std::uint64_t downsample,
               std::uint64_t start_idx) const {
    const auto n = static_cast<std::uint64_t>(bins_), up = static_cast<std::uint64_t>(upsample_);
    const std::uint64_t cells = n * downsample;
    const std::uint64_t begin = std::min(start_idx, cells), end = std::min(start_idx + n * up, cells);
    std::vector<float> out(static_cast<std::size_t>(n));
    double running = 0.0;
    float previous = 0.0f;  // shifted_integral_histogram[k]
    std::uint64_t cell = begin;
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::uint64_t block_end = std::min((k + 1) * downsample, end);
      for (; cell < block_end; ++cell)
        running += static_cast<double>(hist[static_cast<std::size_t>((cell - start_idx) / up)]);
      const double interpolated = (running - static_cast<double>(previous)) / static_cast<double>(up);
      out[static_cast<std::size_t>(k)] =
          static_cast<float>(batch[static_cast<std::size_t>(k)]) + static_cast<float>(interpolated);
      previous = static_cast<float>(running);
    }
    hist.swap(out);
  }

  /// A growth torch cannot handle (see the file comment): [combined_min, combined_max] without relaxation, the
  /// batch binned on it, each old histogram's mass added to the bin of the old range's middle.
  void combine_degenerate(const float* x, std::size_t n, float batch_min, float batch_max, float combined_min,
                          float combined_max) {
    const detail::HistcEdges torch_edges =
        detail::histc_edges(std::trunc(combined_min), std::trunc(combined_max), batch_min, batch_max, bins_);
    const detail::HistcEdges exact_edges =
        detail::histc_edges(combined_min, combined_max, batch_min, batch_max, bins_);
    bin_batch(x, n, torch_edges, exact_edges);
    const double middle = (static_cast<double>(min_) + max_) / 2;
    const double where = (middle - combined_min) / (static_cast<double>(combined_max) - combined_min) * bins_;
    const auto bin = static_cast<std::size_t>(std::min(std::max(where, 0.0), static_cast<double>(bins_ - 1)));
    for (int h = 0; h < 2; ++h) {
      double mass = 0.0;
      for (float v : hist_[h]) mass += v;
      for (std::size_t k = 0; k < hist_[h].size(); ++k) hist_[h][k] = static_cast<float>(batch_hist_[h][k]);
      hist_[h][bin] += static_cast<float>(mass);
    }
    min_ = combined_min;
    max_ = combined_max;
  }

  int bins_;
  int upsample_;
  float min_ = 0.0f, max_ = 0.0f;
  ObserverCounts counts_{};
  std::vector<float> hist_[2];                 // [0] torch edges, [1] exact edges
  std::vector<std::uint64_t> batch_hist_[2];  // scratch: the current batch's counts
};

QMATH_END_NAMESPACE  // qmath
