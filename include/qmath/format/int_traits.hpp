// SPDX-License-Identifier: Apache-2.0
// format/int_traits.hpp: the integer code types quantization writes, with their ranges and storage (formats layer).
//
// Code types: std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t (bias), and the 4-bit tags
// qmath::int4 / qmath::uint4, stored packed two per byte in ONNX order: element 2k in the low nibble of byte k,
// element 2k+1 in the high nibble; an odd count leaves the last high nibble 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qmath/core/config.hpp"

QMATH_BEGIN_NAMESPACE

/// Signed 4-bit code, [-8, 7], packed two per byte (tag type: never instantiated).
struct int4 {};
/// Unsigned 4-bit code, [0, 15], packed two per byte (tag type: never instantiated).
struct uint4 {};

template <class Q>
struct int_traits;  // defined for the code types only

namespace detail {
template <class Q, class Storage, std::int64_t Min, std::int64_t Max, int Bits, bool Packed>
struct int_traits_base {
  using storage = Storage;  ///< what a buffer of codes holds
  static constexpr std::int64_t kMin = Min;
  static constexpr std::int64_t kMax = Max;
  static constexpr int kBits = Bits;
  static constexpr bool kPacked = Packed;  ///< two codes per storage byte
  static constexpr bool kSigned = Min < 0;
  /// Storage elements needed for n codes.
  static constexpr std::size_t storage_size(std::size_t n) noexcept { return Packed ? (n + 1) / 2 : n; }
};
}  // namespace detail

template <>
struct int_traits<std::int8_t> : detail::int_traits_base<std::int8_t, std::int8_t, -128, 127, 8, false> {
  static constexpr const char* kName = "int8";
};
template <>
struct int_traits<std::uint8_t> : detail::int_traits_base<std::uint8_t, std::uint8_t, 0, 255, 8, false> {
  static constexpr const char* kName = "uint8";
};
template <>
struct int_traits<std::int16_t> : detail::int_traits_base<std::int16_t, std::int16_t, -32768, 32767, 16, false> {
  static constexpr const char* kName = "int16";
};
template <>
struct int_traits<std::uint16_t> : detail::int_traits_base<std::uint16_t, std::uint16_t, 0, 65535, 16, false> {
  static constexpr const char* kName = "uint16";
};
template <>
struct int_traits<std::int32_t>
    : detail::int_traits_base<std::int32_t, std::int32_t, -2147483647 - 1, 2147483647, 32, false> {
  static constexpr const char* kName = "int32";
};
template <>
struct int_traits<int4> : detail::int_traits_base<int4, std::uint8_t, -8, 7, 4, true> {
  static constexpr const char* kName = "int4";
};
template <>
struct int_traits<uint4> : detail::int_traits_base<uint4, std::uint8_t, 0, 15, 4, true> {
  static constexpr const char* kName = "uint4";
};

/// True for the types quantization can write.
template <class Q, class = void>
struct is_code_type : std::false_type {};
template <class Q>
struct is_code_type<Q, std::void_t<decltype(int_traits<Q>::kMin)>> : std::true_type {};

namespace detail {
/// Reads code i of a packed 4-bit buffer, sign-extended for int4.
template <class Q>
constexpr std::int32_t load_nibble(const std::uint8_t* bytes, std::size_t i) noexcept {
  const unsigned nibble = (i % 2 == 0) ? (bytes[i / 2] & 0x0Fu) : (bytes[i / 2] >> 4);
  if constexpr (int_traits<Q>::kSigned) return static_cast<std::int32_t>(nibble ^ 8u) - 8;
  else return static_cast<std::int32_t>(nibble);
}
/// Writes code i (already in range) of a packed 4-bit buffer, leaving the other nibble of its byte alone.
inline void store_nibble(std::uint8_t* bytes, std::size_t i, std::int32_t code) noexcept {
  const unsigned nibble = static_cast<unsigned>(code) & 0x0Fu;
  std::uint8_t& byte = bytes[i / 2];
  byte = static_cast<std::uint8_t>(i % 2 == 0 ? (byte & 0xF0u) | nibble : (byte & 0x0Fu) | (nibble << 4));
}
}  // namespace detail

QMATH_END_NAMESPACE  // qmath
