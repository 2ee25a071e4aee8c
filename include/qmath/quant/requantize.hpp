// SPDX-License-Identifier: Apache-2.0
// quant/requantize.hpp: int32 accumulators -> 8/16-bit codes, with a float multiplier (FBGEMM) or a fixed-point
// one (gemmlowp / TFLite), per tensor or per channel (API layer).
//
//   float:        y = clamp(round_even(float(acc) * M) + Z, qmin, qmax)      (vectorized, kernels/ref/quantize.hpp)
//   fixed point:  y = clamp(MultiplyByQuantizedMultiplier(acc, m, e) + Z, qmin, qmax)  (kernels/ref/fixed_point.hpp)
// M is usually S_input * S_weight / S_output. Per-channel multipliers and zero points follow the granularity rules of
// quant/qparams.hpp (per_channel(axis) on the accumulator tensor).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/kernels/ref/fixed_point.hpp"
#include "qmath/kernels/ref/quantize.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE

/// A real multiplier as a Q31 mantissa and a power-of-two shift: M ~ multiplier / 2^31 * 2^shift.
struct FixedPointMultiplier {
  std::int32_t multiplier = 0;
  int shift = 0;
};

/// TFLite's QuantizeMultiplier: frexp, round the mantissa half away to 31 bits, renormalise 2^31; multipliers below
/// 2^-31 become 0, and shifts above 30 saturate to (2^31 - 1, 30).
/// @throws qmath::error when m is negative or not finite.
inline FixedPointMultiplier quantize_multiplier(double m) {
  detail::require(std::isfinite(m) && m >= 0.0, "qmath::quantize_multiplier", "multiplier must be finite and >= 0");
  FixedPointMultiplier r;
  if (m == 0.0) return r;
  int shift = 0;
  const double q = std::frexp(m, &shift);
  auto q_fixed = static_cast<std::int64_t>(std::round(q * static_cast<double>(std::int64_t{1} << 31)));
  if (q_fixed == (std::int64_t{1} << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) {
    shift = 0;
    q_fixed = 0;
  }
  if (shift > 30) {
    shift = 30;
    q_fixed = (std::int64_t{1} << 31) - 1;
  }
  r.multiplier = static_cast<std::int32_t>(q_fixed);
  r.shift = shift;
  return r;
}

/// Parameters of a requantization to codes of type Q (8 or 16 bits, or int32).
/// multiplier / fixed_point: one per slot of `granularity` (use one of the two); zero_point: one per slot.
template <class Q>
struct RequantizeParams {
  Granularity granularity = per_tensor();
  std::vector<float> multiplier{};                  ///< float multipliers, finite and > 0
  std::vector<FixedPointMultiplier> fixed_point{};  ///< used when multiplier is empty
  std::vector<std::int32_t> zero_point{0};
  std::int32_t qmin = static_cast<std::int32_t>(int_traits<Q>::kMin);
  std::int32_t qmax = static_cast<std::int32_t>(int_traits<Q>::kMax);
};

namespace detail {
template <class Q>
void check_requantize(const RequantizeParams<Q>& p, std::size_t slots, const char* fn) {
  if (p.qmin > p.qmax || p.qmin < int_traits<Q>::kMin || p.qmax > int_traits<Q>::kMax)
    require(false, fn, std::string("[qmin, qmax] must be ordered and lie in the range of ") + int_traits<Q>::kName);
  const bool fixed = p.multiplier.empty();
  const std::size_t count = fixed ? p.fixed_point.size() : p.multiplier.size();
  if (count != slots)
    require(false, fn,
            "multiplier has " + std::to_string(count) + " entries, the granularity needs " + std::to_string(slots));
  if (p.zero_point.size() != slots)
    require(false, fn,
            "zero_point has " + std::to_string(p.zero_point.size()) + " entries, the granularity needs " +
                std::to_string(slots));
  // Messages are built only on failure: per-channel calls check thousands of slots.
  for (std::size_t k = 0; k < slots; ++k) {
    const bool multiplier_ok =
        fixed ? (p.fixed_point[k].shift >= -31 && p.fixed_point[k].shift <= 30 && p.fixed_point[k].multiplier >= 0)
              : (std::isfinite(p.multiplier[k]) && p.multiplier[k] > 0.0f);
    if (!multiplier_ok)
      require(false, fn,
              fixed ? "fixed_point[" + std::to_string(k) + "] must have multiplier >= 0 and shift in [-31, 30]"
                    : "multiplier[" + std::to_string(k) + "] must be finite and > 0");
    if (p.zero_point[k] < int_traits<Q>::kMin || p.zero_point[k] > int_traits<Q>::kMax)
      require(false, fn,
              "zero_point[" + std::to_string(k) + "] is outside the range of " + std::string(int_traits<Q>::kName));
  }
}
}  // namespace detail

/// Requantizes the dense int32 tensor acc (shape) into y (same element count; Q not packed).
/// @throws qmath::error on invalid arguments, before writing anything.
template <class Q>
void requantize(const std::int32_t* acc, const TensorShape& shape, const RequantizeParams<Q>& p, Q* y) {
  static_assert(!int_traits<Q>::kPacked, "qmath::requantize: packed codes are not supported");
  constexpr const char* fn = "qmath::requantize";
  const std::size_t total = detail::element_count(shape, fn);
  detail::check_requantize(p, detail::parameter_slots(shape, p.granularity, fn), fn);
  detail::require(total == 0 || (acc != nullptr && y != nullptr), fn, "null data pointer for a non-empty tensor");
  if (total == 0) return;
  if (!p.multiplier.empty()) {
    detail::for_each_run(shape, p.granularity, total, p.multiplier.data(), p.zero_point.data(),
                         [&](std::size_t at, std::size_t count, const float* m, const std::int32_t* z, bool each) {
                           const kernels::QuantizeRun run{m, z, each, p.qmin, p.qmax,
                                                          {scale_op::multiply_reciprocal, rounding::half_even}};
                           if constexpr (kernels::has_vector_kernels<Q>::value)
                             kernels::active_quantize_kernels().requantize.template get<Q>()(acc + at, y + at, count, run);
                           else
                             kernels::ref::requantize(acc + at, y + at, count, run);
                         });
    return;
  }
  detail::for_each_run(shape, p.granularity, total, p.fixed_point.data(), p.zero_point.data(),
                       [&](std::size_t at, std::size_t count, const FixedPointMultiplier* m, const std::int32_t* z,
                           bool each) {
                         for (std::size_t k = 0; k < count; ++k) {
                           const FixedPointMultiplier& fm = m[each ? k : 0];
                           const std::int64_t v =
                               static_cast<std::int64_t>(kernels::ref::multiply_by_quantized_multiplier(
                                   acc[at + k], fm.multiplier, fm.shift)) +
                               z[each ? k : 0];
                           y[at + k] = static_cast<Q>(v < p.qmin ? p.qmin : v > p.qmax ? p.qmax : v);
                         }
                       });
}

/// One-dimensional shorthand.
template <class Q>
void requantize(const std::int32_t* acc, std::size_t n, const RequantizeParams<Q>& p, Q* y) {
  requantize(acc, TensorShape{{static_cast<std::int64_t>(n)}, storage_order::row_major}, p, y);
}

QMATH_END_NAMESPACE  // qmath
