// SPDX-License-Identifier: Apache-2.0
// src/isa/neon.cpp: the neon kernel set: conversions, quantize and the int8 GEMM (compiled with flags from
// cmake/IsaFlags.cmake).
#define QMATH_ABI_NS isa_neon  // this unit's own copies of qmath's inline code (src/isa/isa_tu.hpp)
#include "full_unit.hpp"

#if !XSIMD_WITH_NEON64
#error "src/isa/neon.cpp must be compiled with the neon flags of cmake/IsaFlags.cmake"
#endif
static_assert(qmath::kernels::arm::is_neon64_family<xsimd::default_arch>::value,
              "the neon flags must select the neon architecture family");

const qmath::kernel_abi::KernelSet& qmath::kernel_abi::kernel_set_neon() noexcept {
  return kernels::isa_unit::FullUnit<xsimd::default_arch, isa::neon>::set;
}
