// SPDX-License-Identifier: Apache-2.0
// kernels/x86/pack_a.hpp: the A packer's inner loop for four rows at a time on x86 (kernels layer).
//
// Every x86 layout stores 4 bytes per row and group of kr: four uint8 (vpdpbusd, kr = 4) or two int16 (vpmaddwd,
// kr = 2). Packing is then a transposition of 32-bit words: four rows x four groups in, four groups x four rows out,
// two unpack levels on xmm registers (SSE2, which every x86 path has). xsimd 8.1 has no such shuffle. Bit-exact
// with kernels/ref/pack.hpp's word loop, which packs whatever this leaves (the last groups, rows past a multiple
// of four).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmath/core/config.hpp"

#if QMATH_ARCH_X86_64
#include <emmintrin.h>
#endif

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace x86 {

#if QMATH_ARCH_X86_64
/// Packs groups [0, 4 * floor(groups / 4)) of four rows (src[r]: each row's first value) into their slots
/// (dst: the first row's slot of group 0; groups mr * 4 bytes apart, rows 4 bytes apart). Bytes == 1: uint8 words,
/// flipped by `flip` (0 or 0x80 per byte); Bytes == 2: int16 pairs from uint8 or int8 values (Signed). Adds each
/// row's sum of stored values to sums[r] (mod 2^32). Returns the number of groups packed.
template <class Tag, int Bytes, bool Signed>
std::ptrdiff_t pack_a_quad(const unsigned char* const (&src)[4], std::ptrdiff_t groups, std::ptrdiff_t mr,
                           unsigned flip, unsigned char* dst, std::uint32_t (&sums)[4]) noexcept {
  const __m128i flip_bytes = _mm_set1_epi32(static_cast<int>(flip * 0x01010101u));
  const __m128i zero = _mm_setzero_si128(), ones = _mm_set1_epi16(1);
  __m128i acc[4] = {zero, zero, zero, zero};
  const std::ptrdiff_t stride = mr * 4;
  std::ptrdiff_t g = 0;
  for (; g + 4 <= groups; g += 4) {
    __m128i w[4];
    for (int r = 0; r < 4; ++r) {
      if constexpr (Bytes == 1) {
        w[r] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src[r] + g * 4)), flip_bytes);
        acc[r] = _mm_add_epi64(acc[r], _mm_sad_epu8(w[r], zero));
      } else {
        const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src[r] + g * 2));
        w[r] = Signed ? _mm_srai_epi16(_mm_unpacklo_epi8(bytes, bytes), 8) : _mm_unpacklo_epi8(bytes, zero);
        acc[r] = _mm_add_epi32(acc[r], _mm_madd_epi16(w[r], ones));
      }
    }
    const __m128i t0 = _mm_unpacklo_epi32(w[0], w[1]), t1 = _mm_unpacklo_epi32(w[2], w[3]);
    const __m128i t2 = _mm_unpackhi_epi32(w[0], w[1]), t3 = _mm_unpackhi_epi32(w[2], w[3]);
    unsigned char* out = dst + g * stride;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi64(t0, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + stride), _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * stride), _mm_unpacklo_epi64(t2, t3));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 3 * stride), _mm_unpackhi_epi64(t2, t3));
  }
  for (int r = 0; r < 4; ++r) {
    alignas(16) std::uint32_t lanes[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), acc[r]);
    // Bytes == 1: two 64-bit byte sums (each < 2^32 for any K the GEMM accepts); Bytes == 2: four int32 sums.
    sums[r] += Bytes == 1 ? lanes[0] + lanes[2] : lanes[0] + lanes[1] + lanes[2] + lanes[3];
  }
  return g;
}
#endif

}  // namespace x86
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
