// SPDX-License-Identifier: Apache-2.0
// src/isa/avxvnni.cpp: the avxvnni kernel set, the int8 GEMM alone (the only family with a avxvnni path;
// compiled with flags from cmake/IsaFlags.cmake).
#define QMATH_ABI_NS isa_avxvnni  // this unit's own copies of qmath's inline code (src/isa/isa_tu.hpp)
#include "gemm_unit.hpp"

#if !defined(QMATH_HAVE_AVXVNNI_ARCH)
#error "src/isa/avxvnni.cpp must be compiled with the avxvnni flags of cmake/IsaFlags.cmake"
#endif

const qmath::kernel_abi::KernelSet& qmath::kernel_abi::kernel_set_avxvnni() noexcept {
  return kernels::isa_unit::GemmUnit<kernels::x86::avxvnni, isa::avxvnni>::set;
}
