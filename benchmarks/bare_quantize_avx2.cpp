// SPDX-License-Identifier: Apache-2.0
// benchmarks/bare_quantize_avx2.cpp: bare AVX2 int8 quantize / dequantize loops on ymm, compiled with the avx2 flags
// (no Eigen). Quantize works on 32 floats at a time so that two packs and one permute narrow four vectors into one
// 32-byte store; tails go through a zero-padded stack block, as qmath's kernel does.
#include <immintrin.h>

#include <cstring>

#include "bare_quantize.hpp"

namespace qmath_bench {

namespace {

constexpr std::size_t kLanes = 8;
constexpr std::size_t kBlock = 4 * kLanes;

// The per-lane arithmetic of qmath's kernel, in the same order.
template <bool Divide>
inline __m256i codes(__m256 x, __m256 factor, __m256 lo, __m256 hi, __m256i zero_point) noexcept {
  x = _mm256_and_ps(x, _mm256_cmp_ps(x, x, _CMP_ORD_Q));  // NaN -> 0
  const __m256 y = Divide ? _mm256_div_ps(x, factor) : _mm256_mul_ps(x, factor);
  const __m256 r = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half to even
  const __m256 clamped = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
  return _mm256_add_epi32(_mm256_cvttps_epi32(clamped), zero_point);
}

inline __m256 bound(__m256i q, __m256i zero_point) noexcept {
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(q, zero_point));
}

// Four int32 vectors whose lanes all lie in [-128, 127] -> 32 bytes in order. The packs work within 128-bit halves,
// leaving dwords a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7; the permute puts them back.
inline void store_32_codes(std::int8_t* y, __m256i a, __m256i b, __m256i c, __m256i d) noexcept {
  const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), ordered);
}

template <bool Divide>
inline void block_broadcast(const float* x, std::int8_t* y, __m256 factor, __m256 lo, __m256 hi, __m256i z) noexcept {
  store_32_codes(y, codes<Divide>(_mm256_loadu_ps(x), factor, lo, hi, z),
                 codes<Divide>(_mm256_loadu_ps(x + 8), factor, lo, hi, z),
                 codes<Divide>(_mm256_loadu_ps(x + 16), factor, lo, hi, z),
                 codes<Divide>(_mm256_loadu_ps(x + 24), factor, lo, hi, z));
}

template <bool Divide>
void quantize_broadcast(const float* x, std::int8_t* y, std::size_t n, const BareQuantizeScalarParams& p) noexcept {
  const __m256 factor = _mm256_set1_ps(p.factor);
  const __m256i z = _mm256_set1_epi32(p.zero_point);
  const __m256 lo = bound(_mm256_set1_epi32(p.qmin), z), hi = bound(_mm256_set1_epi32(p.qmax), z);
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) block_broadcast<Divide>(x + i, y + i, factor, lo, hi, z);
  if (i < n) {
    const std::size_t rest = n - i;
    float in[kBlock] = {};
    std::int8_t out[kBlock];
    std::memcpy(in, x + i, rest * sizeof(float));
    block_broadcast<Divide>(in, out, factor, lo, hi, z);
    std::memcpy(y + i, out, rest);
  }
}

inline __m256i codes_each(const float* x, const float* factors, const std::int32_t* zero_points, __m256i qmin,
                          __m256i qmax) noexcept {
  const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zero_points));
  return codes<false>(_mm256_loadu_ps(x), _mm256_loadu_ps(factors), bound(qmin, z), bound(qmax, z), z);
}

inline void block_each(const float* x, std::int8_t* y, const float* f, const std::int32_t* z, __m256i qmin,
                       __m256i qmax) noexcept {
  store_32_codes(y, codes_each(x, f, z, qmin, qmax), codes_each(x + 8, f + 8, z + 8, qmin, qmax),
                 codes_each(x + 16, f + 16, z + 16, qmin, qmax), codes_each(x + 24, f + 24, z + 24, qmin, qmax));
}

inline __m256 dequantize8(const std::int8_t* q, __m256i z, __m256 s) noexcept {
  const __m256i codes32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(codes32, z)), s);
}

}  // namespace

void bare_quantize_s8_avx2(const float* x, std::int8_t* y, std::size_t n, const BareQuantizeScalarParams& p) noexcept {
  if (p.divide) quantize_broadcast<true>(x, y, n, p);
  else quantize_broadcast<false>(x, y, n, p);
}

void bare_quantize_s8_each_avx2(const float* x, std::int8_t* y, std::size_t n, const float* factors,
                                const std::int32_t* zero_points, std::int32_t qmin, std::int32_t qmax) noexcept {
  const __m256i qmin_v = _mm256_set1_epi32(qmin), qmax_v = _mm256_set1_epi32(qmax);
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) block_each(x + i, y + i, factors + i, zero_points + i, qmin_v, qmax_v);
  if (i < n) {
    const std::size_t rest = n - i;
    float in[kBlock] = {};
    float f[kBlock];
    std::int32_t z[kBlock] = {};
    std::int8_t out[kBlock];
    for (float& one : f) one = 1.0f;  // padding lanes: any finite factor
    std::memcpy(in, x + i, rest * sizeof(float));
    std::memcpy(f, factors + i, rest * sizeof(float));
    std::memcpy(z, zero_points + i, rest * sizeof(std::int32_t));
    block_each(in, out, f, z, qmin_v, qmax_v);
    std::memcpy(y + i, out, rest);
  }
}

void bare_dequantize_s8_avx2(const std::int8_t* q, float* x, std::size_t n, float scale,
                             std::int32_t zero_point) noexcept {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zero_point);
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock)
    for (std::size_t k = 0; k < kBlock; k += kLanes) _mm256_storeu_ps(x + i + k, dequantize8(q + i + k, z, s));
  for (; i < n; i += kLanes) {
    const std::size_t rest = n - i < kLanes ? n - i : kLanes;
    std::int8_t in[kLanes] = {};
    float out[kLanes];
    std::memcpy(in, q + i, rest);
    _mm256_storeu_ps(out, dequantize8(in, z, s));
    std::memcpy(x + i, out, rest * sizeof(float));
  }
}

void bare_dequantize_s8_each_avx2(const std::int8_t* q, float* x, std::size_t n, const float* scales,
                                  const std::int32_t* zero_points) noexcept {
  auto eight = [](const std::int8_t* qs, const float* ss, const std::int32_t* zs) {
    return dequantize8(qs, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zs)), _mm256_loadu_ps(ss));
  };
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock)
    for (std::size_t k = 0; k < kBlock; k += kLanes)
      _mm256_storeu_ps(x + i + k, eight(q + i + k, scales + i + k, zero_points + i + k));
  for (; i < n; i += kLanes) {
    const std::size_t rest = n - i < kLanes ? n - i : kLanes;
    std::int8_t in[kLanes] = {};
    float s[kLanes] = {};
    std::int32_t z[kLanes] = {};
    float out[kLanes];
    std::memcpy(in, q + i, rest);
    std::memcpy(s, scales + i, rest * sizeof(float));
    std::memcpy(z, zero_points + i, rest * sizeof(std::int32_t));
    _mm256_storeu_ps(out, eight(in, s, z));
    std::memcpy(x + i, out, rest * sizeof(float));
  }
}

}  // namespace qmath_bench
