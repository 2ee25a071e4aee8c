// SPDX-License-Identifier: Apache-2.0
// kernels/arm/arch.hpp: qmath's AArch64 architecture tags (kernels layer). neon_dotprod exists because xsimd 8.1
// has no dot-product architecture; it derives from xsimd's neon64 (with its register aliases) for the reason given
// in x86/arch.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace arm {

template <class Arch>
using is_neon64_family = std::is_base_of<xsimd::neon64, Arch>;

#if XSIMD_WITH_NEON64 && defined(__ARM_FEATURE_DOTPROD)
#define QMATH_HAVE_NEON_DOTPROD_ARCH 1
/// AArch64 Advanced SIMD + the dot-product extension.
struct neon_dotprod : xsimd::neon64 {
  static constexpr const char* name() noexcept { return "qmath_neon_dotprod"; }
};
#endif

}  // namespace arm
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

#if defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
namespace xsimd {
namespace types {
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(qmath::kernels::arm::neon_dotprod, neon64);
template <class T>
struct get_bool_simd_register<T, qmath::kernels::arm::neon_dotprod> : detail::neon_bool_simd_register<T, qmath::kernels::arm::neon_dotprod> {};
}  // namespace types
namespace kernel {
// xsimd 8.1's neon64 broadcast returns broadcast<neon64>(...), a batch of neon64 rather than of the derived arch, so
// batch<T, neon_dotprod>(value) does not compile. An overload for the derived tag would not be seen (batch's
// constructor calls kernel::broadcast qualified, bound where xsimd defines it); explicit specialisations are.
#define QMATH_NEON_DOTPROD_BROADCAST(T)                                                                      \
  template <>                                                                                                \
  inline batch<T, qmath::kernels::arm::neon_dotprod> broadcast<qmath::kernels::arm::neon_dotprod, T>(       \
      T val, requires_arch<neon64>) noexcept {                                                               \
    return broadcast<qmath::kernels::arm::neon_dotprod>(val, neon{});                                        \
  }
QMATH_NEON_DOTPROD_BROADCAST(std::int8_t)
QMATH_NEON_DOTPROD_BROADCAST(std::uint8_t)
QMATH_NEON_DOTPROD_BROADCAST(std::int16_t)
QMATH_NEON_DOTPROD_BROADCAST(std::uint16_t)
QMATH_NEON_DOTPROD_BROADCAST(std::int32_t)
QMATH_NEON_DOTPROD_BROADCAST(std::uint32_t)
QMATH_NEON_DOTPROD_BROADCAST(std::int64_t)
QMATH_NEON_DOTPROD_BROADCAST(std::uint64_t)
QMATH_NEON_DOTPROD_BROADCAST(float)
#undef QMATH_NEON_DOTPROD_BROADCAST
}  // namespace kernel
}  // namespace xsimd
#endif
