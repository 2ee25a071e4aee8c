// SPDX-License-Identifier: Apache-2.0
// compress/pruning.hpp: pruning masks (fp32, no kernels): magnitude by threshold or target sparsity, per tensor or
// global over several tensors; structured by the L1 / L2 norm of whole channels or groups (the granularity of
// quant/qparams.hpp: per_channel(axis), per_group(axis, G)); N:M along an axis; Zhu and Gupta's cubic schedule; and
// what a pruned tensor costs to store (dense, bitmap + values, CSR, N:M with index metadata).
//
//   const compress::Mask keep = compress::magnitude_mask(w.data(), w.size(), 0.75);   // keep the largest 25 %
//   compress::apply_mask(w.data(), keep);
//
// A mask holds one byte per element, 1 = kept, 0 = pruned, in the tensor's own element order. Ties in magnitude
// are broken by position (the earlier element is pruned first), so a mask is a function of its input alone. Every
// function checks its input before it writes anything: non-finite weights, a sparsity outside [0, 1], a shape that
// does not hold the element count, or N > M throw qmath::error.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE
namespace compress {

/// One byte per element: 1 keeps it, 0 prunes it.
using Mask = std::vector<std::uint8_t>;

/// How the size of a channel or group is measured.
enum class norm_kind { l1, l2 };

namespace detail {

inline void check_weights(const float* w, std::size_t n, const char* fn) {
  qmath::detail::require(n == 0 || w != nullptr, fn, "null weights");
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(w[i]))
      qmath::detail::fail(fn, "weight " + std::to_string(i) + " is not finite (" + std::to_string(w[i]) + ")");
}

inline void check_sparsity(double sparsity, const char* fn) {
  qmath::detail::require(sparsity >= 0.0 && sparsity <= 1.0, fn,
                         "sparsity must be in [0, 1] (got " + std::to_string(sparsity) + ")");
}

/// Elements to prune for a target sparsity: round half up, so 0.5 of 3 prunes 2 and a tiny sparsity prunes none.
inline std::size_t pruned_count(double sparsity, std::size_t n) {
  return std::min(n, static_cast<std::size_t>(std::floor(sparsity * static_cast<double>(n) + 0.5)));
}

/// Marks the `prune` smallest scores (ties: lower index first) as 0 in `keep`, the others 1.
inline Mask keep_largest(const std::vector<double>& score, std::size_t prune) {
  std::vector<std::size_t> order(score.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  auto smaller = [&](std::size_t a, std::size_t b) { return score[a] < score[b] || (score[a] == score[b] && a < b); };
  Mask keep(score.size(), 1);
  if (prune == 0) return keep;
  if (prune < order.size()) std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(prune), order.end(), smaller);
  for (std::size_t i = 0; i < prune; ++i) keep[order[i]] = 0;
  return keep;
}

/// The parameter slot (as quant/qparams.hpp numbers them) of every element of a tensor of `shape` under `g`.
inline std::vector<std::size_t> slot_of_each_element(const TensorShape& shape, const Granularity& g, std::size_t total,
                                                     const char* fn) {
  std::vector<std::size_t> slot(total, 0);
  if (total == 0) return slot;
  qmath::detail::for_each_slot_run(shape, g, total, qmath::detail::parameter_slots(shape, g, fn),
                                   [&](std::size_t at, std::size_t count, const std::size_t* id, bool each) {
                                     for (std::size_t k = 0; k < count; ++k) slot[at + k] = id[each ? k : 0];
                                   });
  return slot;
}

}  // namespace detail

/// Keeps the elements with |w| > threshold (threshold >= 0; 0 prunes exact zeros only).
inline Mask magnitude_mask_threshold(const float* w, std::size_t n, float threshold) {
  constexpr const char* fn = "qmath::compress::magnitude_mask_threshold";
  detail::check_weights(w, n, fn);
  qmath::detail::require(std::isfinite(threshold) && threshold >= 0.0f, fn, "threshold must be finite and >= 0");
  Mask keep(n);
  for (std::size_t i = 0; i < n; ++i) keep[i] = std::fabs(w[i]) > threshold;
  return keep;
}

/// Prunes round(sparsity * n) elements of smallest |w|: exactly that many, whatever the ties.
inline Mask magnitude_mask(const float* w, std::size_t n, double sparsity) {
  constexpr const char* fn = "qmath::compress::magnitude_mask";
  detail::check_weights(w, n, fn);
  detail::check_sparsity(sparsity, fn);
  std::vector<double> score(n);
  for (std::size_t i = 0; i < n; ++i) score[i] = std::fabs(static_cast<double>(w[i]));
  return detail::keep_largest(score, detail::pruned_count(sparsity, n));
}

/// A weight tensor taking part in a global decision: its data and element count.
struct WeightSpan {
  const float* data = nullptr;
  std::size_t size = 0;
};

/// Global magnitude pruning: one threshold for all tensors, round(sparsity * total) elements pruned in all, so a
/// tensor of small weights loses more than one of large weights. One mask per tensor, in order.
inline std::vector<Mask> global_magnitude_masks(const std::vector<WeightSpan>& tensors, double sparsity) {
  constexpr const char* fn = "qmath::compress::global_magnitude_masks";
  detail::check_sparsity(sparsity, fn);
  std::vector<double> score;
  for (const WeightSpan& t : tensors) {
    detail::check_weights(t.data, t.size, fn);
    for (std::size_t i = 0; i < t.size; ++i) score.push_back(std::fabs(static_cast<double>(t.data[i])));
  }
  const Mask all = detail::keep_largest(score, detail::pruned_count(sparsity, score.size()));
  std::vector<Mask> masks;
  std::size_t at = 0;
  for (const WeightSpan& t : tensors) {
    masks.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(at), all.begin() + static_cast<std::ptrdiff_t>(at + t.size));
    at += t.size;
  }
  return masks;
}

/// The L1 or L2 norm of each slot of `g` (per channel: each index along the axis; per group: each run of
/// group_size along the axis at each position of the other axes).
/// @throws qmath::error on a bad shape, axis or group size, or non-finite weights.
inline std::vector<double> slot_norms(const float* w, const TensorShape& shape, const Granularity& g, norm_kind norm) {
  constexpr const char* fn = "qmath::compress::slot_norms";
  const std::size_t total = qmath::detail::element_count(shape, fn);
  detail::check_weights(w, total, fn);
  const std::size_t slots = qmath::detail::parameter_slots(shape, g, fn);
  const std::vector<std::size_t> slot = detail::slot_of_each_element(shape, g, total, fn);
  std::vector<double> sum(slots, 0.0);
  for (std::size_t i = 0; i < total; ++i) {
    const double v = w[i];
    sum[slot[i]] += norm == norm_kind::l1 ? std::fabs(v) : v * v;
  }
  if (norm == norm_kind::l2)
    for (double& s : sum) s = std::sqrt(s);
  return sum;
}

/// Structured pruning: removes round(sparsity * slots) whole channels or groups of smallest norm (per_channel(0)
/// on an OIHW Conv2d or an [out, in] Linear weight removes output channels; per_channel(1) input channels;
/// per_group(1, G) blocks of G inputs in each row). Per tensor is refused: it would prune all or nothing.
inline Mask structured_mask(const float* w, const TensorShape& shape, const Granularity& g, double sparsity,
                            norm_kind norm = norm_kind::l2) {
  constexpr const char* fn = "qmath::compress::structured_mask";
  detail::check_sparsity(sparsity, fn);
  qmath::detail::require(g.kind != granularity_kind::per_tensor, fn, "needs per_channel(axis) or per_group(axis, G)");
  const std::vector<double> norms = slot_norms(w, shape, g, norm);
  const Mask keep_slot = detail::keep_largest(norms, detail::pruned_count(sparsity, norms.size()));
  const std::size_t total = qmath::detail::element_count(shape, fn);
  const std::vector<std::size_t> slot = detail::slot_of_each_element(shape, g, total, fn);
  Mask keep(total);
  for (std::size_t i = 0; i < total; ++i) keep[i] = keep_slot[slot[i]];
  return keep;
}

/// N:M semi-structured sparsity: in every run of M consecutive elements along `axis` (the input axis: 1 for an
/// [out, in] Linear or OIHW Conv2d), the N of largest |w| are kept (2:4 is what sparse tensor cores run). A last
/// run shorter than M keeps its ceil(len * N / M) largest.
inline Mask n_m_mask(const float* w, const TensorShape& shape, int axis, int n, int m) {
  constexpr const char* fn = "qmath::compress::n_m_mask";
  qmath::detail::require(m >= 1 && n >= 0 && n <= m, fn,
                         "needs 0 <= N <= M and M >= 1 (got " + std::to_string(n) + ":" + std::to_string(m) + ")");
  const std::size_t total = qmath::detail::element_count(shape, fn);
  detail::check_weights(w, total, fn);
  Mask keep(total, 1);
  if (total == 0) return keep;
  const qmath::detail::AxisLayout L = qmath::detail::split_at_axis(shape, qmath::detail::normalize_axis(axis, shape.dims.size(), fn));
  const auto M = static_cast<std::size_t>(m), N = static_cast<std::size_t>(n);
  std::vector<std::size_t> run;
  for (std::size_t o = 0; o < L.outer; ++o)
    for (std::size_t i = 0; i < L.inner; ++i)
      for (std::size_t d0 = 0; d0 < L.dim; d0 += M) {
        const std::size_t len = std::min(M, L.dim - d0), kept = (len * N + M - 1) / M;
        run.clear();
        for (std::size_t d = d0; d < d0 + len; ++d) run.push_back((o * L.dim + d) * L.inner + i);
        // Largest first; among equals the later one first, so that the earlier is pruned first (as elsewhere).
        std::sort(run.begin(), run.end(), [&](std::size_t a, std::size_t b) {
          const float fa = std::fabs(w[a]), fb = std::fabs(w[b]);
          return fa > fb || (fa == fb && a > b);
        });
        for (std::size_t k = kept; k < len; ++k) keep[run[k]] = 0;
      }
  return keep;
}

/// Zeroes the pruned elements. @throws qmath::error when the sizes differ.
inline void apply_mask(float* w, std::size_t n, const Mask& keep) {
  qmath::detail::require(keep.size() == n, "qmath::compress::apply_mask",
                         "the mask has " + std::to_string(keep.size()) + " entries, the tensor " + std::to_string(n));
  for (std::size_t i = 0; i < n; ++i)
    if (!keep[i]) w[i] = 0.0f;
}

/// Fraction of pruned entries (0 for an empty mask).
inline double sparsity_of(const Mask& keep) {
  if (keep.empty()) return 0.0;
  const auto kept = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), std::uint8_t{1}));
  return 1.0 - static_cast<double>(kept) / static_cast<double>(keep.size());
}

/// Zhu and Gupta's gradual schedule ("To prune, or not to prune", 2017): the sparsity at `step` rises from
/// `initial` at `begin` to `final_sparsity` at `end` as s_f + (s_i - s_f) (1 - (step - begin) / (end - begin))^3,
/// fast at first and slowly at the end; constant outside [begin, end].
inline double cubic_sparsity(std::int64_t step, std::int64_t begin, std::int64_t end, double initial, double final_sparsity) {
  constexpr const char* fn = "qmath::compress::cubic_sparsity";
  detail::check_sparsity(initial, fn);
  detail::check_sparsity(final_sparsity, fn);
  qmath::detail::require(end > begin, fn, "needs end > begin");
  if (step <= begin) return initial;
  if (step >= end) return final_sparsity;
  const double left = 1.0 - static_cast<double>(step - begin) / static_cast<double>(end - begin);
  return final_sparsity + (initial - final_sparsity) * left * left * left;
}

/// How a pruned [rows, cols] matrix is stored.
enum class sparse_format {
  dense,   ///< every element
  bitmap,  ///< one bit per element, then the kept values
  csr,     ///< int32 row offsets (rows + 1), a column index per kept value (uint16 when cols <= 65536), the values
  n_m,     ///< the kept values and ceil(log2(M)) bits of position each (N:M; the mask must be N:M along the rows)
};

/// Bytes to store a pruned [rows, cols] matrix with `value_bits` per kept value (32 fp32, 8 int8, 4 int4 ...), not
/// counting quantization parameters. For n_m, `m` is the run length (positions take ceil(log2 m) bits).
inline std::size_t storage_bytes(const Mask& keep, std::size_t rows, std::size_t cols, int value_bits,
                                 sparse_format format, int m = 4) {
  constexpr const char* fn = "qmath::compress::storage_bytes";
  qmath::detail::require(keep.size() == rows * cols, fn, "the mask does not hold rows * cols entries");
  qmath::detail::require(value_bits >= 1 && value_bits <= 64, fn, "value_bits must be in [1, 64]");
  const auto kept = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), std::uint8_t{1}));
  const auto bits = static_cast<std::size_t>(value_bits);
  auto bytes_of_bits = [](std::size_t b) { return (b + 7) / 8; };
  switch (format) {
    case sparse_format::dense: return bytes_of_bits(keep.size() * bits);
    case sparse_format::bitmap: return bytes_of_bits(keep.size()) + bytes_of_bits(kept * bits);
    case sparse_format::csr: return (rows + 1) * 4 + kept * (cols <= 65536 ? 2 : 4) + bytes_of_bits(kept * bits);
    case sparse_format::n_m: {
      qmath::detail::require(m >= 1, fn, "m must be >= 1");
      std::size_t position_bits = 0;
      while ((std::size_t{1} << position_bits) < static_cast<std::size_t>(m)) ++position_bits;
      return bytes_of_bits(kept * (bits + position_bits));
    }
  }
  return 0;
}

/// The smallest of dense, bitmap and CSR for this mask, and its format.
inline std::pair<std::size_t, sparse_format> best_storage(const Mask& keep, std::size_t rows, std::size_t cols, int value_bits) {
  std::pair<std::size_t, sparse_format> best{storage_bytes(keep, rows, cols, value_bits, sparse_format::dense), sparse_format::dense};
  for (sparse_format f : {sparse_format::bitmap, sparse_format::csr}) {
    const std::size_t b = storage_bytes(keep, rows, cols, value_bits, f);
    if (b < best.first) best = {b, f};
  }
  return best;
}

}  // namespace compress
QMATH_END_NAMESPACE  // qmath
