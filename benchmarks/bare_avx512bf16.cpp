// SPDX-License-Identifier: Apache-2.0
// benchmarks/bare_avx512bf16.cpp: bare vcvtneps2bf16 loop on zmm, compiled with the avx512bf16 flags (no Eigen).
#include <immintrin.h>

#include <cstring>

#include "bare.hpp"

namespace qmath_bench {

namespace {
// __m256bh has no store intrinsic of its own; memcpy reinterprets it without aliasing trouble and compiles to
// one vmovdqu.
inline void store_bh(std::uint16_t* dst, __m256bh h) noexcept { std::memcpy(dst, &h, sizeof h); }
}  // namespace

void bare_f32_to_bf16_avx512bf16(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) store_bh(dst + i, _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
  if (i < n) {  // tail: masked load, then a masked store of the converted lanes
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    __m256i bits;
    const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
    std::memcpy(&bits, &h, sizeof bits);
    _mm256_mask_storeu_epi16(dst + i, m, bits);
  }
}

}  // namespace qmath_bench
