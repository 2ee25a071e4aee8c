// SPDX-License-Identifier: Apache-2.0
// benchmarks/bare.hpp: bare hardware-conversion loops (the speed of light), defined in ISA-flagged units.
//
// Each unit is compiled with its ISA's flags and exists only when CMake added it (QMATH_BENCH_BARE_* below).
// Callers must check at run time that the CPU has the ISA before calling.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmath_bench {

#if defined(QMATH_BENCH_BARE_AVX2)
// bare_avx2.cpp: F16C on ymm (8 lanes).
void bare_f32_to_f16_f16c(const float* src, std::uint16_t* dst, std::size_t n) noexcept;
void bare_f16_to_f32_f16c(const std::uint16_t* src, float* dst, std::size_t n) noexcept;
#endif

#if defined(QMATH_BENCH_BARE_AVX512)
// bare_avx512.cpp: AVX-512F on zmm (16 lanes); bf16 -> f32 is a zero-extend and a shift.
void bare_f32_to_f16_avx512(const float* src, std::uint16_t* dst, std::size_t n) noexcept;
void bare_f16_to_f32_avx512(const std::uint16_t* src, float* dst, std::size_t n) noexcept;
void bare_bf16_to_f32_avx512(const std::uint16_t* src, float* dst, std::size_t n) noexcept;
#endif

#if defined(QMATH_BENCH_BARE_AVX512BF16)
// bare_avx512bf16.cpp: vcvtneps2bf16 on zmm (16 lanes).
void bare_f32_to_bf16_avx512bf16(const float* src, std::uint16_t* dst, std::size_t n) noexcept;
#endif

}  // namespace qmath_bench
