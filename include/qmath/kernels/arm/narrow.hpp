// SPDX-License-Identifier: Apache-2.0
// kernels/arm/narrow.hpp: widening loads and narrowing stores between 32-bit lanes and 16/8-bit memory on
// AArch64, which xsimd 8.1 lacks (kernels layer). One batch is 4 lanes.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/arm/cvt_fp16.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace arm {

#if XSIMD_WITH_NEON64
/// dst[i] = uint16(v[i] >> 16), i < 4 (`shrn`: shift right and narrow in one instruction).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline void store_high_halves(std::uint16_t* dst, xsimd::batch<std::int32_t, Arch> v) noexcept {
  vst1_u16(dst, vshrn_n_u32(vreinterpretq_u32_s32(v), 16));
}
/// result[i] = int32(src[i]) << 16, i < 4 (`shll`).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_as_high_halves(const std::uint16_t* src) noexcept {
  return vreinterpretq_s32_u32(vshll_n_u16(vld1_u16(src), 16));
}
/// dst[i] = uint8(v[i]), i < 4; lanes must hold 0..255.
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline void store_low_bytes(std::uint8_t* dst, xsimd::batch<std::int32_t, Arch> v) noexcept {
  const uint16x4_t halves = vmovn_u32(vreinterpretq_u32_s32(v));
  const uint8x8_t bytes = vmovn_u16(vcombine_u16(halves, halves));
  const std::uint32_t word = vget_lane_u32(vreinterpret_u32_u8(bytes), 0);
  std::memcpy(dst, &word, 4);
}
/// result[i] = int32(src[i]), i < 4 (zero-extended).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<std::int32_t, Arch> load_bytes(const std::uint8_t* src) noexcept {
  std::uint32_t word;
  std::memcpy(&word, src, 4);
  const uint16x8_t halves = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(word)));
  return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(halves)));
}
#endif

}  // namespace arm
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
