// SPDX-License-Identifier: Apache-2.0
// kernels/ref/gemm_u8s8.hpp: the int8 GEMM and its output stages, scalar: the specification of every vector path
// (kernels layer).
//
// C[m][n] = sum_{k < K} (A[m][k] - za[m]) * (B[k][n] - zb[n])                      exact in int32 (see below)
// A is uint8 or int8, B int8 (uint8 B is stored as B - 128 with zb - 128, which leaves every term unchanged).
// Output stages, per element, with v = C[m][n] + bias[n] computed modulo 2^32 (as gemmlowp and TFLite do):
//   int32:             v = C (no bias)
//   requantize:        q = clamp(round_half_even(float(v) * M[n]), lo - zo, hi - zo) + zo, clamped in float
//                      before the conversion; float(v) rounds to nearest even beyond 2^24 (kernels/ref/quantize.hpp)
//   requantize_fixed:  q = clamp(multiply_by_quantized_multiplier(v, M[n], shift[n]) + zo, lo, hi)
//                      (TFLite MultiplyByQuantizedMultiplier, kernels/ref/fixed_point.hpp; the sum in int64)
//   dequantize:        y = fma(float(C), a_scale[m] * b_scale[n], bias_f32[n]): the product of the scales rounds
//                      once to float, then one fused multiply-add. Every path fuses, so the result is bit-exact.
// Exactness bound: every term is at most da * db in magnitude, da = max |a - za|, db = max |b - zb|, so C fits
// in int32 when K * da * db <= INT32_MAX; the API layer rejects larger K (33025 when da = db = 255). Partial sums
// inside the kernels may wrap: the arithmetic is modulo 2^32 and the final value is in range, so it is exact.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qmath/core/config.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/ref/fixed_point.hpp"
#include "qmath/kernels/ref/quantize.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace ref {

/// min and max for the kernels' index arithmetic: std::min / std::max instantiated in an ISA unit would be weak
/// symbols shared with every other unit (tests/isa/leak_check.cmake); these are in the unit's own namespace.
template <class T>
constexpr T min_of(T a, T b) noexcept {
  return b < a ? b : a;
}
template <class T>
constexpr T max_of(T a, T b) noexcept {
  return a < b ? b : a;
}

/// a + b modulo 2^32 (no signed overflow).
constexpr std::int32_t wrapping_add(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
constexpr std::int32_t wrapping_sub(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) - static_cast<std::uint32_t>(b));
}
constexpr std::int32_t wrapping_mul(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
}

/// Float-multiplier requantization of one accumulator (bias already added).
inline std::int32_t requantize_float(std::int32_t v, float multiplier, std::int32_t out_zero_point,
                                     std::int32_t out_min, std::int32_t out_max) noexcept {
  constexpr Numerics kMultiplyHalfEven{scale_op::multiply_reciprocal, rounding::half_even};
  return quantize_value(static_cast<float>(v), multiplier, out_zero_point, out_min, out_max, kMultiplyHalfEven);
}

/// Fixed-point requantization of one accumulator (bias already added). A template on a tag for the same reason as
/// kernels/ref/fixed_point.hpp: the vector epilogues call their own copy.
template <class Tag = void>
std::int32_t requantize_fixed(std::int32_t v, std::int32_t multiplier, int shift, std::int32_t out_zero_point,
                                     std::int32_t out_min, std::int32_t out_max) noexcept {
  const std::int64_t q = static_cast<std::int64_t>(multiply_by_quantized_multiplier<Tag>(v, multiplier, shift)) +
                         out_zero_point;
  return static_cast<std::int32_t>(q < out_min ? out_min : (q > out_max ? out_max : q));
}

/// Dequantization of one accumulator.
inline float dequantize_accumulator(std::int32_t c, float a_scale, float b_scale, float bias) noexcept {
  return std::fma(static_cast<float>(c), a_scale * b_scale, bias);
}

/// Applies p's output stage to the exact C value of element (m, n) and stores it.
inline void store_output(const GemmProblem& p, std::ptrdiff_t m, std::ptrdiff_t n, std::int32_t c) noexcept {
  const std::ptrdiff_t at = m * p.ldc + n;
  switch (p.output) {
    case gemm_output::int32: static_cast<std::int32_t*>(p.c)[at] = c; break;
    case gemm_output::requantize_s8:
    case gemm_output::requantize_u8: {
      const std::int32_t q = requantize_float(wrapping_add(c, p.bias_i32[n]), p.multiplier[n], p.out_zero_point,
                                              p.out_min, p.out_max);
      if (p.output == gemm_output::requantize_s8) static_cast<std::int8_t*>(p.c)[at] = static_cast<std::int8_t>(q);
      else static_cast<std::uint8_t*>(p.c)[at] = static_cast<std::uint8_t>(q);
      break;
    }
    case gemm_output::requantize_fixed_s8:
    case gemm_output::requantize_fixed_u8: {
      const std::int32_t q = requantize_fixed(wrapping_add(c, p.bias_i32[n]), p.fixed_multiplier[n],
                                              p.fixed_shift[n], p.out_zero_point, p.out_min, p.out_max);
      if (p.output == gemm_output::requantize_fixed_s8) static_cast<std::int8_t*>(p.c)[at] = static_cast<std::int8_t>(q);
      else static_cast<std::uint8_t*>(p.c)[at] = static_cast<std::uint8_t>(q);
      break;
    }
    case gemm_output::dequantize_f32:
      static_cast<float*>(p.c)[at] = dequantize_accumulator(c, p.a_scale[m], p.b_scale[n], p.bias_f32[n]);
      break;
  }
}

/// C from the stored-A sum of products of one element: the zero-point correction shared by every path,
///   C = acc - za'[m] * (colsum[n] - K * zb[n]) - zb[n] * rowsum[m]        (mod 2^32)
inline std::int32_t correct_zero_points(const GemmProblem& p, std::ptrdiff_t m, std::ptrdiff_t n,
                                        std::int32_t acc) noexcept {
  return wrapping_sub(wrapping_sub(acc, wrapping_mul(p.a_zero_points[m], p.b_col_terms[n])),
                      wrapping_mul(p.b_zero_points[n], p.a_row_sums[m]));
}

/// The scalar path's kernel over its packed layout (kScalarGemmLayout: mr = nr = kr = 1, int16 A, int8 B).
inline void gemm_compute_scalar(const GemmProblem& p, std::ptrdiff_t m_begin, std::ptrdiff_t m_end,
                                std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept {
  if (m_end > p.m) m_end = p.m;
  if (n_end > p.n) n_end = p.n;
  const auto* a_base = static_cast<const unsigned char*>(p.a_packed);
  const auto* b_base = static_cast<const unsigned char*>(p.b_packed);
  for (std::ptrdiff_t m = m_begin; m < m_end; ++m) {
    const auto* a = reinterpret_cast<const std::int16_t*>(a_base + m * p.a_panel_bytes);
    for (std::ptrdiff_t n = n_begin; n < n_end; ++n) {
      const auto* b = reinterpret_cast<const std::int8_t*>(b_base + n * p.b_panel_bytes);
      std::int32_t acc = 0;
      for (std::ptrdiff_t k = 0; k < p.k; ++k) acc = wrapping_add(acc, static_cast<std::int32_t>(a[k]) * b[k]);
      store_output(p, m, n, correct_zero_points(p, m, n, acc));
    }
  }
}

inline constexpr GemmLayout kScalarGemmLayout{1, 1, 1, 2, true, 1, 0, 0};

/// The specification on unpacked operands: A(m, k) = a[m * lda + k]; B(k, n) = b[k * b_row_stride + n *
/// b_col_stride]; za has 1 or M entries (za_per_row), zb 1 or N (zb_per_column). C is computed in int64 and
/// stored as int32 (exact under the bound above). TB is int8_t or uint8_t.
template <class TA, class TB>
void gemm_u8s8_i32(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const TA* a, std::ptrdiff_t lda,
                   const std::int32_t* za, bool za_per_row, const TB* b, std::ptrdiff_t b_row_stride,
                   std::ptrdiff_t b_col_stride, const std::int32_t* zb, bool zb_per_column, std::int32_t* c,
                   std::ptrdiff_t ldc) noexcept {
  for (std::ptrdiff_t i = 0; i < m; ++i) {
    const std::int64_t a_zero = za[za_per_row ? i : 0];
    for (std::ptrdiff_t j = 0; j < n; ++j) {
      const std::int64_t b_zero = zb[zb_per_column ? j : 0];
      std::int64_t sum = 0;
      for (std::ptrdiff_t p = 0; p < k; ++p)
        sum += (a[i * lda + p] - a_zero) * (b[p * b_row_stride + j * b_col_stride] - b_zero);
      c[i * ldc + j] = static_cast<std::int32_t>(sum);
    }
  }
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
