// SPDX-License-Identifier: Apache-2.0
// quant/layout.hpp: tensor shapes, axes and how a granularity splits a tensor into runs of elements that share
// parameters (schemes layer). No Eigen here: the Eigen adapters of quantize.hpp map onto these.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE

/// Row-major: the last dim varies fastest (NumPy, PyTorch, ONNX). Column-major: the first does (Eigen's default).
enum class storage_order { row_major, col_major };

/// Dims of a dense tensor stored contiguously in `order`. Rank 0 is a scalar (one element).
struct TensorShape {
  std::vector<std::int64_t> dims;
  storage_order order = storage_order::row_major;
};

namespace detail {

/// The tensor seen as [outer, dim, inner] around one axis, inner being the fastest in memory.
struct AxisLayout {
  std::size_t outer = 1, dim = 1, inner = 1;
};

inline std::size_t element_count(const TensorShape& shape, const char* fn) {
  std::size_t total = 1;
  for (std::size_t k = 0; k < shape.dims.size(); ++k) {
    const std::int64_t d = shape.dims[k];
    require(d >= 0, fn, "dims[" + std::to_string(k) + "] is negative (" + std::to_string(d) + ")");
    const auto ud = static_cast<std::size_t>(d);
    require(ud == 0 || total <= std::numeric_limits<std::size_t>::max() / ud, fn, "element count overflows size_t");
    total *= ud;
  }
  return total;
}

/// axis in [-rank, rank) -> [0, rank).
inline std::size_t normalize_axis(int axis, std::size_t rank, const char* fn) {
  const auto r = static_cast<std::int64_t>(rank);
  require(axis >= -r && axis < r, fn,
          "axis " + std::to_string(axis) + " is out of range for a tensor of rank " + std::to_string(rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

inline AxisLayout split_at_axis(const TensorShape& shape, std::size_t axis) {
  AxisLayout layout;
  const std::size_t rank = shape.dims.size();
  layout.dim = static_cast<std::size_t>(shape.dims[axis]);
  for (std::size_t k = 0; k < rank; ++k) {
    if (k == axis) continue;
    const bool faster = shape.order == storage_order::row_major ? k > axis : k < axis;
    (faster ? layout.inner : layout.outer) *= static_cast<std::size_t>(shape.dims[k]);
  }
  return layout;
}

/// Number of (scale, zero point) pairs `g` calls for on `shape`; checks the axis and the group size.
inline std::size_t parameter_slots(const TensorShape& shape, const Granularity& g, const char* fn) {
  if (g.kind == granularity_kind::per_tensor) return 1;
  const std::size_t axis = normalize_axis(g.axis, shape.dims.size(), fn);
  const AxisLayout layout = split_at_axis(shape, axis);
  if (g.kind == granularity_kind::per_channel) return layout.dim;
  require(g.group_size > 0, fn, "group_size must be > 0 (got " + std::to_string(g.group_size) + ")");
  const auto group = static_cast<std::size_t>(g.group_size);
  return layout.outer * ((layout.dim + group - 1) / group) * layout.inner;
}

/// Below this many elements a run with one parameter pair is not worth a kernel call of its own.
constexpr std::size_t kMinBroadcastRun = 16;

/// Calls run(offset, count, a, b, per_element) over runs of consecutive elements that together cover the tensor
/// once, where a and b point at the per-slot parameter arrays of the run: one entry for all `count` elements when
/// per_element is false, `count` entries otherwise. Small runs are merged by gathering parameters per element.
/// Preconditions: parameter_slots() accepted `g` for this shape, and the tensor is not empty.
template <class A, class B, class Run>
void for_each_run(const TensorShape& shape, const Granularity& g, std::size_t total, const A* a, const B* b,
                  Run&& run) {
  if (g.kind == granularity_kind::per_tensor) {
    run(std::size_t{0}, total, a, b, false);
    return;
  }
  const AxisLayout L = split_at_axis(shape, normalize_axis(g.axis, shape.dims.size(), "qmath::for_each_run"));
  if (g.kind == granularity_kind::per_channel) {
    const std::size_t row = L.dim * L.inner;
    if (L.inner == 1) {
      for (std::size_t o = 0; o < L.outer; ++o) run(o * row, L.dim, a, b, true);
    } else if (L.inner >= kMinBroadcastRun) {
      for (std::size_t o = 0; o < L.outer; ++o)
        for (std::size_t c = 0; c < L.dim; ++c) run(o * row + c * L.inner, L.inner, a + c, b + c, false);
    } else {
      std::vector<A> ea(row);
      std::vector<B> eb(row);
      for (std::size_t c = 0; c < L.dim; ++c)
        for (std::size_t i = 0; i < L.inner; ++i) {
          ea[c * L.inner + i] = a[c];
          eb[c * L.inner + i] = b[c];
        }
      for (std::size_t o = 0; o < L.outer; ++o) run(o * row, row, ea.data(), eb.data(), true);
    }
    return;
  }
  const auto group = static_cast<std::size_t>(g.group_size);
  const std::size_t groups = (L.dim + group - 1) / group;
  if (L.inner == 1) {
    if (group >= kMinBroadcastRun) {
      for (std::size_t o = 0; o < L.outer; ++o)
        for (std::size_t k = 0; k < groups; ++k) {
          const std::size_t begin = k * group, count = (begin + group <= L.dim) ? group : L.dim - begin;
          run(o * L.dim + begin, count, a + o * groups + k, b + o * groups + k, false);
        }
    } else {
      std::vector<A> ea(L.dim);
      std::vector<B> eb(L.dim);
      for (std::size_t o = 0; o < L.outer; ++o) {
        for (std::size_t d = 0; d < L.dim; ++d) {
          ea[d] = a[o * groups + d / group];
          eb[d] = b[o * groups + d / group];
        }
        run(o * L.dim, L.dim, ea.data(), eb.data(), true);
      }
    }
    return;
  }
  for (std::size_t o = 0; o < L.outer; ++o)
    for (std::size_t d = 0; d < L.dim; ++d) {
      const std::size_t slot = (o * groups + d / group) * L.inner;
      run((o * L.dim + d) * L.inner, L.inner, a + slot, b + slot, true);
    }
}

/// The one walk of a tensor slot by slot: calls visit(offset, count, slot, per_element) over runs that cover the
/// tensor once, slot[0] being the parameter slot (numbered as in qparams.hpp) of all `count` elements when
/// per_element is false, slot[k] that of element offset + k otherwise. `slots` is parameter_slots(shape, g);
/// the preconditions of for_each_run apply.
template <class Visit>
void for_each_slot_run(const TensorShape& shape, const Granularity& g, std::size_t total, std::size_t slots, Visit&& visit) {
  std::vector<std::size_t> ids(slots);
  std::iota(ids.begin(), ids.end(), std::size_t{0});
  for_each_run(shape, g, total, ids.data(), ids.data(),
               [&](std::size_t at, std::size_t count, const std::size_t* slot, const std::size_t*, bool per_element) {
                 visit(at, count, slot, per_element);
               });
}

/// What a range scan does with NaN and +-Inf: NaN is always skipped; +-Inf either enters the range (so that
/// choose_qparams can refuse it by name) or is skipped like NaN (the observers and the histogram, which count it).
enum class nonfinite_policy { skip_nan, skip_nan_and_inf };

/// Per-slot min / max of a tensor under a policy, and how many elements were finite, NaN and +-Inf. A slot that
/// saw no value keeps min = +inf > max = -inf. The one range scanner of the library (choose.hpp, observers.hpp,
/// histogram.hpp). Ties keep the earlier value (so -0 and 0 keep whichever came first, as torch's min / max do).
struct SlotRanges {
  std::vector<float> min, max;
  std::uint64_t finite = 0, nan = 0, inf = 0;
  bool seen(std::size_t slot) const noexcept { return min[slot] <= max[slot]; }
};

inline SlotRanges scan_slot_ranges(const float* x, const TensorShape& shape, const Granularity& g, std::size_t total,
                                   std::size_t slots, nonfinite_policy policy) {
  SlotRanges r;
  r.min.assign(slots, std::numeric_limits<float>::infinity());
  r.max.assign(slots, -std::numeric_limits<float>::infinity());
  const bool keep_inf = policy == nonfinite_policy::skip_nan;
  if (total == 0) return r;
  if (g.kind == granularity_kind::per_tensor) {
    // Branch-free blocks with 32-bit counters: the scan runs at memory speed on large calibration batches.
    constexpr std::size_t kBlock = std::size_t{1} << 16;
    float lo = r.min[0], hi = r.max[0];
    for (std::size_t at = 0; at < total; at += kBlock) {
      const std::size_t m = std::min(kBlock, total - at);
      std::uint32_t nan = 0, inf = 0;
      for (std::size_t j = 0; j < m; ++j) {
        const float v = x[at + j];
        const bool is_nan = v != v, is_inf = std::fabs(v) > FLT_MAX;
        const bool take = !is_nan && (keep_inf || !is_inf);
        const float low = take ? v : lo, high = take ? v : hi;
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
        nan += is_nan;
        inf += is_inf;
      }
      r.nan += nan;
      r.inf += inf;
    }
    r.min[0] = lo;
    r.max[0] = hi;
  } else {
    for_each_slot_run(shape, g, total, slots, [&](std::size_t at, std::size_t count, const std::size_t* slot, bool each) {
      for (std::size_t k = 0; k < count; ++k) {
        const float v = x[at + k];
        const bool is_nan = v != v, is_inf = std::fabs(v) > FLT_MAX;
        r.nan += is_nan;
        r.inf += is_inf;
        if (is_nan || (is_inf && !keep_inf)) continue;
        const std::size_t s = slot[each ? k : 0];
        r.min[s] = v < r.min[s] ? v : r.min[s];
        r.max[s] = v > r.max[s] ? v : r.max[s];
      }
    });
  }
  r.finite = total - r.nan - r.inf;
  return r;
}

}  // namespace detail
QMATH_END_NAMESPACE  // qmath
