// SPDX-License-Identifier: Apache-2.0
// src/isa/isa_tu.hpp: what every ISA translation unit defines. Each unit is compiled with its ISA's flags and holds
// only instantiations of templates on its own Arch (no Eigen, no calls to non-template inline functions), so no
// code built for a wider ISA can leak into the rest of the program through the linker's choice of inline copies.
#pragma once

#include "qmath/kernels/convert_table.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/quantize_table.hpp"

namespace qmath {
namespace kernels {
namespace detail {
const ConvertKernels& convert_kernels_avx2() noexcept;
const ConvertKernels& convert_kernels_avx512bw() noexcept;
const ConvertKernels& convert_kernels_neon() noexcept;
const QuantizeKernels& quantize_kernels_avx2() noexcept;
const QuantizeKernels& quantize_kernels_avx512bw() noexcept;
const QuantizeKernels& quantize_kernels_neon() noexcept;
const GemmKernels& gemm_kernels_avx2() noexcept;
const GemmKernels& gemm_kernels_avxvnni() noexcept;
const GemmKernels& gemm_kernels_avx512bw() noexcept;
const GemmKernels& gemm_kernels_avx512vnni() noexcept;
const GemmKernels& gemm_kernels_neon() noexcept;
const GemmKernels& gemm_kernels_neon_dotprod() noexcept;
}  // namespace detail
}  // namespace kernels
}  // namespace qmath
