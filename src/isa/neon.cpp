// SPDX-License-Identifier: Apache-2.0
// src/isa/neon.cpp: the neon instantiations of the kernel bodies (compiled with flags from cmake/IsaFlags.cmake).
#include "isa_tu.hpp"
#include "qmath/kernels/simd/convert.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"
#include "qmath/kernels/simd/quantize.hpp"

#if !XSIMD_WITH_NEON64
#error "src/isa/neon.cpp must be compiled with the neon flags of cmake/IsaFlags.cmake"
#endif

namespace qmath {
namespace kernels {
namespace detail {

using Archneon = xsimd::default_arch;
static_assert(arm::is_neon64_family<Archneon>::value && simd::has_convert_body<Archneon>::value,
              "the neon flags must select the neon kernel bodies");

const ConvertKernels& convert_kernels_neon() noexcept {
  static constexpr ConvertKernels table = simd::make_convert_kernels<Archneon>(isa::neon);
  return table;
}

const QuantizeKernels& quantize_kernels_neon() noexcept {
  static constexpr QuantizeKernels table = simd::make_quantize_kernels<Archneon>(isa::neon);
  return table;
}

const GemmKernels& gemm_kernels_neon() noexcept {
  static_assert(simd::has_gemm_body<Archneon>::value, "the neon flags must select the neon GEMM body");
  static constexpr GemmKernels table = simd::make_gemm_kernels<Archneon>(isa::neon);
  return table;
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
