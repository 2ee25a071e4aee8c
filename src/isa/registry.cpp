// SPDX-License-Identifier: Apache-2.0
// src/isa/registry.cpp: maps each built ISA to its kernel tables (compiled without ISA flags).
#include "isa_tu.hpp"
#include "qmath/kernels/dispatch.hpp"

namespace qmath {
namespace kernels {
namespace detail {

isa built_isas() noexcept {
  isa built = isa::scalar;
#if defined(QMATH_BUILT_AVX2)
  built = built | isa::avx2;
#endif
#if defined(QMATH_BUILT_AVX512BW)
  built = built | isa::avx512bw;
#endif
#if defined(QMATH_BUILT_NEON)
  built = built | isa::neon;
#endif
  return built;
}

const ConvertKernels* built_convert_kernels(isa path) noexcept {
  switch (path) {
#if defined(QMATH_BUILT_AVX2)
    case isa::avx2: return &convert_kernels_avx2();
#endif
#if defined(QMATH_BUILT_AVX512BW)
    case isa::avx512bw: return &convert_kernels_avx512bw();
#endif
#if defined(QMATH_BUILT_NEON)
    case isa::neon: return &convert_kernels_neon();
#endif
    default: return nullptr;
  }
}

const QuantizeKernels* built_quantize_kernels(isa path) noexcept {
  switch (path) {
#if defined(QMATH_BUILT_AVX2)
    case isa::avx2: return &quantize_kernels_avx2();
#endif
#if defined(QMATH_BUILT_AVX512BW)
    case isa::avx512bw: return &quantize_kernels_avx512bw();
#endif
#if defined(QMATH_BUILT_NEON)
    case isa::neon: return &quantize_kernels_neon();
#endif
    default: return nullptr;
  }
}

isa built_gemm_isas() noexcept {
  isa built = built_isas();
#if defined(QMATH_BUILT_AVXVNNI)
  built = built | isa::avxvnni;
#endif
#if defined(QMATH_BUILT_AVX512VNNI)
  built = built | isa::avx512vnni;
#endif
#if defined(QMATH_BUILT_NEON_DOTPROD)
  built = built | isa::neon_dotprod;
#endif
  return built;
}

const GemmKernels* built_gemm_kernels(isa path) noexcept {
  switch (path) {
#if defined(QMATH_BUILT_AVX2)
    case isa::avx2: return &gemm_kernels_avx2();
#endif
#if defined(QMATH_BUILT_AVXVNNI)
    case isa::avxvnni: return &gemm_kernels_avxvnni();
#endif
#if defined(QMATH_BUILT_AVX512BW)
    case isa::avx512bw: return &gemm_kernels_avx512bw();
#endif
#if defined(QMATH_BUILT_AVX512VNNI)
    case isa::avx512vnni: return &gemm_kernels_avx512vnni();
#endif
#if defined(QMATH_BUILT_NEON)
    case isa::neon: return &gemm_kernels_neon();
#endif
#if defined(QMATH_BUILT_NEON_DOTPROD)
    case isa::neon_dotprod: return &gemm_kernels_neon_dotprod();
#endif
    default: return nullptr;
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace qmath
