// SPDX-License-Identifier: Apache-2.0
// src/isa/gemm_unit.hpp: the KernelSet of a unit whose path has the int8 GEMM alone (the dot-product paths).
// Included only by ISA units, after they set QMATH_ABI_NS, so the tables below are symbols of the unit's own.
#pragma once

#include "isa_tu.hpp"
#include "qmath/kernels/simd/depthwise.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace isa_unit {

template <class Arch, isa Path>
struct GemmUnit {
  static_assert(simd::has_gemm_body<Arch>::value, "this unit's flags must select its GEMM body");
  static constexpr GemmKernels gemm = simd::make_gemm_kernels<Arch>(Path);
  static constexpr DepthwiseKernels depthwise = simd::make_depthwise_kernels<Arch>(Path);
  static constexpr KernelSet set{Path, nullptr, nullptr, &gemm, &depthwise};
};

}  // namespace isa_unit
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
