// SPDX-License-Identifier: Apache-2.0
// kernels/x86/narrow.hpp: widening loads and narrowing stores between 32-bit lanes and 16/8-bit memory, which
// xsimd 8.1 lacks (its batch_cast is same-width and load_as is a scalar copy) (kernels layer).
// Lane diagrams are for one batch of W = batch<int32_t, Arch>::size lanes, lane 0 first.
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/x86/cvt_f16c.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace x86 {

#if XSIMD_WITH_AVX2
/// dst[i] = uint16(v[i] >> 16), i < 8. Packs the high halves: shuffle within 128-bit lanes, then join lanes.
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline __m128i high_halves(xsimd::batch<std::int32_t, Arch> v) noexcept {
  const __m256i pick = _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, pick), 0x08));
}
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline void store_high_halves(std::uint16_t* dst, xsimd::batch<std::int32_t, Arch> v) noexcept {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), high_halves<Arch>(v));
}
/// result[i] = int32(src[i]) << 16, i < 8.
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_as_high_halves(const std::uint16_t* src) noexcept {
  return _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))), 16);
}
/// dst[i] = uint8(v[i]), i < 8; lanes must hold 0..255.
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline void store_low_bytes(std::uint8_t* dst, xsimd::batch<std::int32_t, Arch> v) noexcept {
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick), _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(packed));
}
/// result[i] = int32(src[i]), i < 8 (zero-extended).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_bytes(const std::uint8_t* src) noexcept {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
}
/// cond ? a : b per lane; xsimd's select is fine here (see the AVX-512 twin for why that one is a piece).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> select_lanes(xsimd::batch_bool<std::int32_t, Arch> cond,
                                                     xsimd::batch<std::int32_t, Arch> a,
                                                     xsimd::batch<std::int32_t, Arch> b) noexcept {
  return xsimd::select(cond, a, b);
}
/// Per-lane shifts by per-lane counts (`vpsllvd` / `vpsrlvd`).
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_left_lanes(xsimd::batch<std::int32_t, Arch> v,
                                                         xsimd::batch<std::int32_t, Arch> count) noexcept {
  return _mm256_sllv_epi32(v, count);
}
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_right_lanes(xsimd::batch<std::int32_t, Arch> v,
                                                          xsimd::batch<std::int32_t, Arch> count) noexcept {
  return _mm256_srlv_epi32(v, count);
}
#endif

/// Non-temporal store of one vector register: `dst` must be aligned to the register's size. Used for outputs far
/// larger than the last-level cache, where skipping the read-for-ownership of the destination saves a third of
/// the memory traffic of a narrowing conversion. Call `_mm_sfence()` after the last one.
#if XSIMD_WITH_AVX2
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value || is_avx512_family<Arch>::value, int> = 0>
inline void stream_store(void* dst, __m128i v) noexcept {
  _mm_stream_si128(static_cast<__m128i*>(dst), v);
}
template <class Arch, std::enable_if_t<is_avx2_family<Arch>::value || is_avx512_family<Arch>::value, int> = 0>
inline void stream_store(void* dst, __m256i v) noexcept {
  _mm256_stream_si256(static_cast<__m256i*>(dst), v);
}
#endif
#if XSIMD_WITH_AVX512BW
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline void stream_store(void* dst, __m512i v) noexcept {
  _mm512_stream_si512(static_cast<__m512i*>(dst), v);
}
#endif

#if XSIMD_WITH_AVX512BW
/// dst[i] = uint16(v[i] >> 16), i < 16 (`vpmovdw` truncates each lane to its low half).
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline __m256i high_halves(xsimd::batch<std::int32_t, Arch> v) noexcept {
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16));
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline void store_high_halves(std::uint16_t* dst, xsimd::batch<std::int32_t, Arch> v) noexcept {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), high_halves<Arch>(v));
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_as_high_halves(const std::uint16_t* src) noexcept {
  return _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src))), 16);
}
/// dst[i] = uint8(v[i]), i < 16 (`vpmovdb`); lanes must hold 0..255.
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline void store_low_bytes(std::uint8_t* dst, xsimd::batch<std::int32_t, Arch> v) noexcept {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(v));
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_bytes(const std::uint8_t* src) noexcept {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
}
/// cond ? a : b per lane (`vpblendmd`). xsimd 8.1's AVX-512 select on int batches does not compile with g++ at -O0
/// (GCC's AVX-512 intrinsics are macros without __OPTIMIZE__ and xsimd's code for other lane widths then fails).
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> select_lanes(xsimd::batch_bool<std::int32_t, Arch> cond,
                                                     xsimd::batch<std::int32_t, Arch> a,
                                                     xsimd::batch<std::int32_t, Arch> b) noexcept {
  return _mm512_mask_blend_epi32(cond.data, b, a);
}
/// Per-lane shifts by per-lane counts (`vpsllvd` / `vpsrlvd`): xsimd 8.1 has no batch-by-batch shift for AVX-512 and
/// falls back to a scalar loop.
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_left_lanes(xsimd::batch<std::int32_t, Arch> v,
                                                         xsimd::batch<std::int32_t, Arch> count) noexcept {
  return _mm512_sllv_epi32(v, count);
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_right_lanes(xsimd::batch<std::int32_t, Arch> v,
                                                          xsimd::batch<std::int32_t, Arch> count) noexcept {
  return _mm512_srlv_epi32(v, count);
}
#endif

}  // namespace x86
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
