// SPDX-License-Identifier: Apache-2.0
// kernels/arm/float_ops.hpp: exact float division and rounding on AArch64 (kernels layer). xsimd 8.1 divides float
// batches on NEON with a reciprocal estimate plus two Newton steps, which is not correctly rounded (quantize would
// differ from the reference by one code near ties), and rounds through the 2^23 trick; AArch64 has the instructions.
#pragma once

#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"
#include "qmath/kernels/arm/cvt_fp16.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace arm {

#if XSIMD_WITH_NEON64
/// a[i] / b[i], IEEE correctly rounded (`fdiv`).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> divide(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b) noexcept {
  return vdivq_f32(a, b);
}
/// Round to nearest, ties to even, whatever FPCR says (`frintn`).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> round_half_even(xsimd::batch<float, Arch> v) noexcept {
  return vrndnq_f32(v);
}
/// Round toward zero (`frintz`).
template <class Arch, std::enable_if_t<is_neon64_family<Arch>::value, int> = 0>
inline xsimd::batch<float, Arch> truncate(xsimd::batch<float, Arch> v) noexcept {
  return vrndq_f32(v);
}
#endif

}  // namespace arm
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
