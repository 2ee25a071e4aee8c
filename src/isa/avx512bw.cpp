// SPDX-License-Identifier: Apache-2.0
// src/isa/avx512bw.cpp: the avx512bw kernel set: conversions, quantize and the int8 GEMM (compiled with flags from
// cmake/IsaFlags.cmake).
#define QMATH_ABI_NS isa_avx512bw  // this unit's own copies of qmath's inline code (src/isa/isa_tu.hpp)
#include "full_unit.hpp"

#if !XSIMD_WITH_AVX512BW
#error "src/isa/avx512bw.cpp must be compiled with the avx512bw flags of cmake/IsaFlags.cmake"
#endif
static_assert(qmath::kernels::x86::is_avx512_family<xsimd::default_arch>::value,
              "the avx512bw flags must select the avx512bw architecture family");

const qmath::kernel_abi::KernelSet& qmath::kernel_abi::kernel_set_avx512bw() noexcept {
  return kernels::isa_unit::FullUnit<xsimd::default_arch, isa::avx512bw>::set;
}
