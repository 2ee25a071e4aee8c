// SPDX-License-Identifier: Apache-2.0
// kernels/x86/arch.hpp: qmath's x86 architecture tags (kernels layer). The families group xsimd's tags by the
// pieces they can use; the VNNI tags exist because xsimd 8.1 has none. They derive from xsimd's avx512bw and
// fma3<avx2> (with xsimd's register aliases), so xsimd's batches and qmath's other pieces work on them, while every
// template instantiated for them is a distinct symbol: code compiled with the VNNI flags cannot stand in for the
// avx2 / avx512bw copies through the linker's choice of inline copies.
#pragma once

#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace x86 {

template <class Arch>
using is_avx2_family = std::is_base_of<xsimd::avx2, Arch>;
template <class Arch>
using is_avx512_family = std::is_base_of<xsimd::avx512bw, Arch>;

#if XSIMD_WITH_AVX512BW && defined(__AVX512VNNI__)
#define QMATH_HAVE_AVX512VNNI_ARCH 1
/// AVX-512BW + AVX512_VNNI.
struct avx512vnni : xsimd::avx512bw {
  static constexpr const char* name() noexcept { return "qmath_avx512vnni"; }
};
#endif
#if XSIMD_WITH_FMA3_AVX2 && defined(__AVXVNNI__)
#define QMATH_HAVE_AVXVNNI_ARCH 1
/// AVX2 + FMA + AVX-VNNI (VEX-encoded `vpdpbusd` on ymm).
struct avxvnni : xsimd::fma3<xsimd::avx2> {
  static constexpr const char* name() noexcept { return "qmath_avxvnni"; }
};
#endif

}  // namespace x86
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

namespace xsimd {
namespace types {
#if defined(QMATH_HAVE_AVX512VNNI_ARCH)
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(qmath::kernels::x86::avx512vnni, avx512bw);
template <class T>
struct get_bool_simd_register<T, qmath::kernels::x86::avx512vnni> {
  using type = simd_avx512_bool_register<T>;
};
#endif
#if defined(QMATH_HAVE_AVXVNNI_ARCH)
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(qmath::kernels::x86::avxvnni, fma3<avx2>);
#endif
}  // namespace types
}  // namespace xsimd
