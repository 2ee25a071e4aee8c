// SPDX-License-Identifier: Apache-2.0
// kernels/x86/dot_int8.hpp: the int8 GEMM's inner products on x86, which xsimd 8.1 lacks (kernels layer).
//
// Two instruction ideas, each with its arch tag and packed layout:
// - `vpmaddwd` (AVX2 ymm, AVX-512BW zmm): int32 lane j += a0 * b[j][0] + a1 * b[j][1], int16 operands. A is packed
//   as int16; B stays int8 in memory (half the bytes of a pre-widened B, which matters when the weights stream
//   from DRAM, M = 1) and is sign-extended by `vpmovsxbw` as it is loaded. Every product (|a| <= 255, |b| <= 128)
//   and every pair sum (<= 65280) is exact. The saturating `vpmaddubsw` (u8 x s8 pairs into int16:
//   255 * 127 * 2 = 64770 > 32767) is never used.
// - `vpdpbusd` (AVX-512 VNNI zmm, AVX-VNNI ymm): int32 lane j += sum_{i<4} a_u8[i] * b_s8[j][i], no intermediate
//   saturation (the non-"s" form). int8 A is stored as a + 128 (uint8), its zero point moved by the same 128.
// The VNNI arch tags are in x86/arch.hpp.
#pragma once

#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/x86/arch.hpp"
#include "qmath/kernels/x86/cvt_f16c.hpp"

#if XSIMD_WITH_AVX2 || XSIMD_WITH_AVX512F
#include <immintrin.h>
#endif

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace x86 {

/// The four bytes at p (any alignment) in every int32 lane.
template <class Arch>
inline xsimd::batch<std::int32_t, Arch> broadcast_word(const void* p) noexcept {
  std::int32_t word;
  std::memcpy(&word, p, sizeof(word));
  return xsimd::batch<std::int32_t, Arch>(word);
}

#if XSIMD_WITH_AVX2
/// 16 int8 at p sign-extended to 16 int16 (ymm): the int16 operand of madd_i16, read from int8 weights so that B
/// costs one byte per value in memory and cache.
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_widen_i8(const std::int8_t* p) noexcept {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
/// lane j: acc[j] + a.i16[2j] * b.i16[2j] + a.i16[2j+1] * b.i16[2j+1] (ymm; exact for the int16 operands above).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> madd_i16(xsimd::batch<std::int32_t, Arch> acc, xsimd::batch<std::int32_t, Arch> a,
                                                 xsimd::batch<std::int32_t, Arch> b) noexcept {
  return acc + xsimd::batch<std::int32_t, Arch>(_mm256_madd_epi16(a, b));
}
/// 8 codes at p (exactly 8 bytes read) widened to the int32 lanes of a ymm: the depthwise kernel's input.
template <class Arch, bool Signed, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_codes_i32(const unsigned char* p) noexcept {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return Signed ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}
#endif
#if XSIMD_WITH_AVX512BW
/// 16 codes at p widened to the int32 lanes of a zmm.
template <class Arch, bool Signed, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_codes_i32(const unsigned char* p) noexcept {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return Signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}
/// 32 int8 at p sign-extended to 32 int16 (zmm).
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_widen_i8(const std::int8_t* p) noexcept {
  return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
/// The same on zmm.
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> madd_i16(xsimd::batch<std::int32_t, Arch> acc, xsimd::batch<std::int32_t, Arch> a,
                                                 xsimd::batch<std::int32_t, Arch> b) noexcept {
  return acc + xsimd::batch<std::int32_t, Arch>(_mm512_madd_epi16(a, b));
}
#endif
#if XSIMD_WITH_AVX2
/// lane j: floor((a[j] * b[j] + 2^30) / 2^31), the 64-bit product rounded to its high half, ties up: gemmlowp's
/// SaturatingRoundingDoublingHighMul for b >= 0 (its one saturating case needs b = INT32_MIN). Even lanes keep
/// the result in the low half of a 64-bit lane (shift right by 31), odd lanes in the high half (shift left by 1).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> rounding_high_mul(xsimd::batch<std::int32_t, Arch> a,
                                                          xsimd::batch<std::int32_t, Arch> b) noexcept {
  const __m256i nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, b), nudge);
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)), nudge);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
}
/// lane j: a[j] >> count[j], arithmetic (counts in [0, 31]).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_right_arithmetic(xsimd::batch<std::int32_t, Arch> a,
                                                               xsimd::batch<std::int32_t, Arch> count) noexcept {
  return _mm256_srav_epi32(a, count);
}
#endif
#if XSIMD_WITH_AVX512BW
/// The same two on zmm.
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> rounding_high_mul(xsimd::batch<std::int32_t, Arch> a,
                                                          xsimd::batch<std::int32_t, Arch> b) noexcept {
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(a, b), nudge);
  const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32)), nudge);
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 31), _mm512_slli_epi64(odd, 1));
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_right_arithmetic(xsimd::batch<std::int32_t, Arch> a,
                                                               xsimd::batch<std::int32_t, Arch> count) noexcept {
  return _mm512_srav_epi32(a, count);
}
#endif
#if XSIMD_WITH_AVX512BW
/// a * b + c with one rounding (`vfmadd231ps` zmm). xsimd 8.1 has no AVX-512 fma: its fallback is a * b + c, which
/// only a compiler that contracts across statements (GCC's -ffp-contract=fast, not clang) fuses.
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> fused_multiply_add(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b,
                                                    xsimd::batch<float, Arch> c) noexcept {
  return _mm512_fmadd_ps(a, b, c);
}
#endif
#if defined(QMATH_HAVE_AVX512VNNI_ARCH)
/// lane j: acc[j] + sum_{i<4} a.u8[4j+i] * b.s8[4j+i] (zmm, wraps modulo 2^32, never saturates).
template <class Arch, std::enable_if_t<std::is_same<Arch, avx512vnni>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> dot_u8s8(xsimd::batch<std::int32_t, Arch> acc, xsimd::batch<std::int32_t, Arch> a,
                                                 xsimd::batch<std::int32_t, Arch> b) noexcept {
  return _mm512_dpbusd_epi32(acc, a, b);
}
#endif
#if defined(QMATH_HAVE_AVXVNNI_ARCH)
/// The same on ymm (AVX-VNNI).
template <class Arch, std::enable_if_t<std::is_same<Arch, avxvnni>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> dot_u8s8(xsimd::batch<std::int32_t, Arch> acc, xsimd::batch<std::int32_t, Arch> a,
                                                 xsimd::batch<std::int32_t, Arch> b) noexcept {
  return _mm256_dpbusd_avx_epi32(acc, a, b);
}
#endif

}  // namespace x86
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
