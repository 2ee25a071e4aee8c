// SPDX-License-Identifier: Apache-2.0
// src/isa/avx512bw.cpp: the avx512bw instantiations of the kernel bodies (compiled with flags from cmake/IsaFlags.cmake).
#include "isa_tu.hpp"
#include "qmath/kernels/simd/convert.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"
#include "qmath/kernels/simd/quantize.hpp"

#if !XSIMD_WITH_AVX512BW
#error "src/isa/avx512bw.cpp must be compiled with the avx512bw flags of cmake/IsaFlags.cmake"
#endif

namespace qmath {
namespace kernels {
namespace detail {

using Archavx512bw = xsimd::default_arch;
static_assert(x86::is_avx512_family<Archavx512bw>::value && simd::has_convert_body<Archavx512bw>::value,
              "the avx512bw flags must select the avx512bw kernel bodies");

const ConvertKernels& convert_kernels_avx512bw() noexcept {
  static constexpr ConvertKernels table = simd::make_convert_kernels<Archavx512bw>(isa::avx512bw);
  return table;
}

const QuantizeKernels& quantize_kernels_avx512bw() noexcept {
  static constexpr QuantizeKernels table = simd::make_quantize_kernels<Archavx512bw>(isa::avx512bw);
  return table;
}

const GemmKernels& gemm_kernels_avx512bw() noexcept {
  static_assert(simd::has_gemm_body<Archavx512bw>::value, "the avx512bw flags must select the avx512bw GEMM body");
  static constexpr GemmKernels table = simd::make_gemm_kernels<Archavx512bw>(isa::avx512bw);
  return table;
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
