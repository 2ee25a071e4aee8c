// SPDX-License-Identifier: Apache-2.0
// format/bits.hpp: bit casts and the sign | exponent | mantissa layout of each floating-point format (format layer).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "qmath/core/config.hpp"

QMATH_BEGIN_NAMESPACE

/// Field widths and exponent bias of a binary floating-point format. The encoding is IEEE-754 style:
/// value = (-1)^sign * 2^(exponent - bias) * 1.mantissa for a non-zero exponent field, and
/// (-1)^sign * 2^(1 - bias) * 0.mantissa (subnormal) for a zero one.
struct FloatLayout {
  const char* name;
  int exponent_bits;
  int mantissa_bits;
  int bias;
};

inline constexpr FloatLayout kFloat32Layout{"fp32", 8, 23, 127};
inline constexpr FloatLayout kFloat16Layout{"fp16", 5, 10, 15};
inline constexpr FloatLayout kBFloat16Layout{"bf16", 8, 7, 127};
inline constexpr FloatLayout kE4M3FNLayout{"fp8_e4m3fn", 4, 3, 7};
inline constexpr FloatLayout kE5M2Layout{"fp8_e5m2", 5, 2, 15};

/// The three fields of an encoded value, right-aligned.
struct BitFields {
  std::uint32_t sign;
  std::uint32_t exponent;
  std::uint32_t mantissa;
};



constexpr int total_bits(const FloatLayout& layout) noexcept { return 1 + layout.exponent_bits + layout.mantissa_bits; }

/// std::bit_cast for C++17: same-size trivially copyable types.
template <class To, class From>
inline To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs types of equal size");
  static_assert(std::is_trivially_copyable<To>::value && std::is_trivially_copyable<From>::value,
                "bit_cast needs trivially copyable types");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

inline std::uint32_t f32_bits(float value) noexcept { return bit_cast<std::uint32_t>(value); }
inline float f32_from_bits(std::uint32_t bits) noexcept { return bit_cast<float>(bits); }

/// Splits the low `total_bits(layout)` bits of `code` into sign, exponent and mantissa fields.
inline BitFields split_bits(std::uint32_t code, const FloatLayout& layout) noexcept {
  const std::uint32_t mantissa_mask = (1u << layout.mantissa_bits) - 1u;
  const std::uint32_t exponent_mask = (1u << layout.exponent_bits) - 1u;
  return BitFields{(code >> (layout.exponent_bits + layout.mantissa_bits)) & 1u,
                   (code >> layout.mantissa_bits) & exponent_mask, code & mantissa_mask};
}

/// The code as "sign|exponent|mantissa" in binary, most significant bit first, e.g. 6.25f in fp32 is
/// "0|10000001|10010000000000000000000" and in fp16 "0|10001|1001000000".
inline std::string bit_string(std::uint32_t code, const FloatLayout& layout) {
  std::string text;
  const int total = total_bits(layout);
  for (int bit = total - 1; bit >= 0; --bit) {
    text += ((code >> bit) & 1u) ? '1' : '0';
    if (bit == total - 1 || bit == layout.mantissa_bits) text += '|';
  }
  return text;
}

/// Two's complement bits of an integer code, most significant first: int8 123 is "01111011", -1 is "11111111".
template <class Int>
inline std::string integer_bit_string(Int value) {
  static_assert(std::is_integral<Int>::value, "integer_bit_string needs an integer type");
  using Unsigned = typename std::make_unsigned<Int>::type;
  const Unsigned bits = static_cast<Unsigned>(value);
  std::string text;
  for (int bit = static_cast<int>(sizeof(Int) * 8) - 1; bit >= 0; --bit) text += ((bits >> bit) & 1u) ? '1' : '0';
  return text;
}

QMATH_END_NAMESPACE  // qmath
