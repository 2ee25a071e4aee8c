// SPDX-License-Identifier: Apache-2.0
// eigen.hpp: the one boundary between Eigen objects and qmath's raw-buffer API (core layer).
//
// Every public function that takes a tensor has a raw form (pointer + TensorShape, or pointer + sizes + leading
// dimension) and an Eigen form built on the views below, so the two always agree:
//   view(x)            Eigen::Tensor / TensorMap (either layout): data + dims in Eigen's order + storage order from
//                      the tensor's Layout. Eigen::Tensor is column-major unless declared RowMajor: the view says so,
//                      and every qmath function honours TensorShape::order, so axes always count as Eigen counts them.
//                      Tensor expressions (a + b, x.shuffle(...)) are evaluated into a temporary first (eval()).
//   view(m)            Matrix / Array / Map / Ref / Block: [rows, cols] in the object's storage order; it must be
//                      contiguous (inner stride 1, no outer gap), else qmath::error.
//   row_major_view(m)  a matrix as the GEMM reads it: rows, cols and the leading dimension (outer stride); a
//                      column-major operand does not compile (static_assert) rather than being read transposed.
// The raw TensorShape defaults to row-major while Eigen::Tensor defaults to column-major: pass Eigen objects through
// these views (or the Eigen overloads) instead of `x.data()` with a hand-written shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/quant/layout.hpp"

QMATH_BEGIN_NAMESPACE
namespace eigen_detail {

template <class T>
struct is_tensor : std::false_type {};
template <class S, int N, int O, class I>
struct is_tensor<Eigen::Tensor<S, N, O, I>> : std::true_type {};
template <class P, int O, template <class> class M>
struct is_tensor<Eigen::TensorMap<P, O, M>> : std::true_type {};
template <class T>
constexpr bool is_tensor_v = is_tensor<std::remove_cv_t<std::remove_reference_t<T>>>::value;

/// Any tensor expression (stored or not).
template <class T>
constexpr bool is_tensor_expression_v =
    std::is_base_of<Eigen::TensorBase<std::remove_cv_t<std::remove_reference_t<T>>, Eigen::ReadOnlyAccessors>,
                    std::remove_cv_t<std::remove_reference_t<T>>>::value;

/// Matrix, Array, Map, Ref, Block: anything with DenseBase.
template <class T>
constexpr bool is_dense_v =
    std::is_base_of<Eigen::DenseBase<std::remove_cv_t<std::remove_reference_t<T>>>, std::remove_cv_t<std::remove_reference_t<T>>>::value;

/// Eigen objects qmath takes as tensors: stored tensors and dense matrices / arrays.
template <class T>
constexpr bool is_eigen_v = is_tensor_v<T> || is_dense_v<T>;

/// Checks that a dense Eigen object with direct access is stored contiguously (no inner or outer gaps).
template <class Derived>
void require_contiguous(const Eigen::DenseBase<Derived>& x, const char* function, const char* name) {
  const auto& d = x.derived();
  const bool contiguous =
      d.size() == 0 || (d.innerStride() == 1 && (d.outerSize() <= 1 || d.outerStride() == d.innerSize()));
  detail::require(contiguous, function, std::string(name) + " must be stored contiguously (inner stride 1, no outer gap)");
}

template <class T>
TensorShape tensor_shape(const T& t) {
  TensorShape shape;
  shape.order = static_cast<int>(T::Layout) == static_cast<int>(Eigen::RowMajor) ? storage_order::row_major
                                                                                 : storage_order::col_major;
  for (int k = 0; k < T::NumDimensions; ++k) shape.dims.push_back(static_cast<std::int64_t>(t.dimension(k)));
  return shape;
}

}  // namespace eigen_detail

/// A dense tensor's memory as the raw-buffer API takes it. T is const for read-only views.
template <class T>
struct TensorView {
  T* data;
  TensorShape shape;
  std::size_t size() const {
    std::size_t n = 1;
    for (std::int64_t d : shape.dims) n *= static_cast<std::size_t>(d);
    return n;
  }
};

/// Eigen::Tensor / TensorMap: dims in Eigen's order, storage order from the Layout.
template <class X, std::enable_if_t<eigen_detail::is_tensor_v<X>, int> = 0>
auto view(X& x) {
  using Scalar = std::remove_reference_t<decltype(*x.data())>;
  return TensorView<Scalar>{x.data(), eigen_detail::tensor_shape(x)};
}

/// Matrix / Array / Map / Ref / Block: [rows, cols] in the storage order. @throws qmath::error unless contiguous.
template <class Derived>
auto view(const Eigen::DenseBase<Derived>& m, const char* function = "qmath::view", const char* name = "the operand") {
  eigen_detail::require_contiguous(m, function, name);
  using Scalar = std::remove_reference_t<decltype(*m.derived().data())>;
  return TensorView<const std::remove_const_t<Scalar>>{
      m.derived().data(),
      TensorShape{{static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())},
                  Derived::IsRowMajor ? storage_order::row_major : storage_order::col_major}};
}
template <class Derived>
auto view(Eigen::DenseBase<Derived>& m, const char* function = "qmath::view", const char* name = "the operand") {
  eigen_detail::require_contiguous(m, function, name);
  using Scalar = std::remove_reference_t<decltype(*m.derived().data())>;
  return TensorView<Scalar>{m.derived().data(),
                            TensorShape{{static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())},
                                        Derived::IsRowMajor ? storage_order::row_major : storage_order::col_major}};
}

/// A row-major matrix as the GEMM reads it (rows of `cols` elements, `ld` apart).
template <class T>
struct MatrixView {
  T* data;
  std::ptrdiff_t rows, cols, ld;
};

/// @throws qmath::error when the inner stride is not 1. Column-major matrices do not compile.
template <class Derived>
auto row_major_view(const Eigen::DenseBase<Derived>& m, const char* function = "qmath::row_major_view") {
  static_assert(Derived::IsRowMajor || Derived::ColsAtCompileTime == 1 || Derived::RowsAtCompileTime == 1,
                "qmath: this operand is read row by row; a column-major matrix would be read transposed. Declare it "
                "Eigen::RowMajor (or pass its transpose with the other order).");
  const auto& d = m.derived();
  detail::require(d.size() == 0 || d.innerStride() == 1, function, "the matrix must have inner stride 1");
  using Scalar = std::remove_reference_t<decltype(*d.data())>;
  const std::ptrdiff_t ld = Derived::IsRowMajor ? static_cast<std::ptrdiff_t>(d.outerStride()) : static_cast<std::ptrdiff_t>(d.cols());
  return MatrixView<const std::remove_const_t<Scalar>>{d.data(), static_cast<std::ptrdiff_t>(d.rows()),
                                                       static_cast<std::ptrdiff_t>(d.cols()), ld};
}
template <class Derived>
auto row_major_view(Eigen::DenseBase<Derived>& m, const char* function = "qmath::row_major_view") {
  static_assert(Derived::IsRowMajor || Derived::ColsAtCompileTime == 1 || Derived::RowsAtCompileTime == 1,
                "qmath: this operand is written row by row; a column-major matrix would be written transposed. "
                "Declare it Eigen::RowMajor.");
  auto& d = m.derived();
  detail::require(d.size() == 0 || d.innerStride() == 1, function, "the matrix must have inner stride 1");
  using Scalar = std::remove_reference_t<decltype(*d.data())>;
  const std::ptrdiff_t ld = Derived::IsRowMajor ? static_cast<std::ptrdiff_t>(d.outerStride()) : static_cast<std::ptrdiff_t>(d.cols());
  return MatrixView<Scalar>{d.data(), static_cast<std::ptrdiff_t>(d.rows()), static_cast<std::ptrdiff_t>(d.cols()), ld};
}

QMATH_END_NAMESPACE  // qmath
