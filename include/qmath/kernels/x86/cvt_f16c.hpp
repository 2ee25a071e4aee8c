// SPDX-License-Identifier: Apache-2.0
// kernels/x86/cvt_f16c.hpp: fp32 <-> fp16 with F16C (ymm) and AVX-512F (zmm), which xsimd 8.1 lacks (kernels layer).
// `vcvtps2ph` with an immediate rounding of "nearest even" (MXCSR is not consulted) returns exactly what
// ref::convert_f32_to_f16 does in overflow_mode::to_infinity: subnormals kept, NaN payload truncated with the
// quiet bit set. `vcvtph2ps` is exact and quiets signalling NaNs, as f16_bits_to_f32 does.
// Pieces are templates on Arch so that each ISA translation unit owns its own copy (no ODR mixing).
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if XSIMD_WITH_AVX2 || XSIMD_WITH_AVX512F
#include <immintrin.h>
#endif

#include "qmath/core/config.hpp"
#include "qmath/kernels/x86/arch.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace x86 {

#if XSIMD_WITH_AVX2 && defined(__F16C__)
/// 8 x fp32 -> 8 x fp16 codes (16 bytes).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline __m128i to_f16(xsimd::batch<float, Arch> v) noexcept {
  return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline void store_as_f16(std::uint16_t* dst, xsimd::batch<float, Arch> v) noexcept {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), to_f16<Arch>(v));
}
/// 8 x fp16 codes at src (16 bytes) -> 8 x fp32.
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> load_f16(const std::uint16_t* src) noexcept {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
}
#endif

#if XSIMD_WITH_AVX512BW
/// 16 x fp32 -> 16 x fp16 codes (32 bytes).
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline __m256i to_f16(xsimd::batch<float, Arch> v) noexcept {
  return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline void store_as_f16(std::uint16_t* dst, xsimd::batch<float, Arch> v) noexcept {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), to_f16<Arch>(v));
}
/// 16 x fp16 codes at src (32 bytes) -> 16 x fp32.
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> load_f16(const std::uint16_t* src) noexcept {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
}
#endif

}  // namespace x86
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
