// SPDX-License-Identifier: Apache-2.0
// kernels/convert_table.hpp: the function table of the bulk float-format conversions, one per ISA path
// (kernels layer). A plain aggregate of function pointers so that ISA translation units can fill one in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/format/minifloat.hpp"

// The table types are shared by every mode and every ISA unit (the units fill them, the registry and the API read
// them), so they live outside the mode namespace, in qmath::kernel_abi, and are named into qmath::kernels.
namespace qmath {
namespace kernel_abi {

struct ConvertKernels {
  isa path;
  void (*f32_to_f16)(const float*, std::uint16_t*, std::size_t, overflow_mode) noexcept;
  void (*f16_to_f32)(const std::uint16_t*, float*, std::size_t) noexcept;
  void (*f32_to_bf16)(const float*, std::uint16_t*, std::size_t, bf16_rounding, overflow_mode) noexcept;
  void (*bf16_to_f32)(const std::uint16_t*, float*, std::size_t) noexcept;
  void (*f32_to_fp8)(const float*, std::uint8_t*, std::size_t, fp8_format, overflow_mode) noexcept;
  void (*fp8_to_f32)(const std::uint8_t*, float*, std::size_t, fp8_format) noexcept;
};

}  // namespace kernel_abi
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
namespace kernels {
using ::qmath::kernel_abi::ConvertKernels;
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
