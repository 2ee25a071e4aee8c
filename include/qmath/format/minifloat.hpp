// SPDX-License-Identifier: Apache-2.0
// format/minifloat.hpp: the exact scalar fp32 <-> small binary float conversion every narrow float format shares
// (fp16, fp8 E5M2, fp8 E4M3FN). It is the specification the vectorized paths are tested against (format layer).
#pragma once

#include <cmath>
#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/format/bits.hpp"

// Outside the mode namespace (docs/ARCHITECTURE.md, "Mixing the modes"): the kernel tables that every mode and ISA
// unit share name this type.
namespace qmath {

/// What a float-narrowing conversion does with a finite value whose rounded magnitude exceeds the largest
/// finite value of the target, and with an infinite input.
/// - to_infinity: IEEE behaviour, the result is +-infinity; E4M3FN has no infinity, so there it is NaN
///   (ONNX Cast with saturate=0).
/// - saturate: the result is +-max finite, for overflowing finite values and for +-infinity alike
///   (ONNX Cast with saturate=1). NaN stays NaN in both modes.
enum class overflow_mode { to_infinity, saturate };
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
namespace detail {

/// A sign | ExpBits | ManBits format with bias 2^(ExpBits-1) - 1. With HasInfinity the top exponent holds
/// infinity (mantissa 0) and NaN (other mantissas), as in IEEE; without it (E4M3FN), the top exponent holds
/// normal numbers and only the all-ones mantissa is NaN.
template <int ExpBits, int ManBits, bool HasInfinity>
struct MinifloatSpec {
  static constexpr int kExpBits = ExpBits;
  static constexpr int kManBits = ManBits;
  static constexpr bool kHasInfinity = HasInfinity;
  static constexpr int kBias = (1 << (ExpBits - 1)) - 1;
  static constexpr std::uint32_t kSignBit = 1u << (ExpBits + ManBits);
  static constexpr std::uint32_t kManMask = (1u << ManBits) - 1u;
  static constexpr std::uint32_t kTopExponent = ((1u << ExpBits) - 1u) << ManBits;  // all-ones exponent field
  static constexpr std::uint32_t kQuietBit = 1u << (ManBits - 1);
  static constexpr std::uint32_t kMaxFinite = HasInfinity ? kTopExponent - 1u : (kTopExponent | kManMask) - 1u;
};

using Fp16Spec = MinifloatSpec<5, 10, true>;
using E5M2Spec = MinifloatSpec<5, 2, true>;
using E4M3FNSpec = MinifloatSpec<4, 3, false>;



/// x / 2^shift rounded to nearest, ties to even. Exact for any shift (a shift of 32 or more gives 0 because the
/// callers' x is below 2^31).
constexpr std::uint32_t shift_right_round_even(std::uint32_t x, int shift) noexcept {
  if (shift <= 0) return x;
  if (shift >= 32) return 0;
  const std::uint32_t quotient = x >> shift;
  const std::uint32_t remainder = x & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  return quotient + ((remainder > half || (remainder == half && (quotient & 1u))) ? 1u : 0u);
}

/// fp32 -> Spec, round to nearest even, subnormals kept (no flush to zero).
/// NaN: the sign is kept; IEEE-like targets keep the top ManBits of the payload and set the quiet bit (what
/// F16C `vcvtps2ph` and AArch64 `fcvtn` do); E4M3FN has one NaN per sign, S.1111.111.
template <class Spec>
inline std::uint32_t encode_minifloat(float value, overflow_mode mode) noexcept {
  const std::uint32_t bits = f32_bits(value);
  const std::uint32_t sign = (bits >> 31) ? Spec::kSignBit : 0u;
  const std::uint32_t abs = bits & 0x7fffffffu;
  const std::uint32_t nan_code =
      Spec::kHasInfinity ? (Spec::kTopExponent | Spec::kQuietBit | ((abs & 0x7fffffu) >> (23 - Spec::kManBits)))
                         : (Spec::kTopExponent | Spec::kManMask);
  if (abs > 0x7f800000u) return sign | nan_code;
  const std::uint32_t overflow_code =
      mode == overflow_mode::saturate ? Spec::kMaxFinite : (Spec::kHasInfinity ? Spec::kTopExponent : nan_code);
  if (abs == 0x7f800000u) return sign | overflow_code;

  const int exponent = static_cast<int>(abs >> 23) - 127;  // fp32 subnormals fall far below every target's range
  const int min_normal_exponent = 1 - Spec::kBias;
  std::uint32_t magnitude;
  if (exponent >= min_normal_exponent) {
    // Normal in the target: move the exponent to the target's bias and round away the extra mantissa bits.
    // A carry out of the mantissa correctly bumps the exponent field.
    const std::uint32_t rebiased = abs - (static_cast<std::uint32_t>(127 - Spec::kBias) << 23);
    magnitude = shift_right_round_even(rebiased, 23 - Spec::kManBits);
  } else {
    // Subnormal (or zero) in the target: count in units of its smallest subnormal, 2^(min_normal - ManBits).
    const std::uint32_t significand = (abs & 0x7fffffu) | 0x800000u;
    magnitude = shift_right_round_even(significand, 23 - Spec::kManBits + (min_normal_exponent - exponent));
  }
  if (magnitude > Spec::kMaxFinite) magnitude = overflow_code;
  return sign | magnitude;
}

/// Spec -> fp32, exact for every code. NaN: sign kept; IEEE-like sources keep the payload and set the quiet bit
/// (as F16C `vcvtph2ps` does); E4M3FN NaN becomes the canonical quiet NaN +-0x7fc00000.
template <class Spec>
inline float decode_minifloat(std::uint32_t code) noexcept {
  const std::uint32_t sign = (code & Spec::kSignBit) ? 0x80000000u : 0u;
  const std::uint32_t exponent = (code & Spec::kTopExponent) >> Spec::kManBits;
  const std::uint32_t mantissa = code & Spec::kManMask;
  const std::uint32_t top = Spec::kTopExponent >> Spec::kManBits;
  if (Spec::kHasInfinity && exponent == top) {
    const std::uint32_t payload = mantissa ? (0x400000u | (mantissa << (23 - Spec::kManBits))) : 0u;
    return f32_from_bits(sign | 0x7f800000u | payload);
  }
  if (!Spec::kHasInfinity && exponent == top && mantissa == Spec::kManMask) return f32_from_bits(sign | 0x7fc00000u);
  const float magnitude =
      exponent == 0 ? std::ldexp(static_cast<float>(mantissa), 1 - Spec::kBias - Spec::kManBits)
                    : std::ldexp(static_cast<float>(mantissa | (1u << Spec::kManBits)),
                                 static_cast<int>(exponent) - Spec::kBias - Spec::kManBits);
  return f32_from_bits(sign | f32_bits(magnitude));
}

}  // namespace detail
QMATH_END_NAMESPACE  // qmath
