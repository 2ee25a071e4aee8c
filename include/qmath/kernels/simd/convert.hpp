// SPDX-License-Identifier: Apache-2.0
// kernels/simd/convert.hpp: vectorized bulk float-format conversions, one xsimd body per conversion templated on
// Arch, bit-exact with kernels/ref/convert.hpp (kernels layer).
//
// Arch is an xsimd architecture tag. `has_convert_body<Arch>` says whether qmath has vector pieces for it
// (AVX2+F16C, AVX-512BW, AArch64 NEON); the bodies must only be instantiated when it is true.
// Tails: the last n % W elements are copied into a zero-filled stack block, converted as a whole batch and
// copied back, so user buffers are never over-read or over-written, and the tail runs the same instructions as
// the body (which also keeps ISA translation units from pulling in non-template scalar code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/simd/gcc_warnings.hpp"

#include "qmath/format/bf16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/format/minifloat.hpp"
#include "qmath/kernels/convert_table.hpp"
#include "qmath/kernels/simd/pieces.hpp"

QMATH_SIMD_WARNINGS_PUSH

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace simd {

namespace detail {

/// Runs block(src + i, dst + i) over whole blocks of W elements, then once more on a zero-padded copy of the tail.
template <std::size_t W, class In, class Out, class Block>
inline void for_each_block(const In* src, Out* dst, std::size_t n, Block&& block) noexcept {
  std::size_t i = 0;
  for (; i + W <= n; i += W) block(src + i, dst + i);
  if (i < n) {
    In in[W] = {};
    Out out[W] = {};
    std::memcpy(in, src + i, (n - i) * sizeof(In));
    block(static_cast<const In*>(in), static_cast<Out*>(out));
    std::memcpy(dst + i, out, (n - i) * sizeof(Out));
  }
}

/// Outputs at least this large (bytes) are written with non-temporal stores where the ISA has them: such arrays
/// do not fit in the last-level cache, so caching the destination only costs bandwidth (the read for ownership).
/// Below it, ordinary stores keep the result in cache for whoever reads it next.
constexpr std::size_t kStreamingThresholdBytes = std::size_t{8} << 20;

/// for_each_block, but large outputs go through `stream_block` (non-temporal stores to an aligned dst) for the
/// aligned middle part; the unaligned head and the tail use `block`.
template <class Arch, std::size_t W, class In, class Out, class Block, class StreamBlock>
inline void for_each_block_streaming(const In* src, Out* dst, std::size_t n, Block&& block,
                                     StreamBlock&& stream_block) noexcept {
  constexpr std::size_t kAlign = W * sizeof(Out);
  const auto address = reinterpret_cast<std::uintptr_t>(dst);
  if (!Pieces<Arch>::can_stream || n * sizeof(Out) < kStreamingThresholdBytes || address % sizeof(Out) != 0) {
    for_each_block<W>(src, dst, n, block);
    return;
  }
  if constexpr (Pieces<Arch>::can_stream) {
    const std::size_t head = ((kAlign - address % kAlign) % kAlign) / sizeof(Out);
    for_each_block<W>(src, dst, head, block);
    std::size_t i = head;
    for (; i + W <= n; i += W) stream_block(src + i, dst + i);
    Pieces<Arch>::stream_fence();
    for_each_block<W>(src + i, dst + i, n - i, block);
  }
}

/// |x| clamped to `limit` (positive, finite) with the sign kept; NaN passes through. Done in integer lanes:
/// xsimd's copysign/abs reach Arch-independent constant templates that ISA translation units must not share
/// (docs/ARCHITECTURE.md, ODR rule).
template <class Arch>
inline xsimd::batch<float, Arch> clamp_magnitude(xsimd::batch<float, Arch> x, float limit) noexcept {
  using F = xsimd::batch<float, Arch>;
  using I = xsimd::batch<std::int32_t, Arch>;
  const I bits = xsimd::bitwise_cast<I>(x);
  const I abs = bits & I(0x7fffffff);
  const I limit_bits = xsimd::bitwise_cast<I>(F(limit));
  const auto too_large = (abs > limit_bits) & (abs <= I(0x7f800000));  // NaN magnitudes are above 0x7f800000
  const I clamped = (bits & I(static_cast<std::int32_t>(0x80000000u))) | limit_bits;
  return xsimd::bitwise_cast<F>(Pieces<Arch>::select(too_large, clamped, bits));
}

/// Vector form of detail::encode_minifloat<Spec> (format/minifloat.hpp): the same integer steps lane by lane,
/// with a per-lane shift for target subnormals. Returns the codes in the low bits of each int32 lane.
template <class Spec, class Arch>
inline xsimd::batch<std::int32_t, Arch> encode_minifloat(xsimd::batch<float, Arch> x, overflow_mode mode) noexcept {
  using I = xsimd::batch<std::int32_t, Arch>;
  const I bits = xsimd::bitwise_cast<xsimd::batch<std::int32_t, Arch>>(x);
  const I abs = bits & I(0x7fffffff);
  const I sign = Pieces<Arch>::select(bits < I(0), I(static_cast<std::int32_t>(Spec::kSignBit)), I(0));
  constexpr int kDrop = 23 - Spec::kManBits;
  constexpr int kMinNormalExponent = 1 - Spec::kBias;

  // Normal results: rebias and round to nearest even by adding half - 1 plus the lowest kept bit.
  const I rebiased = abs - I((127 - Spec::kBias) << 23);
  const I normal = (rebiased + I((1 << (kDrop - 1)) - 1) + ((rebiased >> kDrop) & I(1))) >> kDrop;
  // Subnormal results: the significand shifted by kDrop + (min normal exponent - exponent), clamped to [1, 31]
  // (a shift of 31 of a value below 2^24 rounds to 0, as every larger shift would; lanes whose count would be
  // below 1 are normal and take the other branch, the clamp only keeps the shifts defined).
  using P = Pieces<Arch>;
  const I exponent = (abs >> 23) - I(127);
  const I shift = xsimd::max(xsimd::min(I(kDrop + kMinNormalExponent) - exponent, I(31)), I(1));
  const I significand = (abs & I(0x7fffff)) | I(0x800000);
  const I half_minus_one = P::shift_left_lanes(I(1), shift - I(1)) - I(1);
  const I subnormal =
      P::shift_right_lanes(significand + half_minus_one + (P::shift_right_lanes(significand, shift) & I(1)), shift);
  I magnitude = Pieces<Arch>::select(exponent >= I(kMinNormalExponent), normal, subnormal);

  const I nan_code = Spec::kHasInfinity ? (I(static_cast<std::int32_t>(Spec::kTopExponent | Spec::kQuietBit)) |
                                           ((abs & I(0x7fffff)) >> kDrop))
                                        : I(static_cast<std::int32_t>(Spec::kTopExponent | Spec::kManMask));
  const I overflow_code = mode == overflow_mode::saturate
                              ? I(static_cast<std::int32_t>(Spec::kMaxFinite))
                              : (Spec::kHasInfinity ? I(static_cast<std::int32_t>(Spec::kTopExponent)) : nan_code);
  // Infinity's rebiased exponent lands far above kMaxFinite, so it takes the overflow code like a large value.
  magnitude = Pieces<Arch>::select(magnitude > I(static_cast<std::int32_t>(Spec::kMaxFinite)), overflow_code, magnitude);
  magnitude = Pieces<Arch>::select(abs > I(0x7f800000), nan_code, magnitude);
  return sign | magnitude;
}

/// Vector form of detail::decode_minifloat<Spec> for 8-bit codes held in int32 lanes. The value is built as
/// significand * 2^(e - bias - M) from an integer conversion and an exact power of two, so it never computes with
/// subnormal floats (and is therefore immune to DAZ/FTZ).
template <class Spec, class Arch>
inline xsimd::batch<float, Arch> decode_minifloat(xsimd::batch<std::int32_t, Arch> code) noexcept {
  using I = xsimd::batch<std::int32_t, Arch>;
  using F = xsimd::batch<float, Arch>;
  const I mantissa = code & I(static_cast<std::int32_t>(Spec::kManMask));
  const I exponent = (code >> Spec::kManBits) & I((1 << Spec::kExpBits) - 1);
  const auto is_normal = exponent != I(0);
  const I significand = mantissa | Pieces<Arch>::select(is_normal, I(1 << Spec::kManBits), I(0));
  const I scale_exponent = xsimd::max(exponent, I(1)) + I(127 - Spec::kBias - Spec::kManBits);
  const F magnitude = xsimd::to_float(significand) * xsimd::bitwise_cast<xsimd::batch<float, Arch>>(scale_exponent << 23);
  I result = xsimd::bitwise_cast<xsimd::batch<std::int32_t, Arch>>(magnitude);
  const I top = I((1 << Spec::kExpBits) - 1);
  if (Spec::kHasInfinity) {
    const I special = I(0x7f800000) | (mantissa << (23 - Spec::kManBits)) |
                      Pieces<Arch>::select(mantissa != I(0), I(0x400000), I(0));
    result = Pieces<Arch>::select(exponent == top, special, result);
  } else {
    result = Pieces<Arch>::select((exponent == top) & (mantissa == I(static_cast<std::int32_t>(Spec::kManMask))),
                           I(0x7fc00000), result);
  }
  const I sign = (code & I(static_cast<std::int32_t>(Spec::kSignBit))) << (31 - Spec::kExpBits - Spec::kManBits);
  return xsimd::bitwise_cast<xsimd::batch<float, Arch>>(result | sign);
}

/// fp32 bits -> bf16 bits in the high half of each lane: ref f32_to_bf16_bits lane by lane.
template <class Arch>
inline xsimd::batch<std::int32_t, Arch> round_to_bf16_high(xsimd::batch<float, Arch> x, bf16_rounding rounding,
                                                           overflow_mode mode) noexcept {
  using I = xsimd::batch<std::int32_t, Arch>;
  const I bits = xsimd::bitwise_cast<xsimd::batch<std::int32_t, Arch>>(x);
  const I abs = bits & I(0x7fffffff);
  // In int32 lanes the carry out of 0x7fffffff would wrap, but only NaN magnitudes get there and they are
  // replaced below.
  I rounded = rounding == bf16_rounding::nearest_even
                  ? bits + I(0x7fff) + ((bits >> 16) & I(1))
                  : bits;
  if (mode == overflow_mode::saturate) {
    const auto overflowed = (rounded & I(0x7fff0000)) == I(0x7f800000);
    rounded = Pieces<Arch>::select(overflowed, (bits & I(static_cast<std::int32_t>(0x80000000u))) | I(0x7f7f0000), rounded);
  }
  return Pieces<Arch>::select(abs > I(0x7f800000), bits | I(0x00400000), rounded);
}

}  // namespace detail

template <class Arch>
inline void convert_f32_to_f16(const float* src, std::uint16_t* dst, std::size_t n, overflow_mode mode) noexcept {
  using F = xsimd::batch<float, Arch>;
  using P = detail::Pieces<Arch>;
  // 65504 is fp16's max finite: clamping to it first makes the hardware's overflow-to-inf a saturation.
  const auto load = [mode](const float* in) {
    const F x = F::load_unaligned(in);
    return mode == overflow_mode::saturate ? detail::clamp_magnitude(x, 65504.0f) : x;
  };
  detail::for_each_block_streaming<Arch, F::size>(
      src, dst, n, [&](const float* in, std::uint16_t* out) { P::store_as_f16(out, load(in)); },
      [&](const float* in, std::uint16_t* out) {
        if constexpr (P::can_stream) P::stream_as_f16(out, load(in));
      });
}

template <class Arch>
inline void convert_f16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  using F = xsimd::batch<float, Arch>;
  using P = detail::Pieces<Arch>;
  detail::for_each_block_streaming<Arch, F::size>(
      src, dst, n, [](const std::uint16_t* in, float* out) { P::load_f16(in).store_unaligned(out); },
      [](const std::uint16_t* in, float* out) {
        if constexpr (P::can_stream) P::stream_f32(out, P::load_f16(in));
      });
}

template <class Arch>
inline void convert_f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bf16_rounding rounding,
                                overflow_mode mode) noexcept {
  using F = xsimd::batch<float, Arch>;
  using P = detail::Pieces<Arch>;
  detail::for_each_block_streaming<Arch, F::size>(
      src, dst, n,
      [rounding, mode](const float* in, std::uint16_t* out) {
        P::store_high_halves(out, detail::round_to_bf16_high(F::load_unaligned(in), rounding, mode));
      },
      [rounding, mode](const float* in, std::uint16_t* out) {
        if constexpr (P::can_stream)
          P::stream_high_halves(out, detail::round_to_bf16_high(F::load_unaligned(in), rounding, mode));
      });
}

template <class Arch>
inline void convert_bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  using F = xsimd::batch<float, Arch>;
  using P = detail::Pieces<Arch>;
  detail::for_each_block_streaming<Arch, F::size>(
      src, dst, n,
      [](const std::uint16_t* in, float* out) {
        xsimd::bitwise_cast<F>(P::load_as_high_halves(in)).store_unaligned(out);
      },
      [](const std::uint16_t* in, float* out) {
        if constexpr (P::can_stream) P::stream_f32(out, xsimd::bitwise_cast<F>(P::load_as_high_halves(in)));
      });
}

template <class Arch>
inline void convert_f32_to_fp8(const float* src, std::uint8_t* dst, std::size_t n, fp8_format format,
                               overflow_mode mode) noexcept {
  using F = xsimd::batch<float, Arch>;
  if (format == fp8_format::e4m3fn) {
    detail::for_each_block<F::size>(src, dst, n, [mode](const float* in, std::uint8_t* out) {
      detail::Pieces<Arch>::store_low_bytes(out, detail::encode_minifloat<qmath::detail::E4M3FNSpec>(F::load_unaligned(in), mode));
    });
  } else {
    detail::for_each_block<F::size>(src, dst, n, [mode](const float* in, std::uint8_t* out) {
      detail::Pieces<Arch>::store_low_bytes(out, detail::encode_minifloat<qmath::detail::E5M2Spec>(F::load_unaligned(in), mode));
    });
  }
}

template <class Arch>
inline void convert_fp8_to_f32(const std::uint8_t* src, float* dst, std::size_t n, fp8_format format) noexcept {
  using F = xsimd::batch<float, Arch>;
  if (format == fp8_format::e4m3fn) {
    detail::for_each_block<F::size>(src, dst, n, [](const std::uint8_t* in, float* out) {
      detail::decode_minifloat<qmath::detail::E4M3FNSpec, Arch>(detail::Pieces<Arch>::load_bytes(in)).store_unaligned(out);
    });
  } else {
    detail::for_each_block<F::size>(src, dst, n, [](const std::uint8_t* in, float* out) {
      detail::decode_minifloat<qmath::detail::E5M2Spec, Arch>(detail::Pieces<Arch>::load_bytes(in)).store_unaligned(out);
    });
  }
}

/// The table of these bodies for Arch (has_convert_body<Arch> must hold).
template <class Arch>
constexpr ConvertKernels make_convert_kernels(isa path) noexcept {
  return ConvertKernels{path,
                        &convert_f32_to_f16<Arch>,
                        &convert_f16_to_f32<Arch>,
                        &convert_f32_to_bf16<Arch>,
                        &convert_bf16_to_f32<Arch>,
                        &convert_f32_to_fp8<Arch>,
                        &convert_fp8_to_f32<Arch>};
}

}  // namespace simd
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

QMATH_SIMD_WARNINGS_POP
