// SPDX-License-Identifier: Apache-2.0
// benchmarks/bare_quantize_avx512.cpp: bare AVX-512 int8 quantize / dequantize loops on zmm, compiled with the
// avx512bw flags (no Eigen). Four vectors per iteration so the loop is not bound by one dependency chain.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized in every inlined caller (GCC bug 105593): a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "bare_quantize.hpp"

namespace qmath_bench {

namespace {

constexpr std::size_t kLanes = 16;
constexpr std::size_t kUnroll = 4;

// Lanes [0, rest) set: tails use masked loads and stores instead of a scalar loop.
inline __mmask16 tail_mask(std::size_t rest) noexcept { return static_cast<__mmask16>((1u << rest) - 1u); }

// The per-lane arithmetic of qmath's kernel, in the same order.
template <bool Divide>
inline __m512i codes(__m512 x, __m512 factor, __m512 lo, __m512 hi, __m512i zero_point) noexcept {
  x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), x);  // NaN -> 0
  const __m512 y = Divide ? _mm512_div_ps(x, factor) : _mm512_mul_ps(x, factor);
  const __m512 r = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half to even
  const __m512 clamped = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
  return _mm512_add_epi32(_mm512_cvttps_epi32(clamped), zero_point);
}

// [qmin - Z, qmax - Z] in float, exact for any 8-bit range.
inline __m512 low_bound(__m512i qmin, __m512i zero_point) noexcept {
  return _mm512_cvtepi32_ps(_mm512_sub_epi32(qmin, zero_point));
}

template <bool Divide>
void quantize_broadcast(const float* x, std::int8_t* y, std::size_t n, const BareQuantizeScalarParams& p) noexcept {
  const __m512 factor = _mm512_set1_ps(p.factor);
  const __m512i zero_point = _mm512_set1_epi32(p.zero_point);
  const __m512 lo = low_bound(_mm512_set1_epi32(p.qmin), zero_point);
  const __m512 hi = low_bound(_mm512_set1_epi32(p.qmax), zero_point);
  std::size_t i = 0;
  for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes)
    for (std::size_t k = 0; k < kUnroll; ++k) {
      const std::size_t at = i + k * kLanes;
      const __m512i c = codes<Divide>(_mm512_loadu_ps(x + at), factor, lo, hi, zero_point);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + at), _mm512_cvtepi32_epi8(c));
    }
  for (; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i < kLanes ? n - i : kLanes);
    const __m512i c = codes<Divide>(_mm512_maskz_loadu_ps(m, x + i), factor, lo, hi, zero_point);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, m, c);
  }
}

}  // namespace

void bare_quantize_s8_avx512(const float* x, std::int8_t* y, std::size_t n,
                             const BareQuantizeScalarParams& p) noexcept {
  if (p.divide) quantize_broadcast<true>(x, y, n, p);
  else quantize_broadcast<false>(x, y, n, p);
}

void bare_quantize_s8_each_avx512(const float* x, std::int8_t* y, std::size_t n, const float* factors,
                                  const std::int32_t* zero_points, std::int32_t qmin, std::int32_t qmax) noexcept {
  const __m512i qmin_v = _mm512_set1_epi32(qmin), qmax_v = _mm512_set1_epi32(qmax);
  auto one = [&](std::size_t at, __mmask16 m) {
    const __m512i zero_point = _mm512_maskz_loadu_epi32(m, zero_points + at);
    const __m512 factor = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, factors + at);  // padding: finite factor
    const __m512i c = codes<false>(_mm512_maskz_loadu_ps(m, x + at), factor, low_bound(qmin_v, zero_point),
                                   low_bound(qmax_v, zero_point), zero_point);
    _mm512_mask_cvtepi32_storeu_epi8(y + at, m, c);
  };
  std::size_t i = 0;
  for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes)
    for (std::size_t k = 0; k < kUnroll; ++k) {
      const std::size_t at = i + k * kLanes;
      const __m512i zero_point = _mm512_loadu_si512(zero_points + at);
      const __m512i c = codes<false>(_mm512_loadu_ps(x + at), _mm512_loadu_ps(factors + at),
                                     low_bound(qmin_v, zero_point), low_bound(qmax_v, zero_point), zero_point);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + at), _mm512_cvtepi32_epi8(c));
    }
  for (; i < n; i += kLanes) one(i, tail_mask(n - i < kLanes ? n - i : kLanes));
}

void bare_dequantize_s8_avx512(const std::int8_t* q, float* x, std::size_t n, float scale,
                               std::int32_t zero_point) noexcept {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i z = _mm512_set1_epi32(zero_point);
  std::size_t i = 0;
  for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes)
    for (std::size_t k = 0; k < kUnroll; ++k) {
      const std::size_t at = i + k * kLanes;
      const __m512i codes32 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + at)));
      _mm512_storeu_ps(x + at, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(codes32, z)), s));
    }
  for (; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i < kLanes ? n - i : kLanes);
    const __m512i codes32 = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, q + i));
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(codes32, z)), s));
  }
}

void bare_dequantize_s8_each_avx512(const std::int8_t* q, float* x, std::size_t n, const float* scales,
                                    const std::int32_t* zero_points) noexcept {
  std::size_t i = 0;
  for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes)
    for (std::size_t k = 0; k < kUnroll; ++k) {
      const std::size_t at = i + k * kLanes;
      const __m512i codes32 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + at)));
      const __m512i centred = _mm512_sub_epi32(codes32, _mm512_loadu_si512(zero_points + at));
      _mm512_storeu_ps(x + at, _mm512_mul_ps(_mm512_cvtepi32_ps(centred), _mm512_loadu_ps(scales + at)));
    }
  for (; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i < kLanes ? n - i : kLanes);
    const __m512i codes32 = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, q + i));
    const __m512i centred = _mm512_sub_epi32(codes32, _mm512_maskz_loadu_epi32(m, zero_points + i));
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(centred), _mm512_maskz_loadu_ps(m, scales + i)));
  }
}

}  // namespace qmath_bench
