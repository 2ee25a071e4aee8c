// SPDX-License-Identifier: Apache-2.0
// quant/quantize.hpp: quantize and dequantize whole tensors: raw buffers with a shape, Eigen::Tensor / TensorMap,
// Eigen matrices and Maps (API layer). Formulas, rounding and the NaN rule: quant/qparams.hpp and
// kernels/ref/quantize.hpp. Every ISA path returns the reference's codes bit for bit.
//
//   Eigen::Tensor<float, 2, Eigen::RowMajor> w(64, 256);  w.setRandom();
//   auto p = qmath::choose_qparams<std::int8_t>(w, qmath::per_channel(0), {qmath::scheme::symmetric});
//   Eigen::Tensor<std::int8_t, 2, Eigen::RowMajor> q = qmath::quantize(w, p);
//   Eigen::Tensor<float, 2, Eigen::RowMajor> back = qmath::dequantize(q, p);
//
// Every entry point checks its arguments (shape, axis, group size, parameter counts, scale > 0 and finite, zero
// points in range) and throws qmath::error naming the bad one before writing anything. An empty tensor is a no-op.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/core/config.hpp"
#include "qmath/convert.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/kernels/ref/quantize.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE
namespace detail {

template <class Q>
inline void store_code(typename int_traits<Q>::storage* y, std::size_t i, std::int32_t code) noexcept {
  if constexpr (int_traits<Q>::kPacked) store_nibble(y, i, code);
  else y[i] = static_cast<Q>(code);
}
template <class Q>
inline std::int32_t load_code(const typename int_traits<Q>::storage* q, std::size_t i) noexcept {
  if constexpr (int_traits<Q>::kPacked) return load_nibble<Q>(q, i);
  else return static_cast<std::int32_t>(q[i]);
}

/// The per-slot factor the kernels multiply or divide by: 1/S for the PyTorch convention, S otherwise.
template <class Q>
std::vector<float> quantize_factors(const QParams<Q>& p) {
  std::vector<float> factors(p.scale);
  if (numerics_of(p.numerics).op == scale_op::multiply_reciprocal)
    for (float& f : factors) f = 1.0f / f;
  return factors;
}

template <class Q>
std::size_t check_tensor_call(const TensorShape& shape, const QParams<Q>& p, const void* in, const void* out,
                              const char* fn) {
  const std::size_t total = element_count(shape, fn);
  check_qparams(p, parameter_slots(shape, p.granularity, fn), fn);
  require(total == 0 || (in != nullptr && out != nullptr), fn, "null data pointer for a non-empty tensor");
  return total;
}

}  // namespace detail

// ---- Raw buffers ---------------------------------------------------------------------------------------------

/// Quantizes the dense tensor x (shape.dims, stored contiguously in shape.order) into y, which holds
/// int_traits<Q>::storage_size(count) elements (packed two per byte for int4 / uint4, ONNX nibble order).
/// x and y must not overlap. @throws qmath::error on invalid arguments, before writing anything.
template <class Q>
void quantize(const float* x, const TensorShape& shape, const QParams<Q>& p, typename int_traits<Q>::storage* y) {
  constexpr const char* fn = "qmath::quantize";
  const std::size_t total = detail::check_tensor_call(shape, p, x, y, fn);
  if (total == 0) return;
  const Numerics numerics = numerics_of(p.numerics);
  const std::vector<float> factors = detail::quantize_factors(p);
  if constexpr (int_traits<Q>::kPacked) std::memset(y, 0, int_traits<Q>::storage_size(total));

  if (p.has_float_zero_point()) {
    detail::for_each_run(shape, p.granularity, total, factors.data(), p.float_zero_point.data(),
                         [&](std::size_t at, std::size_t count, const float* f, const float* z, bool each) {
                           for (std::size_t k = 0; k < count; ++k)
                             detail::store_code<Q>(y, at + k,
                                                   kernels::ref::quantize_value_float_zp(
                                                       x[at + k], f[each ? k : 0], z[each ? k : 0], p.qmin, p.qmax,
                                                       numerics));
                         });
    return;
  }
  detail::for_each_run(shape, p.granularity, total, factors.data(), p.zero_point.data(),
                       [&](std::size_t at, std::size_t count, const float* f, const std::int32_t* z, bool each) {
                         const kernels::QuantizeRun run{f, z, each, p.qmin, p.qmax, numerics};
                         if constexpr (kernels::has_vector_kernels<Q>::value) {
                           kernels::active_quantize_kernels().quantize.template get<Q>()(x + at, y + at, count, run);
                         } else {
                           for (std::size_t k = 0; k < count; ++k)
                             detail::store_code<Q>(y, at + k,
                                                   kernels::ref::quantize_value(x[at + k], f[each ? k : 0],
                                                                                z[each ? k : 0], p.qmin, p.qmax,
                                                                                numerics));
                         }
                       });
}

/// Dequantizes the codes q (layout as in quantize) into x: x = (q - Z) * S per element.
/// @throws qmath::error on invalid arguments, before writing anything.
template <class Q>
void dequantize(const typename int_traits<Q>::storage* q, const TensorShape& shape, const QParams<Q>& p, float* x) {
  constexpr const char* fn = "qmath::dequantize";
  const std::size_t total = detail::check_tensor_call(shape, p, q, x, fn);
  if (total == 0) return;
  if (p.has_float_zero_point()) {
    detail::for_each_run(shape, p.granularity, total, p.scale.data(), p.float_zero_point.data(),
                         [&](std::size_t at, std::size_t count, const float* s, const float* z, bool each) {
                           for (std::size_t k = 0; k < count; ++k)
                             x[at + k] = kernels::ref::dequantize_value_float_zp(detail::load_code<Q>(q, at + k),
                                                                                 s[each ? k : 0], z[each ? k : 0]);
                         });
    return;
  }
  detail::for_each_run(shape, p.granularity, total, p.scale.data(), p.zero_point.data(),
                       [&](std::size_t at, std::size_t count, const float* s, const std::int32_t* z, bool each) {
                         if constexpr (kernels::has_vector_kernels<Q>::value) {
                           const kernels::DequantizeRun run{s, z, each};
                           kernels::active_quantize_kernels().dequantize.template get<Q>()(q + at, x + at, count, run);
                         } else {
                           for (std::size_t k = 0; k < count; ++k)
                             x[at + k] = kernels::ref::dequantize_value(detail::load_code<Q>(q, at + k),
                                                                        s[each ? k : 0], z[each ? k : 0]);
                         }
                       });
}

/// One-dimensional shorthands: x and y hold n elements, per-tensor parameters (or per_group on axis 0).
template <class Q>
void quantize(const float* x, std::size_t n, const QParams<Q>& p, typename int_traits<Q>::storage* y) {
  quantize(x, TensorShape{{static_cast<std::int64_t>(n)}, storage_order::row_major}, p, y);
}
template <class Q>
void dequantize(const typename int_traits<Q>::storage* q, std::size_t n, const QParams<Q>& p, float* x) {
  dequantize(q, TensorShape{{static_cast<std::int64_t>(n)}, storage_order::row_major}, p, x);
}

// ---- Eigen::Tensor / TensorMap ---------------------------------------------------------------------------------

namespace quant_detail {
template <class T>
using is_eigen_tensor = eigen_detail::is_tensor<T>;  // eigen.hpp: the one Eigen boundary
using eigen_detail::require_contiguous;

template <class T>
TensorShape shape_of_tensor(const T& t) {
  return eigen_detail::tensor_shape(t);
}
template <class Derived>
TensorShape shape_of_matrix(const Eigen::DenseBase<Derived>& m) {
  return TensorShape{{static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())},
                     Derived::IsRowMajor ? storage_order::row_major : storage_order::col_major};
}
}  // namespace quant_detail

/// Quantizes a tensor (Tensor or TensorMap of float, either layout; axes count dims as Eigen does) into a new
/// tensor of codes with the same dims and layout. Q must not be packed (use the buffer form for int4 / uint4).
template <class Q, class X, std::enable_if_t<quant_detail::is_eigen_tensor<X>::value, int> = 0>
Eigen::Tensor<Q, X::NumDimensions, X::Layout, typename X::Index> quantize(const X& x, const QParams<Q>& p) {
  static_assert(std::is_same<std::remove_const_t<typename X::Scalar>, float>::value, "qmath::quantize: x must hold float");
  static_assert(!int_traits<Q>::kPacked, "packed 4-bit codes have no Eigen element type: use the buffer form");
  Eigen::Tensor<Q, X::NumDimensions, X::Layout, typename X::Index> y(x.dimensions());
  quantize(x.data(), quant_detail::shape_of_tensor(x), p, y.data());
  return y;
}

/// Quantizes into an existing tensor or TensorMap of codes (over a user buffer); dims and layout must match.
template <class X, class Y,
          std::enable_if_t<quant_detail::is_eigen_tensor<X>::value &&
                               quant_detail::is_eigen_tensor<std::remove_reference_t<Y>>::value, int> = 0>
void quantize(const X& x, const QParams<std::remove_const_t<typename std::remove_reference_t<Y>::Scalar>>& p, Y&& y) {
  using Q = std::remove_const_t<typename std::remove_reference_t<Y>::Scalar>;
  static_assert(static_cast<int>(X::Layout) == static_cast<int>(std::remove_reference_t<Y>::Layout),
                "qmath::quantize: x and y must have the same layout");
  static_assert(!int_traits<Q>::kPacked, "packed 4-bit codes have no Eigen element type");
  qmath::detail::require(Eigen::dimensions_match(x.dimensions(), y.dimensions()), "qmath::quantize", "x and y dims differ");
  quantize(x.data(), quant_detail::shape_of_tensor(x), p, y.data());
}

/// Dequantizes a tensor of codes into a new float tensor with the same dims and layout.
template <class X, class Q = std::remove_const_t<typename X::Scalar>,
          std::enable_if_t<quant_detail::is_eigen_tensor<X>::value, int> = 0>
Eigen::Tensor<float, X::NumDimensions, X::Layout, typename X::Index> dequantize(const X& q, const QParams<Q>& p) {
  Eigen::Tensor<float, X::NumDimensions, X::Layout, typename X::Index> x(q.dimensions());
  dequantize(q.data(), quant_detail::shape_of_tensor(q), p, x.data());
  return x;
}

// ---- Eigen matrices, arrays and Maps (axis 0 = rows, axis 1 = columns) ----------------------------------------

/// Quantizes a dense, contiguous matrix / array / Map into a new matrix of codes with the same shape and storage
/// order. @throws qmath::error for a non-contiguous x (a block with an outer gap, a strided Map).
template <class Q, class Derived>
Eigen::Matrix<Q, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
              (Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor)>
quantize(const Eigen::DenseBase<Derived>& x, const QParams<Q>& p) {
  static_assert(std::is_same<typename Derived::Scalar, float>::value, "qmath::quantize: x must hold float");
  static_assert(!int_traits<Q>::kPacked, "packed 4-bit codes have no Eigen element type: use the buffer form");
  quant_detail::require_contiguous(x, "qmath::quantize", "x");
  Eigen::Matrix<Q, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
                (Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor)>
      y(x.rows(), x.cols());
  quantize(x.derived().data(), quant_detail::shape_of_matrix(x), p, y.data());
  return y;
}

/// Dequantizes a dense, contiguous matrix / Map of codes into a new float matrix (same shape and storage order).
template <class Derived, class Q = typename Derived::Scalar>
Eigen::Matrix<float, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
              (Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor)>
dequantize(const Eigen::DenseBase<Derived>& q, const QParams<Q>& p) {
  quant_detail::require_contiguous(q, "qmath::dequantize", "q");
  Eigen::Matrix<float, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
                (Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor)>
      x(q.rows(), q.cols());
  dequantize(q.derived().data(), quant_detail::shape_of_matrix(q), p, x.data());
  return x;
}

QMATH_END_NAMESPACE  // qmath
