// SPDX-License-Identifier: Apache-2.0
// src/isa/full_unit.hpp: the KernelSet of a unit whose path has every family (avx2, avx512bw, neon). Included only
// by ISA units, after they set QMATH_ABI_NS.
#pragma once

#include "gemm_unit.hpp"
#include "qmath/kernels/simd/convert.hpp"
#include "qmath/kernels/simd/quantize.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace isa_unit {

template <class Arch, isa Path>
struct FullUnit {
  static_assert(simd::has_convert_body<Arch>::value, "this unit's flags must select its kernel bodies");
  static constexpr ConvertKernels convert = simd::make_convert_kernels<Arch>(Path);
  static constexpr QuantizeKernels quantize = simd::make_quantize_kernels<Arch>(Path);
  static constexpr KernelSet set{Path, &convert, &quantize, &GemmUnit<Arch, Path>::gemm, &GemmUnit<Arch, Path>::depthwise};
};

}  // namespace isa_unit
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
