// SPDX-License-Identifier: Apache-2.0
// format/fp8.hpp: OCP / ONNX 8-bit floats E4M3FN and E5M2, scalar conversions, exact (format layer).
#pragma once

#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/format/minifloat.hpp"

// Outside the mode namespace (docs/ARCHITECTURE.md, "Mixing the modes"): the kernel tables that every mode and ISA
// unit share name this type.
namespace qmath {
/// The 8-bit float formats of the OCP FP8 specification (and ONNX's FLOAT8E4M3FN / FLOAT8E5M2):
/// - e4m3fn: 1 | 4 | 3, bias 7, no infinity, NaN = S.1111.111, max finite 448, min subnormal 2^-9;
/// - e5m2:   1 | 5 | 2, bias 15, IEEE-like (+-inf, NaNs), max finite 57344, min subnormal 2^-16.
enum class fp8_format { e4m3fn, e5m2 };
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
/// fp32 -> E4M3FN, round to nearest even. Default overflow_mode::saturate (ONNX's default): overflow and +-inf
/// give +-448 (0x7e / 0xfe). With to_infinity (ONNX saturate=0) they give NaN. NaN gives S.1111.111.
inline std::uint8_t f32_to_e4m3fn(float value, overflow_mode mode = overflow_mode::saturate) noexcept {
  return static_cast<std::uint8_t>(detail::encode_minifloat<detail::E4M3FNSpec>(value, mode));
}

/// fp32 -> E5M2, round to nearest even (computed directly from fp32: no double rounding through fp16).
/// Default overflow_mode::saturate: overflow and +-inf give +-57344 (0x7b / 0xfb); with to_infinity they give
/// +-inf. NaN keeps its sign and top 2 payload bits with the quiet bit set (0x7fc00000 -> 0x7e).
inline std::uint8_t f32_to_e5m2(float value, overflow_mode mode = overflow_mode::saturate) noexcept {
  return static_cast<std::uint8_t>(detail::encode_minifloat<detail::E5M2Spec>(value, mode));
}

/// E4M3FN -> fp32, exact; NaN becomes +-0x7fc00000.
inline float e4m3fn_to_f32(std::uint8_t code) noexcept { return detail::decode_minifloat<detail::E4M3FNSpec>(code); }

/// E5M2 -> fp32, exact; identical to decoding the fp16 whose high byte is `code`.
inline float e5m2_to_f32(std::uint8_t code) noexcept { return detail::decode_minifloat<detail::E5M2Spec>(code); }

inline std::uint8_t f32_to_fp8(float value, fp8_format format, overflow_mode mode = overflow_mode::saturate) noexcept {
  return format == fp8_format::e4m3fn ? f32_to_e4m3fn(value, mode) : f32_to_e5m2(value, mode);
}
inline float fp8_to_f32(std::uint8_t code, fp8_format format) noexcept {
  return format == fp8_format::e4m3fn ? e4m3fn_to_f32(code) : e5m2_to_f32(code);
}

QMATH_END_NAMESPACE  // qmath
