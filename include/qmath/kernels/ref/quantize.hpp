// SPDX-License-Identifier: Apache-2.0
// kernels/ref/quantize.hpp: scalar quantize, dequantize and requantize, the specification of every vector path
// (kernels layer).
//
// quantize (float -> code), per element i with parameters p = i when per_element, else p = 0:
//   x' = isnan(x) ? 0 : x                                   NaN becomes the code of 0.0
//   y  = op == multiply_reciprocal ? x' * factor[p]         factor = 1.0f / S, computed once by the caller
//                                  : x' / factor[p]         factor = S
//   r  = round(y)                                            half to even (nearbyint) or half away (std::round)
//   q  = clamp(r, qmin - Z[p], qmax - Z[p]) + Z[p]           clamp before the float->int conversion, add Z in int
// +-Inf and values beyond the range saturate to qmax / qmin. The clamp is done in double so that it is exact for
// every code type (int32 included); for codes of 16 bits or fewer the float clamp of the vector paths is identical.
//
// dequantize (code -> float): x = float(q - Z[p]) * S[p], the subtraction in int64 (exact), one float rounding in
// the multiply (and one in the conversion for int32 codes beyond 2^24).
//
// requantize (int32 accumulator -> code), float multiplier M (FBGEMM style): quantize(float(acc)) with
// op = multiply_reciprocal, factor = M, rounding half to even. float(acc) rounds to nearest even beyond 2^24.
//
// Float zero points (PyTorch per_channel_affine_float_qparams): q = clamp(round(x' (op) factor + Zf), qmin, qmax)
// with two float roundings (product, then sum: never fused into an FMA), and x = (float(q) - Zf) * S.
//
// Preconditions (checked by the API layer): factor / S finite and > 0, qmin <= qmax within the code type,
// Z within the code type, buffers of n elements that do not overlap. n == 0 does nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/format/rounding.hpp"
#include "qmath/kernels/quantize_table.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {

namespace ref {

inline float apply_scale(float x, float factor, scale_op op) noexcept {
  return op == scale_op::multiply_reciprocal ? x * factor : x / factor;
}

inline double round_to_integer(float y, rounding mode) noexcept {
  return mode == rounding::half_even ? static_cast<double>(std::nearbyint(y)) : static_cast<double>(std::round(y));
}

/// One code, per the formula at the top of this file. Returns an int32 in [qmin, qmax].
inline std::int32_t quantize_value(float x, float factor, std::int32_t zero_point, std::int32_t qmin,
                                   std::int32_t qmax, Numerics numerics) noexcept {
  if (std::isnan(x)) x = 0.0f;
  const double r = round_to_integer(apply_scale(x, factor, numerics.op), numerics.round);
  const double lo = static_cast<double>(qmin) - zero_point, hi = static_cast<double>(qmax) - zero_point;
  const double clamped = std::min(std::max(r, lo), hi);
  return static_cast<std::int32_t>(static_cast<std::int64_t>(clamped) + zero_point);
}

/// One code with a float zero point (see the top of this file).
inline std::int32_t quantize_value_float_zp(float x, float factor, float zero_point, std::int32_t qmin,
                                            std::int32_t qmax, Numerics numerics) noexcept {
  if (std::isnan(x)) x = 0.0f;
  // The product goes through double (exact for two floats) and back, so no compiler can fuse it with the sum.
  const float scaled = numerics.op == scale_op::multiply_reciprocal
                           ? static_cast<float>(static_cast<double>(x) * static_cast<double>(factor))
                           : x / factor;
  const float shifted = scaled + zero_point;
  const double r = round_to_integer(shifted, numerics.round);
  const double clamped = std::min(std::max(r, static_cast<double>(qmin)), static_cast<double>(qmax));
  return static_cast<std::int32_t>(clamped);
}

inline float dequantize_value(std::int32_t q, float scale, std::int32_t zero_point) noexcept {
  return static_cast<float>(static_cast<std::int64_t>(q) - zero_point) * scale;
}

inline float dequantize_value_float_zp(std::int32_t q, float scale, float zero_point) noexcept {
  return (static_cast<float>(q) - zero_point) * scale;
}

/// quantize over n floats to codes of type Q (not packed: 8, 16 or 32 bits).
template <class Q>
void quantize(const float* x, Q* y, std::size_t n, const QuantizeRun& run) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t p = run.per_element ? i : 0;
    y[i] = static_cast<Q>(quantize_value(x[i], run.factor[p], run.zero_point[p], run.qmin, run.qmax, run.numerics));
  }
}

/// dequantize over n codes of type Q (not packed).
template <class Q>
void dequantize(const Q* q, float* x, std::size_t n, const DequantizeRun& run) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t p = run.per_element ? i : 0;
    x[i] = dequantize_value(static_cast<std::int32_t>(q[i]), run.scale[p], run.zero_point[p]);
  }
}

/// requantize with a float multiplier over n int32 accumulators (run.factor holds M; run.numerics is ignored:
/// always multiply, half to even).
template <class Q>
void requantize(const std::int32_t* acc, Q* y, std::size_t n, const QuantizeRun& run) noexcept {
  constexpr Numerics kRequantize{scale_op::multiply_reciprocal, rounding::half_even};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t p = run.per_element ? i : 0;
    y[i] = static_cast<Q>(quantize_value(static_cast<float>(acc[i]), run.factor[p], run.zero_point[p], run.qmin,
                                         run.qmax, kRequantize));
  }
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
