// SPDX-License-Identifier: Apache-2.0
// src/isa/avx2.cpp: the avx2 instantiations of the kernel bodies (compiled with flags from cmake/IsaFlags.cmake).
#include "isa_tu.hpp"
#include "qmath/kernels/simd/convert.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"
#include "qmath/kernels/simd/quantize.hpp"

#if !XSIMD_WITH_AVX2
#error "src/isa/avx2.cpp must be compiled with the avx2 flags of cmake/IsaFlags.cmake"
#endif

namespace qmath {
namespace kernels {
namespace detail {

using Archavx2 = xsimd::default_arch;
static_assert(x86::is_avx2_family<Archavx2>::value && simd::has_convert_body<Archavx2>::value,
              "the avx2 flags must select the avx2 kernel bodies");

const ConvertKernels& convert_kernels_avx2() noexcept {
  static constexpr ConvertKernels table = simd::make_convert_kernels<Archavx2>(isa::avx2);
  return table;
}

const QuantizeKernels& quantize_kernels_avx2() noexcept {
  static constexpr QuantizeKernels table = simd::make_quantize_kernels<Archavx2>(isa::avx2);
  return table;
}

const GemmKernels& gemm_kernels_avx2() noexcept {
  static_assert(simd::has_gemm_body<Archavx2>::value, "the avx2 flags must select the avx2 GEMM body");
  static constexpr GemmKernels table = simd::make_gemm_kernels<Archavx2>(isa::avx2);
  return table;
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
