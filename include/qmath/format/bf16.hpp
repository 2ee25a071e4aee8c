// SPDX-License-Identifier: Apache-2.0
// format/bf16.hpp: bfloat16 scalar conversions, exact (format layer).
#pragma once

#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/minifloat.hpp"

// Outside the mode namespace (docs/ARCHITECTURE.md, "Mixing the modes"): the kernel tables that every mode and ISA
// unit share name this type.
namespace qmath {
/// How fp32 -> bf16 drops the low 16 mantissa bits: nearest_even (the default, IEEE) or truncate (toward zero,
/// what some older hardware and code paths do; cheaper and biased).
enum class bf16_rounding { nearest_even, truncate };
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
/// fp32 -> bf16 bits (1 | 8 | 7, the high half of an fp32). Subnormals are rounded like every other value
/// (never flushed, unlike `vcvtneps2bf16`). Overflow of a rounded finite value gives +-inf, or +-max finite
/// (0x7f7f) with overflow_mode::saturate, which also maps +-inf there. NaN keeps its sign and top 7 payload bits
/// with the quiet bit (0x0040) set, in both rounding modes (plain truncation could turn a NaN into infinity).
inline std::uint16_t f32_to_bf16_bits(float value, bf16_rounding rounding = bf16_rounding::nearest_even,
                                      overflow_mode mode = overflow_mode::to_infinity) noexcept {
  const std::uint32_t bits = f32_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry moves into the exponent as it should.
  const std::uint32_t rounded =
      rounding == bf16_rounding::nearest_even ? (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16 : bits >> 16;
  if (mode == overflow_mode::saturate && (rounded & 0x7fffu) == 0x7f80u)
    return static_cast<std::uint16_t>((rounded & 0x8000u) | 0x7f7fu);
  return static_cast<std::uint16_t>(rounded);
}

/// bf16 bits -> fp32: the exact widening (the bits become the high half). NaN payloads, signalling ones
/// included, are kept as they are.
inline float bf16_bits_to_f32(std::uint16_t bits) noexcept {
  return f32_from_bits(static_cast<std::uint32_t>(bits) << 16);
}

QMATH_END_NAMESPACE  // qmath
