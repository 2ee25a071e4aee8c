// SPDX-License-Identifier: Apache-2.0
// src/isa/avx2.cpp: the avx2 kernel set: conversions, quantize and the int8 GEMM (compiled with flags from
// cmake/IsaFlags.cmake).
#define QMATH_ABI_NS isa_avx2  // this unit's own copies of qmath's inline code (src/isa/isa_tu.hpp)
#include "full_unit.hpp"

#if !XSIMD_WITH_AVX2
#error "src/isa/avx2.cpp must be compiled with the avx2 flags of cmake/IsaFlags.cmake"
#endif
static_assert(qmath::kernels::x86::is_avx2_family<xsimd::default_arch>::value,
              "the avx2 flags must select the avx2 architecture family");

const qmath::kernel_abi::KernelSet& qmath::kernel_abi::kernel_set_avx2() noexcept {
  return kernels::isa_unit::FullUnit<xsimd::default_arch, isa::avx2>::set;
}
