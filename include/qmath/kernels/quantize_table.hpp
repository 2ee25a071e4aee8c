// SPDX-License-Identifier: Apache-2.0
// kernels/quantize_table.hpp: the parameter blocks of the bulk quantize / dequantize / requantize kernels and their
// function table, one per ISA path (kernels layer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/format/rounding.hpp"

// The table types are shared by every mode and every ISA unit (the units fill them, the registry and the API read
// them), so they live outside the mode namespace, in qmath::kernel_abi, and are named into qmath::kernels.
namespace qmath {
namespace kernel_abi {

/// Parameters of one quantize / requantize call over n elements.
struct QuantizeRun {
  const float* factor;            ///< 1.0f / S (multiply_reciprocal) or S (divide); 1 entry, or n if per_element
  const std::int32_t* zero_point; ///< as many entries as factor
  bool per_element;
  std::int32_t qmin, qmax;
  Numerics numerics;
};

/// Parameters of one dequantize call over n elements.
struct DequantizeRun {
  const float* scale;             ///< 1 entry, or n if per_element
  const std::int32_t* zero_point; ///< as many entries as scale
  bool per_element;
};

template <class Q>
using QuantizeFn = void (*)(const float*, Q*, std::size_t, const QuantizeRun&) noexcept;
template <class Q>
using DequantizeFn = void (*)(const Q*, float*, std::size_t, const DequantizeRun&) noexcept;
template <class Q>
using RequantizeFn = void (*)(const std::int32_t*, Q*, std::size_t, const QuantizeRun&) noexcept;

/// One function per vectorized code type (8 and 16 bits).
template <template <class> class Fn>
struct PerCodeType {
  Fn<std::int8_t> s8;
  Fn<std::uint8_t> u8;
  Fn<std::int16_t> s16;
  Fn<std::uint16_t> u16;

  template <class Q>
  constexpr Fn<Q> get() const noexcept {
    if constexpr (std::is_same<Q, std::int8_t>::value) return s8;
    else if constexpr (std::is_same<Q, std::uint8_t>::value) return u8;
    else if constexpr (std::is_same<Q, std::int16_t>::value) return s16;
    else return u16;
  }
};

struct QuantizeKernels {
  isa path;
  PerCodeType<QuantizeFn> quantize;
  PerCodeType<DequantizeFn> dequantize;
  PerCodeType<RequantizeFn> requantize;
};

}  // namespace kernel_abi
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
namespace kernels {
using ::qmath::kernel_abi::QuantizeRun;
using ::qmath::kernel_abi::DequantizeRun;
using ::qmath::kernel_abi::QuantizeFn;
using ::qmath::kernel_abi::DequantizeFn;
using ::qmath::kernel_abi::RequantizeFn;
using ::qmath::kernel_abi::PerCodeType;
using ::qmath::kernel_abi::QuantizeKernels;

/// True for the code types the tables hold; the others (int32, packed 4-bit) run the reference.
template <class Q>
struct has_vector_kernels
    : std::integral_constant<bool, std::is_same<Q, std::int8_t>::value || std::is_same<Q, std::uint8_t>::value ||
                                       std::is_same<Q, std::int16_t>::value || std::is_same<Q, std::uint16_t>::value> {};

}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
