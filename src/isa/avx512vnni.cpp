// SPDX-License-Identifier: Apache-2.0
// src/isa/avx512vnni.cpp: the avx512vnni kernel set, the int8 GEMM alone (the only family with a avx512vnni path;
// compiled with flags from cmake/IsaFlags.cmake).
#define QMATH_ABI_NS isa_avx512vnni  // this unit's own copies of qmath's inline code (src/isa/isa_tu.hpp)
#include "gemm_unit.hpp"

#if !defined(QMATH_HAVE_AVX512VNNI_ARCH)
#error "src/isa/avx512vnni.cpp must be compiled with the avx512vnni flags of cmake/IsaFlags.cmake"
#endif

const qmath::kernel_abi::KernelSet& qmath::kernel_abi::kernel_set_avx512vnni() noexcept {
  return kernels::isa_unit::GemmUnit<kernels::x86::avx512vnni, isa::avx512vnni>::set;
}
