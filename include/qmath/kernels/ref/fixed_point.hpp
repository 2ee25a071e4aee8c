// SPDX-License-Identifier: Apache-2.0
// kernels/ref/fixed_point.hpp: gemmlowp / TFLite fixed-point requantization, scalar (kernels layer).
//
// A real multiplier M > 0 is stored as a Q31 mantissa m in [2^30, 2^31) and a power-of-two exponent e, M ~ m/2^31 * 2^e
// (QuantizeMultiplier). An int32 x is scaled by
//   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(e, 0), m), max(-e, 0))
// which is TFLite's MultiplyByQuantizedMultiplier. The only deviation: TFLite computes x * 2^left_shift in int32
// (undefined on overflow); here that product saturates to the int32 range.
// The functions are templates on a tag (default void) so that an ISA translation unit can call its own copy
// (`<Arch>`) without sharing an inline function compiled with wider flags (docs/ARCHITECTURE.md, ODR rule).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "qmath/core/config.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace ref {

// Constants, not calls: at -O0 a call to std::numeric_limits<int>::max() is a weak symbol shared by the whole
// program, and the ISA units that instantiate these templates must not define such symbols (src/isa/isa_tu.hpp).
inline constexpr std::int32_t kInt32Min = std::numeric_limits<std::int32_t>::min();
inline constexpr std::int32_t kInt32Max = std::numeric_limits<std::int32_t>::max();

/// round(a * b / 2^31), ties toward +infinity (the nudge then C++ truncation); saturates the single overflow case
/// a = b = INT32_MIN to INT32_MAX (gemmlowp SaturatingRoundingDoublingHighMul).
template <class Tag = void>
constexpr std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) noexcept {
  if (a == b && a == kInt32Min) return kInt32Max;
  const std::int64_t ab = static_cast<std::int64_t>(a) * b;
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));  // C++ division truncates toward 0
}

/// x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31] (gemmlowp RoundingDivideByPOT).
template <class Tag = void>
constexpr std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) noexcept {
  const std::int64_t mask = (std::int64_t{1} << exponent) - 1;
  const std::int64_t remainder = static_cast<std::int64_t>(x) & mask;
  const std::int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<std::int32_t>((static_cast<std::int64_t>(x) >> exponent) + (remainder > threshold ? 1 : 0));
}

/// x * M with M given as (multiplier, shift) from quantize_multiplier. shift in [-31, 30].
template <class Tag = void>
constexpr std::int32_t multiply_by_quantized_multiplier(std::int32_t x, std::int32_t multiplier, int shift) noexcept {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  std::int64_t widened = static_cast<std::int64_t>(x) * (std::int64_t{1} << left);
  if (widened > kInt32Max) widened = kInt32Max;
  if (widened < kInt32Min) widened = kInt32Min;
  return rounding_divide_by_pot<Tag>(saturating_rounding_doubling_high_mul<Tag>(static_cast<std::int32_t>(widened), multiplier),
                                right);
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
