// SPDX-License-Identifier: Apache-2.0
// src/isa/avx512vnni.cpp: the avx512vnni instantiation of the int8 GEMM body, the only family with a avx512vnni path
// (compiled with flags from cmake/IsaFlags.cmake).
#include "isa_tu.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"

#if !defined(QMATH_HAVE_AVX512VNNI_ARCH)
#error "src/isa/avx512vnni.cpp must be compiled with the avx512vnni flags of cmake/IsaFlags.cmake"
#endif

namespace qmath {
namespace kernels {
namespace detail {

const GemmKernels& gemm_kernels_avx512vnni() noexcept {
  static constexpr GemmKernels table = simd::make_gemm_kernels<x86::avx512vnni>(isa::avx512vnni);
  return table;
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
