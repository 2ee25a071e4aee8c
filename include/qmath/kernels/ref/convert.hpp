// SPDX-License-Identifier: Apache-2.0
// kernels/ref/convert.hpp: scalar bulk float-format conversions, the specification of every vector path
// (kernels layer). Each loop applies the exact scalar conversion of qmath/format/ element by element, so the
// rounding, overflow and NaN rules are the ones documented there. Preconditions: src and dst hold n elements
// and do not overlap. n == 0 does nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace ref {

inline void convert_f32_to_f16(const float* src, std::uint16_t* dst, std::size_t n, overflow_mode mode) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_f16_bits(src[i], mode);
}

inline void convert_f16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f16_bits_to_f32(src[i]);
}

inline void convert_f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bf16_rounding rounding,
                                overflow_mode mode) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16_bits(src[i], rounding, mode);
}

inline void convert_bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_f32(src[i]);
}

inline void convert_f32_to_fp8(const float* src, std::uint8_t* dst, std::size_t n, fp8_format format,
                               overflow_mode mode) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_fp8(src[i], format, mode);
}

inline void convert_fp8_to_f32(const std::uint8_t* src, float* dst, std::size_t n, fp8_format format) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = fp8_to_f32(src[i], format);
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
