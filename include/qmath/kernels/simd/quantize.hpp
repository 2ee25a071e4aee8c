// SPDX-License-Identifier: Apache-2.0
// kernels/simd/quantize.hpp: vectorized quantize, dequantize and float-multiplier requantize, one xsimd body per
// operation templated on Arch, bit-exact with kernels/ref/quantize.hpp (kernels layer).
//
// Codes of 8 and 16 bits only (the API runs int32 and packed 4-bit codes through the reference). Parameters are
// either one (scale, zero point) for the whole call or one per element. Tails go through zero-padded stack blocks,
// as in simd/convert.hpp, so user buffers are never over-read or over-written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/simd/gcc_warnings.hpp"

#include "qmath/format/rounding.hpp"
#include "qmath/kernels/quantize_table.hpp"
#include "qmath/kernels/simd/pieces.hpp"

QMATH_SIMD_WARNINGS_PUSH

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace simd {
namespace detail {

template <class Arch>
struct QuantizeVectors {
  using F = xsimd::batch<float, Arch>;
  using I = xsimd::batch<std::int32_t, Arch>;
  static constexpr std::size_t kWidth = F::size;

  template <rounding Round>
  static F round(F y) noexcept {
    if constexpr (Round == rounding::half_even) {
      return Pieces<Arch>::round_half_even(y);
    } else {
      // Half away from zero without the "+0.5 then truncate" trap (0.49999997 + 0.5 rounds up to 1.0):
      // the fraction y - trunc(y) is exact, so compare it with +-0.5 instead.
      const F t = Pieces<Arch>::truncate(y);
      const F frac = y - t;
      const F zero(0.0f), one(1.0f);
      return t + xsimd::select(frac >= F(0.5f), one, zero) - xsimd::select(frac <= F(-0.5f), one, zero);
    }
  }

  template <scale_op Op, rounding Round>
  static I codes(F x, F factor, F lo, F hi, I zero_point) noexcept {
    const F zero(0.0f);
    x = xsimd::select(x == x, x, zero);  // NaN -> 0, so it lands on the zero point
    const F y = Op == scale_op::multiply_reciprocal ? x * factor : Pieces<Arch>::divide(x, factor);
    const F r = round<Round>(y);
    // Clamp in float, so the conversion never sees an out-of-range value.
    return xsimd::to_int(xsimd::min(xsimd::max(r, lo), hi)) + zero_point;
  }

  template <class In>
  static F load_input(const In* src) noexcept {
    if constexpr (std::is_same<In, float>::value) return F::load_unaligned(src);
    else return xsimd::to_float(I::load_unaligned(src));  // cvtdq2ps / scvtf: round to nearest even
  }

  template <class Q>
  static void store_codes(Q* dst, I codes) noexcept {
    if constexpr (sizeof(Q) == 1) {
      Pieces<Arch>::store_low_bytes(reinterpret_cast<std::uint8_t*>(dst), codes);  // lanes in range: bytes exact
    } else {
      static_assert(sizeof(Q) == 2, "8- and 16-bit codes only");
      Pieces<Arch>::store_high_halves(reinterpret_cast<std::uint16_t*>(dst), codes << 16);
    }
  }

  template <class Q>
  static I load_codes(const Q* src) noexcept {
    if constexpr (sizeof(Q) == 1) {
      const I bytes = Pieces<Arch>::load_bytes(reinterpret_cast<const std::uint8_t*>(src));
      if constexpr (std::is_signed<Q>::value) return (bytes << 24) >> 24;  // sign-extend
      else return bytes;
    } else {
      static_assert(sizeof(Q) == 2, "8- and 16-bit codes only");
      const I high = Pieces<Arch>::load_as_high_halves(reinterpret_cast<const std::uint16_t*>(src));
      if constexpr (std::is_signed<Q>::value) return high >> 16;
      else return (high >> 16) & I(0xFFFF);
    }
  }
};

template <class Arch, class In, class Q, scale_op Op, rounding Round, bool PerElement>
void quantize_loop(const In* x, Q* y, std::size_t n, const QuantizeRun& run) noexcept {
  using V = QuantizeVectors<Arch>;
  using F = typename V::F;
  using I = typename V::I;
  constexpr std::size_t W = V::kWidth;
  const I qmin(run.qmin), qmax(run.qmax);
  // Per-element parameter arrays are empty when n == 0: read them only inside the blocks.
  F factor(PerElement ? 1.0f : run.factor[0]);
  I zero_point(PerElement ? 0 : run.zero_point[0]);
  F lo = xsimd::to_float(qmin - zero_point), hi = xsimd::to_float(qmax - zero_point);

  auto block = [&](const In* xs, Q* ys, const float* factors, const std::int32_t* zero_points) {
    if constexpr (PerElement) {
      factor = F::load_unaligned(factors);
      zero_point = I::load_unaligned(zero_points);
      lo = xsimd::to_float(qmin - zero_point);
      hi = xsimd::to_float(qmax - zero_point);
    }
    V::store_codes(ys, V::template codes<Op, Round>(V::load_input(xs), factor, lo, hi, zero_point));
  };

  std::size_t i = 0;
  for (; i + W <= n; i += W) block(x + i, y + i, run.factor + (PerElement ? i : 0), run.zero_point + (PerElement ? i : 0));
  if (i < n) {
    const std::size_t rest = n - i;
    In in[W] = {};
    Q out[W] = {};
    float factors[W];
    std::int32_t zero_points[W] = {};
    for (std::size_t k = 0; k < W; ++k) factors[k] = 1.0f;  // padding lanes: any finite, nonzero factor
    std::memcpy(in, x + i, rest * sizeof(In));
    if constexpr (PerElement) {
      std::memcpy(factors, run.factor + i, rest * sizeof(float));
      std::memcpy(zero_points, run.zero_point + i, rest * sizeof(std::int32_t));
    }
    block(in, out, factors, zero_points);
    std::memcpy(y + i, out, rest * sizeof(Q));
  }
}

template <class Arch, class Q, bool PerElement>
void dequantize_loop(const Q* q, float* x, std::size_t n, const DequantizeRun& run) noexcept {
  using V = QuantizeVectors<Arch>;
  using F = typename V::F;
  using I = typename V::I;
  constexpr std::size_t W = V::kWidth;
  F scale(PerElement ? 1.0f : run.scale[0]);
  I zero_point(PerElement ? 0 : run.zero_point[0]);

  auto block = [&](const Q* qs, float* xs, const float* scales, const std::int32_t* zero_points) {
    if constexpr (PerElement) {
      scale = F::load_unaligned(scales);
      zero_point = I::load_unaligned(zero_points);
    }
    (xsimd::to_float(V::load_codes(qs) - zero_point) * scale).store_unaligned(xs);  // |q - Z| < 2^17: exact
  };

  std::size_t i = 0;
  for (; i + W <= n; i += W) block(q + i, x + i, run.scale + (PerElement ? i : 0), run.zero_point + (PerElement ? i : 0));
  if (i < n) {
    const std::size_t rest = n - i;
    Q in[W] = {};
    float out[W] = {};
    float scales[W] = {};
    std::int32_t zero_points[W] = {};
    std::memcpy(in, q + i, rest * sizeof(Q));
    if constexpr (PerElement) {
      std::memcpy(scales, run.scale + i, rest * sizeof(float));
      std::memcpy(zero_points, run.zero_point + i, rest * sizeof(std::int32_t));
    }
    block(in, out, scales, zero_points);
    std::memcpy(x + i, out, rest * sizeof(float));
  }
}

}  // namespace detail

/// quantize (float -> Q) with the numerics in run; the spec is ref::quantize.
template <class Arch, class Q>
void quantize(const float* x, Q* y, std::size_t n, const QuantizeRun& run) noexcept {
  using detail::quantize_loop;
  const bool divide = run.numerics.op == scale_op::divide;
  const bool away = run.numerics.round == rounding::half_away;
  if (run.per_element) {
    if (divide) {
      if (away) quantize_loop<Arch, float, Q, scale_op::divide, rounding::half_away, true>(x, y, n, run);
      else quantize_loop<Arch, float, Q, scale_op::divide, rounding::half_even, true>(x, y, n, run);
    } else {
      if (away) quantize_loop<Arch, float, Q, scale_op::multiply_reciprocal, rounding::half_away, true>(x, y, n, run);
      else quantize_loop<Arch, float, Q, scale_op::multiply_reciprocal, rounding::half_even, true>(x, y, n, run);
    }
  } else {
    if (divide) {
      if (away) quantize_loop<Arch, float, Q, scale_op::divide, rounding::half_away, false>(x, y, n, run);
      else quantize_loop<Arch, float, Q, scale_op::divide, rounding::half_even, false>(x, y, n, run);
    } else {
      if (away) quantize_loop<Arch, float, Q, scale_op::multiply_reciprocal, rounding::half_away, false>(x, y, n, run);
      else quantize_loop<Arch, float, Q, scale_op::multiply_reciprocal, rounding::half_even, false>(x, y, n, run);
    }
  }
}

/// dequantize (Q -> float); the spec is ref::dequantize.
template <class Arch, class Q>
void dequantize(const Q* q, float* x, std::size_t n, const DequantizeRun& run) noexcept {
  if (run.per_element) detail::dequantize_loop<Arch, Q, true>(q, x, n, run);
  else detail::dequantize_loop<Arch, Q, false>(q, x, n, run);
}

/// requantize (int32 -> Q) with a float multiplier; the spec is ref::requantize.
template <class Arch, class Q>
void requantize(const std::int32_t* acc, Q* y, std::size_t n, const QuantizeRun& run) noexcept {
  constexpr auto kOp = scale_op::multiply_reciprocal;
  if (run.per_element) detail::quantize_loop<Arch, std::int32_t, Q, kOp, rounding::half_even, true>(acc, y, n, run);
  else detail::quantize_loop<Arch, std::int32_t, Q, kOp, rounding::half_even, false>(acc, y, n, run);
}

template <class Arch>
constexpr QuantizeKernels make_quantize_kernels(isa path) noexcept {
  return QuantizeKernels{path,
                         {&quantize<Arch, std::int8_t>, &quantize<Arch, std::uint8_t>, &quantize<Arch, std::int16_t>,
                          &quantize<Arch, std::uint16_t>},
                         {&dequantize<Arch, std::int8_t>, &dequantize<Arch, std::uint8_t>,
                          &dequantize<Arch, std::int16_t>, &dequantize<Arch, std::uint16_t>},
                         {&requantize<Arch, std::int8_t>, &requantize<Arch, std::uint8_t>,
                          &requantize<Arch, std::int16_t>, &requantize<Arch, std::uint16_t>}};
}

}  // namespace simd
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

QMATH_SIMD_WARNINGS_POP
