// SPDX-License-Identifier: Apache-2.0
// tests/support/independent_formats.hpp: a second, independent formulation of the narrow-float conversions,
// written in double arithmetic (frexp / ldexp / nearbyint) rather than the reference's integer bit shifts,
// to check the scalar reference itself.
#pragma once

#include <cfenv>
#include <cmath>
#include <cstdint>

namespace qmath_test {

struct IndependentFormat {
  int exponent_bits;
  int mantissa_bits;
  bool has_infinity;   // IEEE-like top exponent; false for E4M3FN
  double max_finite;   // 65504, 57344, 448, or bf16's 3.3895313892515355e38
};

inline constexpr IndependentFormat kIndependentF16{5, 10, true, 65504.0};
inline constexpr IndependentFormat kIndependentBf16{8, 7, true, 3.3895313892515355e38};
inline constexpr IndependentFormat kIndependentE5M2{5, 2, true, 57344.0};
inline constexpr IndependentFormat kIndependentE4M3FN{4, 3, false, 448.0};

/// Encodes a finite, non-NaN x: the nearest representable value by round-half-even in double, then its fields.
/// Returns the code; `overflowed` reports a rounded magnitude above max_finite (the caller decides the code).
inline std::uint32_t independent_encode(float x, const IndependentFormat& f, bool& overflowed) {
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const int min_exponent = 1 - bias;  // exponent of the smallest normal
  const std::uint32_t sign = std::signbit(x) ? 1u << (f.exponent_bits + f.mantissa_bits) : 0u;
  const double a = std::fabs(static_cast<double>(x));
  overflowed = false;
  if (a == 0.0) return sign;
  int e2 = 0;
  std::frexp(a, &e2);                                   // a = m * 2^e2, m in [0.5, 1): unbiased exponent e2 - 1
  const int quantum_exponent = std::max(e2 - 1, min_exponent) - f.mantissa_bits;
  const double steps = std::nearbyint(std::ldexp(a, -quantum_exponent));  // ties to even (default FE mode)
  const double value = std::ldexp(steps, quantum_exponent);
  if (value > f.max_finite) {
    overflowed = true;
    return sign;
  }
  if (value < std::ldexp(1.0, min_exponent)) return sign | static_cast<std::uint32_t>(steps);  // subnormal or zero
  int ev = 0;
  std::frexp(value, &ev);
  const int exponent = ev - 1;
  const double fraction = std::ldexp(value, -exponent) - 1.0;  // in [0, 1)
  const auto mantissa = static_cast<std::uint32_t>(std::ldexp(fraction, f.mantissa_bits));
  return sign | (static_cast<std::uint32_t>(exponent + bias) << f.mantissa_bits) | mantissa;
}

/// Decodes a non-NaN, non-infinite code as a double with pow(2, .).
inline double independent_decode(std::uint32_t code, const IndependentFormat& f) {
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const std::uint32_t mantissa = code & ((1u << f.mantissa_bits) - 1u);
  const std::uint32_t exponent = (code >> f.mantissa_bits) & ((1u << f.exponent_bits) - 1u);
  const bool negative = (code >> (f.exponent_bits + f.mantissa_bits)) & 1u;
  const double fraction = static_cast<double>(mantissa) / std::pow(2.0, f.mantissa_bits);
  const double magnitude = exponent == 0 ? fraction * std::pow(2.0, 1 - bias)
                                         : (1.0 + fraction) * std::pow(2.0, static_cast<int>(exponent) - bias);
  return negative ? -magnitude : magnitude;
}

}  // namespace qmath_test
