// SPDX-License-Identifier: Apache-2.0
// src/isa/avxvnni.cpp: the avxvnni instantiation of the int8 GEMM body, the only family with a avxvnni path
// (compiled with flags from cmake/IsaFlags.cmake).
#include "isa_tu.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"

#if !defined(QMATH_HAVE_AVXVNNI_ARCH)
#error "src/isa/avxvnni.cpp must be compiled with the avxvnni flags of cmake/IsaFlags.cmake"
#endif

namespace qmath {
namespace kernels {
namespace detail {

const GemmKernels& gemm_kernels_avxvnni() noexcept {
  static constexpr GemmKernels table = simd::make_gemm_kernels<x86::avxvnni>(isa::avxvnni);
  return table;
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
