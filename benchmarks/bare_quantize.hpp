// SPDX-License-Identifier: Apache-2.0
// benchmarks/bare_quantize.hpp: bare int8 quantize / dequantize intrinsics loops (the speed of light), defined in
// ISA-flagged units.
//
// Same per-lane arithmetic as qmath's kernel (kernels/simd/quantize.hpp), so their codes must match it bit for
// bit: NaN -> 0, y = x * factor (or x / factor), round half to even, clamp in float to [qmin - Z, qmax - Z],
// convert to int32, add Z, narrow; dequantize is float(q - Z) * S. Each unit exists only when CMake added it
// (QMATH_BENCH_BARE_QUANTIZE_*); callers must check at run time that the CPU has the ISA before calling.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmath_bench {

/// One (factor, zero point) for the whole call: factor is 1/S when divide is false (PyTorch), S when true (ONNX).
struct BareQuantizeScalarParams {
  float factor;
  std::int32_t zero_point;
  std::int32_t qmin, qmax;
  bool divide;
};

#if defined(QMATH_BENCH_BARE_QUANTIZE_AVX2)
// bare_quantize_avx2.cpp: ymm (8 lanes), 4 vectors per iteration narrowed with packs + permute.
void bare_quantize_s8_avx2(const float* x, std::int8_t* y, std::size_t n, const BareQuantizeScalarParams& p) noexcept;
// Per-element parameters (factors[i] = 1/S, multiply), as qmath runs per_channel on the innermost axis.
void bare_quantize_s8_each_avx2(const float* x, std::int8_t* y, std::size_t n, const float* factors,
                                const std::int32_t* zero_points, std::int32_t qmin, std::int32_t qmax) noexcept;
void bare_dequantize_s8_avx2(const std::int8_t* q, float* x, std::size_t n, float scale,
                             std::int32_t zero_point) noexcept;
void bare_dequantize_s8_each_avx2(const std::int8_t* q, float* x, std::size_t n, const float* scales,
                                  const std::int32_t* zero_points) noexcept;
#endif

#if defined(QMATH_BENCH_BARE_QUANTIZE_AVX512)
// bare_quantize_avx512.cpp: zmm (16 lanes), vpmovdb narrowing, masked tails.
void bare_quantize_s8_avx512(const float* x, std::int8_t* y, std::size_t n, const BareQuantizeScalarParams& p) noexcept;
void bare_quantize_s8_each_avx512(const float* x, std::int8_t* y, std::size_t n, const float* factors,
                                  const std::int32_t* zero_points, std::int32_t qmin, std::int32_t qmax) noexcept;
void bare_dequantize_s8_avx512(const std::int8_t* q, float* x, std::size_t n, float scale,
                               std::int32_t zero_point) noexcept;
void bare_dequantize_s8_each_avx512(const std::int8_t* q, float* x, std::size_t n, const float* scales,
                                    const std::int32_t* zero_points) noexcept;
#endif

}  // namespace qmath_bench
