// SPDX-License-Identifier: Apache-2.0
// kernels/arm/cvt_fp16.hpp: fp32 <-> fp16 with AArch64 `fcvtn` / `fcvtl`, which xsimd 8.1 lacks (kernels layer).
// With the default FPCR (round to nearest even, DN = 0) `fcvtn` returns exactly ref::convert_f32_to_f16 in
// overflow_mode::to_infinity, NaN payload and subnormals included; `fcvtl` is exact and quiets signalling NaNs.
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if XSIMD_WITH_NEON64
#include <arm_neon.h>
#endif

#include "qmath/core/config.hpp"
#include "qmath/kernels/arm/arch.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace arm {

#if XSIMD_WITH_NEON64
/// 4 x fp32 -> 4 x fp16 codes at dst (8 bytes).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline void store_as_f16(std::uint16_t* dst, xsimd::batch<float, Arch> v) noexcept {
  vst1_u16(dst, vreinterpret_u16_f16(vcvt_f16_f32(v)));
}
/// 4 x fp16 codes at src (8 bytes) -> 4 x fp32.
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> load_f16(const std::uint16_t* src) noexcept {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src)));
}
#endif

}  // namespace arm
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
