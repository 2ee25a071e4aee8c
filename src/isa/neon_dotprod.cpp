// SPDX-License-Identifier: Apache-2.0
// src/isa/neon_dotprod.cpp: the neon_dotprod instantiation of the int8 GEMM body, the only family with a neon_dotprod path
// (compiled with flags from cmake/IsaFlags.cmake).
#include "isa_tu.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"

#if !defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
#error "src/isa/neon_dotprod.cpp must be compiled with the neon_dotprod flags of cmake/IsaFlags.cmake"
#endif

namespace qmath {
namespace kernels {
namespace detail {

const GemmKernels& gemm_kernels_neon_dotprod() noexcept {
  static constexpr GemmKernels table = simd::make_gemm_kernels<arm::neon_dotprod>(isa::neon_dotprod);
  return table;
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
