// SPDX-License-Identifier: Apache-2.0
// src/isa/neon_dotprod.cpp: the neon_dotprod kernel set, the int8 GEMM alone (the only family with a neon_dotprod path;
// compiled with flags from cmake/IsaFlags.cmake).
#define QMATH_ABI_NS isa_neon_dotprod  // this unit's own copies of qmath's inline code (src/isa/isa_tu.hpp)
#include "gemm_unit.hpp"

#if !defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
#error "src/isa/neon_dotprod.cpp must be compiled with the neon_dotprod flags of cmake/IsaFlags.cmake"
#endif

const qmath::kernel_abi::KernelSet& qmath::kernel_abi::kernel_set_neon_dotprod() noexcept {
  return kernels::isa_unit::GemmUnit<kernels::arm::neon_dotprod, isa::neon_dotprod>::set;
}
