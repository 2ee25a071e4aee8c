// SPDX-License-Identifier: Apache-2.0
// format/fp16.hpp: IEEE binary16 (fp16) scalar conversions, exact (format layer).
#pragma once

#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/format/minifloat.hpp"

QMATH_BEGIN_NAMESPACE

/// fp32 -> fp16 bits (1 | 5 | 10, bias 15), rounded to nearest even. Subnormals are produced, never flushed.
/// Overflow (a rounded magnitude above 65504, i.e. |x| >= 65520) gives +-inf, or +-65504 (0x7bff) with
/// overflow_mode::saturate, which also maps +-inf to +-65504. NaN keeps its sign and the top 10 payload bits,
/// with the quiet bit (0x0200) set: exactly what F16C `vcvtps2ph` returns.
inline std::uint16_t f32_to_f16_bits(float value, overflow_mode mode = overflow_mode::to_infinity) noexcept {
  return static_cast<std::uint16_t>(detail::encode_minifloat<detail::Fp16Spec>(value, mode));
}

/// fp16 bits -> fp32, exact. NaN keeps sign and payload, and the quiet bit is set (as `vcvtph2ps` does).
inline float f16_bits_to_f32(std::uint16_t bits) noexcept { return detail::decode_minifloat<detail::Fp16Spec>(bits); }

QMATH_END_NAMESPACE  // qmath
