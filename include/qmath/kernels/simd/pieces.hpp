// SPDX-License-Identifier: Apache-2.0
// kernels/simd/pieces.hpp: what the vector bodies need beyond xsimd 8.1, per architecture family (kernels layer).
// Its own header so that the conversion, quantize and GEMM bodies each include only their own code.
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/simd/gcc_warnings.hpp"

#include "qmath/kernels/arm/arch.hpp"
#include "qmath/kernels/arm/float_ops.hpp"
#include "qmath/kernels/arm/narrow.hpp"
#include "qmath/kernels/x86/arch.hpp"
#include "qmath/kernels/x86/narrow.hpp"

QMATH_SIMD_WARNINGS_PUSH

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace simd {

namespace detail {

/// The ISA pieces a conversion body needs, per architecture family; empty where qmath has none.
template <class Arch, class Enable = void>
struct Pieces {
  static constexpr bool available = false;
  static constexpr bool can_stream = false;
};

#if (XSIMD_WITH_AVX2 && defined(__F16C__)) || XSIMD_WITH_AVX512BW
template <class Arch>
struct Pieces<Arch, std::enable_if_t<x86::is_avx2_family<Arch>::value || x86::is_avx512_family<Arch>::value>> {
  using I = xsimd::batch<std::int32_t, Arch>;
  using F = xsimd::batch<float, Arch>;
  static constexpr bool available = true;
  // Non-temporal stores of one batch's output; dst aligned to that output's size (F::size * element size).
  static constexpr bool can_stream = true;
  static void stream_as_f16(std::uint16_t* dst, F v) noexcept { x86::stream_store<Arch>(dst, x86::to_f16<Arch>(v)); }
  static void stream_high_halves(std::uint16_t* dst, I v) noexcept {
    x86::stream_store<Arch>(dst, x86::high_halves<Arch>(v));
  }
  static void stream_f32(float* dst, F v) noexcept {
    x86::stream_store<Arch>(dst, xsimd::bitwise_cast<I>(v).data);
  }
  static void stream_fence() noexcept { _mm_sfence(); }
  static void store_as_f16(std::uint16_t* dst, F v) noexcept { x86::store_as_f16<Arch>(dst, v); }
  static F load_f16(const std::uint16_t* src) noexcept { return x86::load_f16<Arch>(src); }
  static void store_high_halves(std::uint16_t* dst, I v) noexcept { x86::store_high_halves<Arch>(dst, v); }
  static I load_as_high_halves(const std::uint16_t* src) noexcept { return x86::load_as_high_halves<Arch>(src); }
  static void store_low_bytes(std::uint8_t* dst, I v) noexcept { x86::store_low_bytes<Arch>(dst, v); }
  static I load_bytes(const std::uint8_t* src) noexcept { return x86::load_bytes<Arch>(src); }
  static I select(xsimd::batch_bool<std::int32_t, Arch> cond, I a, I b) noexcept {
    return x86::select_lanes<Arch>(cond, a, b);
  }
  // Counts must be in [0, 31].
  static I shift_left_lanes(I v, I count) noexcept { return x86::shift_left_lanes<Arch>(v, count); }
  static I shift_right_lanes(I v, I count) noexcept { return x86::shift_right_lanes<Arch>(v, count); }
  // xsimd's x86 float division and rounding are the IEEE instructions (rounding mode as an immediate).
  static F divide(F a, F b) noexcept { return a / b; }
  static F round_half_even(F v) noexcept { return xsimd::nearbyint(v); }
  static F truncate(F v) noexcept { return xsimd::trunc(v); }
};
#endif

#if XSIMD_WITH_NEON64
template <class Arch>
struct Pieces<Arch, std::enable_if_t<arm::is_neon64_family<Arch>::value>> {
  using I = xsimd::batch<std::int32_t, Arch>;
  using F = xsimd::batch<float, Arch>;
  static constexpr bool available = true;
  static constexpr bool can_stream = false;
  static void store_as_f16(std::uint16_t* dst, F v) noexcept { arm::store_as_f16<Arch>(dst, v); }
  static F load_f16(const std::uint16_t* src) noexcept { return arm::load_f16<Arch>(src); }
  static void store_high_halves(std::uint16_t* dst, I v) noexcept { arm::store_high_halves<Arch>(dst, v); }
  static I load_as_high_halves(const std::uint16_t* src) noexcept { return arm::load_as_high_halves<Arch>(src); }
  static void store_low_bytes(std::uint8_t* dst, I v) noexcept { arm::store_low_bytes<Arch>(dst, v); }
  static I load_bytes(const std::uint8_t* src) noexcept { return arm::load_bytes<Arch>(src); }
  static I select(xsimd::batch_bool<std::int32_t, Arch> cond, I a, I b) noexcept { return xsimd::select(cond, a, b); }
  static I shift_left_lanes(I v, I count) noexcept { return v << count; }   // `sshl`, counts in [0, 31]
  static I shift_right_lanes(I v, I count) noexcept { return v >> count; }
  static F divide(F a, F b) noexcept { return arm::divide<Arch>(a, b); }
  static F round_half_even(F v) noexcept { return arm::round_half_even<Arch>(v); }
  static F truncate(F v) noexcept { return arm::truncate<Arch>(v); }
};
#endif

}  // namespace detail

/// Whether qmath has vector pieces for Arch (AVX2+F16C, AVX-512BW, AArch64 NEON).
template <class Arch>
struct has_convert_body : std::integral_constant<bool, detail::Pieces<Arch>::available> {};

}  // namespace simd
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

QMATH_SIMD_WARNINGS_POP
