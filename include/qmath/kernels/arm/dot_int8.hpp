// SPDX-License-Identifier: Apache-2.0
// kernels/arm/dot_int8.hpp: the int8 GEMM's inner products on AArch64, which xsimd 8.1 lacks (kernels layer).
//
// - `sdot` (Armv8.2 dot product): int32 lane j += sum_{i<4} a_s8[i] * b_s8[j][i]. uint8 A is stored as a - 128
//   (int8), its zero point moved by the same 128; each lane's four products sum to at most 4 * 128 * 128.
// - without it, `mla` on int32 lanes after widening: lane j += a * b[j]. `smull` + `smlal` into int16 would
//   overflow for two (-128) * (-128) products (32768 > 32767), so the products are never accumulated in int16.
// The neon_dotprod arch tag is in arm/arch.hpp.
#pragma once

#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/arm/arch.hpp"
#include "qmath/kernels/arm/cvt_fp16.hpp"

#if XSIMD_WITH_NEON64
#include <arm_neon.h>
#endif

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace arm {

#if XSIMD_WITH_NEON64
/// Four int16 at p, sign-extended to the four int32 lanes.
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_widen_i16(const std::int16_t* p) noexcept {
  return vmovl_s16(vld1_s16(p));
}
/// 4 codes at p (exactly 4 bytes read) widened to int32 lanes: the depthwise kernel's input.
template <class Arch, bool Signed, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_codes_i32(const unsigned char* p) noexcept {
  std::uint32_t word;
  std::memcpy(&word, p, sizeof(word));
  const uint8x8_t bytes = vcreate_u8(word);
  if (Signed) return vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u8(bytes))));
  return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(bytes))));
}
/// lane j: acc[j] + a[j] * b[j] (`mla`, modulo 2^32).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> mla_i32(xsimd::batch<std::int32_t, Arch> acc, xsimd::batch<std::int32_t, Arch> a,
                                                xsimd::batch<std::int32_t, Arch> b) noexcept {
  return vmlaq_s32(acc, a, b);
}
/// lane j: gemmlowp's SaturatingRoundingDoublingHighMul (`sqrdmulh`: round(2ab / 2^32), ties up, saturating).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> rounding_high_mul(xsimd::batch<std::int32_t, Arch> a,
                                                          xsimd::batch<std::int32_t, Arch> b) noexcept {
  return vqrdmulhq_s32(a, b);
}
/// lane j: a[j] >> count[j], arithmetic (`sshl` by the negated count; counts in [0, 31]).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> shift_right_arithmetic(xsimd::batch<std::int32_t, Arch> a,
                                                               xsimd::batch<std::int32_t, Arch> count) noexcept {
  return vshlq_s32(a, vnegq_s32(count));
}
#endif
#if defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
/// lane j: acc[j] + sum_{i<4} a.s8[4j+i] * b.s8[4j+i] (`sdot`).
template <class Arch, std::enable_if_t<std::is_same<Arch, neon_dotprod>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> dot_s8s8(xsimd::batch<std::int32_t, Arch> acc, xsimd::batch<std::int32_t, Arch> a,
                                                 xsimd::batch<std::int32_t, Arch> b) noexcept {
  return vdotq_s32(acc, vreinterpretq_s8_s32(a), vreinterpretq_s8_s32(b));
}
#endif

}  // namespace arm
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
