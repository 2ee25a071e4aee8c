// SPDX-License-Identifier: Apache-2.0
// calib/mse_sweep.hpp: the clipping range that minimises the quantize-dequantize squared error, by a plain sweep
// over shrinking candidate ranges (calib layer).
//
// Candidates, for i = steps, steps - 1, ..., 1 (t = i / steps, computed as float(double(v) * i / steps), so i = steps
// is the data's own range exactly):
//   symmetric scheme  [-a t, a t] with a = max |x|
//   affine scheme     [min t, max t]: both ends shrink toward 0 together, by the same fraction (one parameter to
//                     sweep instead of two; a one-sided outlier therefore also pulls in the other end).
// Each candidate's parameters come from choose_qparams<Q>(lo, hi, o) (so reduce_range, narrow_range, profile, ...
// all apply); every element is quantized and dequantized with the scalar reference (kernels/ref/quantize.hpp) and
// the squared errors are summed in double. The candidate with the smallest sum wins; on a tie the widest one.
// NaN and +-Inf elements are ignored (neither in the range nor in the error). No finite element, or all zero:
// the range [0, 0].
//
// Cost: O(steps * n / stride) quantize-dequantize pairs (100 steps over 10^6 elements is 10^8). For large tensors
// pass stride > 1 to score the candidates on every stride-th element (the data's min / max still come from all
// elements), or sweep a random subsample. Per tensor only; for per-channel ranges call it once per channel.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "qmath/core/config.hpp"
#include "qmath/calib/common.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/rounding.hpp"
#include "qmath/kernels/ref/quantize.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE
namespace detail {

/// Sum over every stride-th finite x of (dequantize(quantize(x)) - x)^2, in double.
template <class Q>
double quantize_squared_error(const float* x, std::size_t n, std::size_t stride, const QParams<Q>& p) {
  const Numerics numerics = numerics_of(p.numerics);
  const float scale = p.scale[0];
  const float factor = numerics.op == scale_op::multiply_reciprocal ? 1.0f / scale : scale;
  const bool float_zp = p.has_float_zero_point();
  double sum = 0.0;
  for (std::size_t i = 0; i < n; i += stride) {
    const float v = x[i];
    if (!std::isfinite(v)) continue;
    float back;
    if (float_zp) {
      const float zf = p.float_zero_point[0];
      back = kernels::ref::dequantize_value_float_zp(
          kernels::ref::quantize_value_float_zp(v, factor, zf, p.qmin, p.qmax, numerics), scale, zf);
    } else {
      const std::int32_t z = p.zero_point[0];
      back = kernels::ref::dequantize_value(kernels::ref::quantize_value(v, factor, z, p.qmin, p.qmax, numerics),
                                            scale, z);
    }
    const double e = static_cast<double>(back) - static_cast<double>(v);
    sum += e * e;
  }
  return sum;
}

inline float sweep_fraction(float v, int i, int steps) noexcept {
  return static_cast<float>(static_cast<double>(v) * i / steps);
}

}  // namespace detail

/// The clipping range with the smallest quantize-dequantize squared error over x[0..n) among `steps` shrinking
/// candidates (see the top of this file), scoring every stride-th element.
/// @throws qmath::error when steps < 1, stride == 0, x is null with n > 0, or choose_qparams rejects o.
template <class Q>
Range mse_sweep_range(const float* x, std::size_t n, const ChooseOptions& o = {}, int steps = 100,
                      std::size_t stride = 1) {
  constexpr const char* fn = "qmath::mse_sweep_range";
  detail::require(steps >= 1, fn, "steps must be >= 1 (got " + std::to_string(steps) + ")");
  detail::require(stride >= 1, fn, "stride must be >= 1");
  detail::require(n == 0 || x != nullptr, fn, "null data pointer for a non-empty input");
  float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (lo > hi || (lo == 0.0f && hi == 0.0f)) return Range{0.0f, 0.0f};
  if (o.kind == scheme::symmetric) {
    const float amax = std::max(-lo, hi);
    lo = -amax;
    hi = amax;
  }
  Range best{lo, hi};
  double best_error = std::numeric_limits<double>::infinity();
  for (int i = steps; i >= 1; --i) {  // widest first, so a tie keeps the wider range
    const Range candidate{detail::sweep_fraction(lo, i, steps), detail::sweep_fraction(hi, i, steps)};
    const QParams<Q> p = choose_qparams<Q>(candidate.min, candidate.max, o);
    const double error = detail::quantize_squared_error(x, n, stride, p);
    if (error < best_error) {
      best_error = error;
      best = candidate;
    }
  }
  return best;
}

/// Parameters for the range mse_sweep_range() picks: choose_qparams<Q>(range.min, range.max, o).
template <class Q>
QParams<Q> mse_sweep_qparams(const float* x, std::size_t n, const ChooseOptions& o = {}, int steps = 100,
                             std::size_t stride = 1) {
  const Range r = mse_sweep_range<Q>(x, n, o, steps, stride);
  return choose_qparams<Q>(r.min, r.max, o);
}

QMATH_END_NAMESPACE  // qmath
