// SPDX-License-Identifier: Apache-2.0
// convert.hpp: bulk conversions between fp32 and fp16 / bf16 / fp8 over arrays, Eigen matrices and tensors
// (API layer). Every path (scalar, AVX2+F16C, AVX-512, NEON) returns exactly the bits of the scalar conversions in
// qmath/format/: round to nearest even, subnormals kept, overflow per overflow_mode, NaN rules as documented there.
//
//   Eigen::Tensor<float, 3> x(8, 16, 32);  x.setRandom();
//   Eigen::Tensor<Eigen::half, 3> h = qmath::to_f16(x);        // same shape, exact RNE
//   Eigen::Tensor<float, 3> back = qmath::to_f32(h);
//   qmath::convert_f32_to_bf16(src, dst_bits, n);               // pointers: no allocation
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/core/config.hpp"
#include "qmath/eigen.hpp"
#include "qmath/core/error.hpp"
#include "qmath/kernels/dispatch.hpp"

QMATH_BEGIN_NAMESPACE
// ---- Pointer + count. src and dst must not overlap; n == 0 does nothing. Never throws. -------------------------

inline void convert_f32_to_f16(const float* src, std::uint16_t* dst, std::size_t n,
                               overflow_mode mode = overflow_mode::to_infinity) noexcept {
  kernels::active_convert_kernels().f32_to_f16(src, dst, n, mode);
}
inline void convert_f16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  kernels::active_convert_kernels().f16_to_f32(src, dst, n);
}
inline void convert_f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n,
                                bf16_rounding rounding = bf16_rounding::nearest_even,
                                overflow_mode mode = overflow_mode::to_infinity) noexcept {
  kernels::active_convert_kernels().f32_to_bf16(src, dst, n, rounding, mode);
}
inline void convert_bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  kernels::active_convert_kernels().bf16_to_f32(src, dst, n);
}
/// fp8 defaults to overflow_mode::saturate, as ONNX Cast does.
inline void convert_f32_to_fp8(const float* src, std::uint8_t* dst, std::size_t n, fp8_format format,
                               overflow_mode mode = overflow_mode::saturate) noexcept {
  kernels::active_convert_kernels().f32_to_fp8(src, dst, n, format, mode);
}
inline void convert_fp8_to_f32(const std::uint8_t* src, float* dst, std::size_t n, fp8_format format) noexcept {
  kernels::active_convert_kernels().fp8_to_f32(src, dst, n, format);
}

// Eigen::half and Eigen::bfloat16 hold exactly the 16 bits, so arrays of them are arrays of codes.
static_assert(sizeof(Eigen::half) == 2 && sizeof(Eigen::bfloat16) == 2, "Eigen's 16-bit floats must be 2 bytes");

inline void convert(const float* src, Eigen::half* dst, std::size_t n,
                    overflow_mode mode = overflow_mode::to_infinity) noexcept {
  convert_f32_to_f16(src, reinterpret_cast<std::uint16_t*>(dst), n, mode);
}
inline void convert(const Eigen::half* src, float* dst, std::size_t n) noexcept {
  convert_f16_to_f32(reinterpret_cast<const std::uint16_t*>(src), dst, n);
}
inline void convert(const float* src, Eigen::bfloat16* dst, std::size_t n,
                    overflow_mode mode = overflow_mode::to_infinity) noexcept {
  convert_f32_to_bf16(src, reinterpret_cast<std::uint16_t*>(dst), n, bf16_rounding::nearest_even, mode);
}
inline void convert(const Eigen::bfloat16* src, float* dst, std::size_t n) noexcept {
  convert_bf16_to_f32(reinterpret_cast<const std::uint16_t*>(src), dst, n);
}

// ---- Eigen containers ----------------------------------------------------------------------------------------

namespace convert_detail {
using eigen_detail::is_tensor;  // eigen.hpp: the one Eigen boundary
using eigen_detail::require_contiguous;
template <class T>
using is_eigen_tensor = eigen_detail::is_tensor<T>;
}  // namespace convert_detail

/// Converts a dense, contiguous Eigen matrix/array/Map (float <-> Eigen::half / Eigen::bfloat16) into `dst`,
/// which must have the same rows and columns (it is not resized) and, unless they are vectors, the same storage
/// order (element i of memory is converted into element i of memory).
/// @throws qmath::error on a shape or storage-order mismatch or a non-contiguous operand, before anything is written.
template <class SrcDerived, class DstDerived>
inline void convert(const Eigen::DenseBase<SrcDerived>& src, Eigen::DenseBase<DstDerived>& dst) {
  convert_detail::require_contiguous(src, "qmath::convert", "src");
  convert_detail::require_contiguous(dst, "qmath::convert", "dst");
  qmath::detail::require(src.rows() == dst.rows() && src.cols() == dst.cols(), "qmath::convert",
                  "src and dst sizes differ (rows and columns must match)");
  const bool vector = src.rows() == 1 || src.cols() == 1;
  qmath::detail::require(vector || static_cast<bool>(SrcDerived::IsRowMajor) == static_cast<bool>(DstDerived::IsRowMajor),
                  "qmath::convert", "src and dst storage orders differ (row-major vs column-major)");
  convert(src.derived().data(), dst.derived().data(), static_cast<std::size_t>(src.size()));
}

/// Same for Eigen::Tensor / TensorMap (always contiguous); the layouts of src and dst must agree.
/// @throws qmath::error on an element count mismatch.
template <class Src, class Dst, std::enable_if_t<convert_detail::is_eigen_tensor<Src>::value &&
                                                 convert_detail::is_eigen_tensor<std::remove_const_t<Dst>>::value, int> = 0>
inline void convert(const Src& src, Dst& dst) {
  static_assert(static_cast<int>(Src::Layout) == static_cast<int>(std::remove_const_t<Dst>::Layout),
                "qmath::convert: src and dst tensors must have the same layout");
  qmath::detail::require(src.size() == dst.size(), "qmath::convert", "src and dst element counts differ");
  convert(src.data(), dst.data(), static_cast<std::size_t>(src.size()));
}

/// A new tensor of the same shape and layout holding the fp16 / bf16 / fp32 conversion of `src`.
template <int N, int Options, class Index>
inline Eigen::Tensor<Eigen::half, N, Options, Index> to_f16(const Eigen::Tensor<float, N, Options, Index>& src) {
  Eigen::Tensor<Eigen::half, N, Options, Index> dst(src.dimensions());
  convert(src, dst);
  return dst;
}
template <int N, int Options, class Index>
inline Eigen::Tensor<Eigen::bfloat16, N, Options, Index> to_bf16(const Eigen::Tensor<float, N, Options, Index>& src) {
  Eigen::Tensor<Eigen::bfloat16, N, Options, Index> dst(src.dimensions());
  convert(src, dst);
  return dst;
}
template <class Scalar, int N, int Options, class Index,
          std::enable_if_t<std::is_same<Scalar, Eigen::half>::value || std::is_same<Scalar, Eigen::bfloat16>::value, int> = 0>
inline Eigen::Tensor<float, N, Options, Index> to_f32(const Eigen::Tensor<Scalar, N, Options, Index>& src) {
  Eigen::Tensor<float, N, Options, Index> dst(src.dimensions());
  convert(src, dst);
  return dst;
}

QMATH_END_NAMESPACE  // qmath
