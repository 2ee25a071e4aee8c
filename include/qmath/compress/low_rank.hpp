// SPDX-License-Identifier: Apache-2.0
// compress/low_rank.hpp: truncated SVD of weight matrices (Eigen's BDCSVD, or a randomized SVD for large ones),
// the rank chosen by energy, by an error target or by a parameter budget, and the layers that result: a Linear
// [out, in] becomes Linear(in -> r) then Linear(r -> out); a Conv2d (weights reshaped OC x IC*KH*KW) becomes a KHxKW
// convolution with r filters then a 1x1 convolution to OC.
//
//   const Eigen::VectorXd s = compress::singular_values(w);                    // w: any dense Eigen matrix
//   const Eigen::Index r = compress::rank_for_energy(s, 0.95);
//   const compress::LowRank f = compress::truncated_svd(w, r);                  // w ~ f.left * f.right
//   nn::Sequential smaller = compress::low_rank_layer(model, 6, r);              // layer 6 split in two
//
// By Eckart-Young the rank-r truncation is the best rank-r approximation in the Frobenius norm, with error
// sqrt(sum_{i >= r} s_i^2); the rank rules below use that identity, so they need the singular values only. The
// SVD runs in double; the factors are fp32, balanced (left = U_r sqrt(S_r), right = sqrt(S_r) V_r^T).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Dense>
#include <Eigen/SVD>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/nn/model.hpp"

QMATH_BEGIN_NAMESPACE
namespace compress {

/// A rank-r factorization: the matrix is approximated by left (rows x r) * right (r x cols).
struct LowRank {
  Eigen::MatrixXf left, right;
  Eigen::Index rank() const noexcept { return left.cols(); }
  Eigen::MatrixXf product() const { return left * right; }
  std::size_t parameter_count() const noexcept { return static_cast<std::size_t>(left.size() + right.size()); }
};

namespace detail {

template <class Derived>
Eigen::MatrixXd to_double(const Eigen::MatrixBase<Derived>& w, const char* fn) {
  qmath::detail::require(w.rows() >= 1 && w.cols() >= 1, fn, "the matrix is empty");
  const Eigen::MatrixXd d = w.template cast<double>();
  qmath::detail::require(d.allFinite(), fn, "the matrix holds a non-finite value");
  return d;
}

inline LowRank balanced_factors(const Eigen::MatrixXd& u, const Eigen::VectorXd& s, const Eigen::MatrixXd& v, Eigen::Index r) {
  const Eigen::VectorXd root = s.head(r).cwiseSqrt();
  LowRank f;
  f.left = (u.leftCols(r) * root.asDiagonal()).cast<float>();
  f.right = (root.asDiagonal() * v.leftCols(r).transpose()).cast<float>();
  return f;
}

inline void check_rank(Eigen::Index rank, Eigen::Index rows, Eigen::Index cols, const char* fn) {
  qmath::detail::require(rank >= 1 && rank <= std::min(rows, cols), fn,
                         "rank " + std::to_string(rank) + " is outside [1, min(rows, cols) = " +
                             std::to_string(std::min(rows, cols)) + "]");
}

}  // namespace detail

/// All singular values, largest first. @throws qmath::error on an empty or non-finite matrix.
template <class Derived>
Eigen::VectorXd singular_values(const Eigen::MatrixBase<Derived>& w) {
  const Eigen::MatrixXd d = detail::to_double(w, "qmath::compress::singular_values");
  return Eigen::BDCSVD<Eigen::MatrixXd>(d).singularValues();
}

/// The smallest rank keeping at least `fraction` of the energy sum s_i^2 (fraction in [0, 1]; at least 1).
inline Eigen::Index rank_for_energy(const Eigen::VectorXd& s, double fraction) {
  constexpr const char* fn = "qmath::compress::rank_for_energy";
  qmath::detail::require(s.size() >= 1, fn, "no singular values");
  qmath::detail::require(fraction >= 0.0 && fraction <= 1.0, fn, "fraction must be in [0, 1]");
  const double total = s.squaredNorm();
  double kept = 0.0;
  for (Eigen::Index r = 1; r <= s.size(); ++r) {
    kept += s(r - 1) * s(r - 1);
    if (kept >= fraction * total) return r;
  }
  return s.size();
}

/// The smallest rank whose truncation error ||W - W_r||_F is at most relative_error * ||W||_F.
inline Eigen::Index rank_for_error(const Eigen::VectorXd& s, double relative_error) {
  constexpr const char* fn = "qmath::compress::rank_for_error";
  qmath::detail::require(s.size() >= 1, fn, "no singular values");
  qmath::detail::require(relative_error >= 0.0, fn, "relative_error must be >= 0");
  const double limit = relative_error * relative_error * s.squaredNorm();
  for (Eigen::Index r = 1; r < s.size(); ++r)
    if (s.tail(s.size() - r).squaredNorm() <= limit) return r;
  return s.size();
}

/// The largest rank whose two factors hold at most max_parameters values (r (rows + cols) <= max_parameters), or 0
/// when even rank 1 does not fit. Capped at min(rows, cols).
inline Eigen::Index rank_for_budget(Eigen::Index rows, Eigen::Index cols, std::size_t max_parameters) {
  qmath::detail::require(rows >= 1 && cols >= 1, "qmath::compress::rank_for_budget", "rows and cols must be >= 1");
  const auto r = static_cast<Eigen::Index>(max_parameters / static_cast<std::size_t>(rows + cols));
  return std::min(r, std::min(rows, cols));
}

/// Relative Frobenius error of the rank-r truncation, from the singular values: sqrt(sum_{i >= r} s_i^2) / ||s||.
inline double truncation_error(const Eigen::VectorXd& s, Eigen::Index rank) {
  qmath::detail::require(rank >= 0 && rank <= s.size(), "qmath::compress::truncation_error", "rank out of range");
  const double total = s.squaredNorm();
  return total == 0.0 ? 0.0 : std::sqrt(s.tail(s.size() - rank).squaredNorm() / total);
}

/// The best rank-r approximation (BDCSVD). @throws qmath::error on an empty or non-finite matrix or a rank outside
/// [1, min(rows, cols)].
template <class Derived>
LowRank truncated_svd(const Eigen::MatrixBase<Derived>& w, Eigen::Index rank) {
  constexpr const char* fn = "qmath::compress::truncated_svd";
  const Eigen::MatrixXd d = detail::to_double(w, fn);
  detail::check_rank(rank, d.rows(), d.cols(), fn);
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(d, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return detail::balanced_factors(svd.matrixU(), svd.singularValues(), svd.matrixV(), rank);
}

/// Halko, Martinsson and Tropp's randomized SVD: a Gaussian sketch of rank + oversample columns, power_iterations
/// rounds of re-orthonormalized power iteration (they sharpen a slowly decaying spectrum), then an exact SVD of the
/// small projected matrix. Costs O(rows cols (rank + oversample)) instead of a full SVD; deterministic for a seed.
template <class Derived>
LowRank randomized_svd(const Eigen::MatrixBase<Derived>& w, Eigen::Index rank, Eigen::Index oversample = 10,
                       int power_iterations = 2, std::uint64_t seed = 0) {
  constexpr const char* fn = "qmath::compress::randomized_svd";
  const Eigen::MatrixXd a = detail::to_double(w, fn);
  detail::check_rank(rank, a.rows(), a.cols(), fn);
  qmath::detail::require(oversample >= 0 && power_iterations >= 0, fn, "oversample and power_iterations must be >= 0");
  const Eigen::Index sketch = std::min(rank + oversample, std::min(a.rows(), a.cols()));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  Eigen::MatrixXd omega(a.cols(), sketch);
  for (Eigen::Index i = 0; i < omega.size(); ++i) omega.data()[i] = gauss(rng);
  auto orthonormal = [](const Eigen::MatrixXd& y) {
    return Eigen::MatrixXd(Eigen::HouseholderQR<Eigen::MatrixXd>(y).householderQ() * Eigen::MatrixXd::Identity(y.rows(), y.cols()));
  };
  Eigen::MatrixXd q = orthonormal(a * omega);
  for (int it = 0; it < power_iterations; ++it) {
    const Eigen::MatrixXd z = orthonormal(a.transpose() * q);
    q = orthonormal(a * z);
  }
  const Eigen::MatrixXd b = q.transpose() * a;  // sketch x cols
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(b, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return detail::balanced_factors(q * svd.matrixU(), svd.singularValues(), svd.matrixV(), rank);
}

// The layer-level functions below are templates (over nn::Linear, nn::Conv2d, nn::Sequential only) so that Eigen's
// SVD, about 20 s of compile time, is instantiated in the programs that call them and not in every file that
// includes qmath.hpp.

/// Linear(in -> out) as Linear(in -> r, no bias) then Linear(r -> out, the bias).
template <class Linear, std::enable_if_t<std::is_same_v<Linear, nn::Linear>, int> = 0>
std::pair<Linear, Linear> low_rank_linear(const Linear& layer, Eigen::Index rank) {
  const LowRank f = truncated_svd(layer.weight(), rank);
  const nn::Linear::Matrix right = f.right, left = f.left;  // row-major copies for the constructors
  return {nn::Linear(right.data(), rank, layer.in_features(), nullptr),
          nn::Linear(left.data(), layer.out_features(), rank, layer.bias().data())};
}

/// Conv2d (groups 1) as a conv with r filters of the same kernel, stride, padding and dilation (no bias), then a
/// 1x1 conv to the output channels with the bias. @throws qmath::error for grouped convolutions.
template <class Conv2d, std::enable_if_t<std::is_same_v<Conv2d, nn::Conv2d>, int> = 0>
std::pair<Conv2d, Conv2d> low_rank_conv2d(const Conv2d& layer, Eigen::Index rank) {
  const ConvParams& p = layer.filter();
  qmath::detail::require(p.groups == 1, "qmath::compress::low_rank_conv2d", "grouped convolutions are not supported");
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index k = p.in_channels * p.kernel_h * p.kernel_w;
  const LowRank f = truncated_svd(Eigen::Map<const RowMatrix>(layer.weight().data(), p.out_channels, k), rank);
  const RowMatrix right = f.right, left = f.left;  // r x (IC KH KW) is OIHW for r filters; OC x r is OIHW for 1x1
  ConvParams spatial = p;
  spatial.out_channels = rank;
  ConvParams pointwise;
  pointwise.in_channels = rank;
  pointwise.out_channels = p.out_channels;
  return {nn::Conv2d(spatial, right.data(), nullptr), nn::Conv2d(pointwise, left.data(), layer.bias().data())};
}

/// Parameters (weights and biases) of the layer at `index` before and after low_rank_layer at `rank`.
inline std::pair<std::size_t, std::size_t> low_rank_parameters(const nn::Sequential& model, std::size_t index, Eigen::Index rank) {
  constexpr const char* fn = "qmath::compress::low_rank_parameters";
  qmath::detail::require(index < model.layers().size(), fn, "layer index out of range");
  const nn::Layer& layer = model.layers()[index];
  if (const auto* l = std::get_if<nn::Linear>(&layer))
    return {static_cast<std::size_t>(l->weight().size() + l->bias().size()),
            static_cast<std::size_t>(rank * (l->in_features() + l->out_features()) + l->out_features())};
  if (const auto* c = std::get_if<nn::Conv2d>(&layer)) {
    const ConvParams& p = c->filter();
    return {c->weight_count() + c->bias().size(),
            static_cast<std::size_t>(rank * (p.in_channels / p.groups * p.kernel_h * p.kernel_w + p.out_channels) + p.out_channels)};
  }
  qmath::detail::fail(fn, std::string("layer ") + std::to_string(index) + " (" + nn::layer_name(layer) + ") is not a Conv2d or Linear");
}

/// A copy of the model with the Conv2d or Linear at `index` (of model.layers()) replaced by its two rank-r layers.
/// @throws qmath::error on another layer kind or a bad rank.
template <class Sequential, std::enable_if_t<std::is_same_v<Sequential, nn::Sequential>, int> = 0>
Sequential low_rank_layer(const Sequential& model, std::size_t index, Eigen::Index rank) {
  constexpr const char* fn = "qmath::compress::low_rank_layer";
  qmath::detail::require(index < model.layers().size(), fn, "layer index out of range");
  auto layers = model.layers();
  const auto& target = layers[index];
  std::vector<nn::Layer> pair;
  if (const auto* l = std::get_if<nn::Linear>(&target)) {
    auto two = low_rank_linear(*l, rank);
    pair = {std::move(two.first), std::move(two.second)};
  } else if (const auto* c = std::get_if<nn::Conv2d>(&target)) {
    auto two = low_rank_conv2d(*c, rank);
    pair = {std::move(two.first), std::move(two.second)};
  } else {
    qmath::detail::fail(fn, std::string("layer ") + std::to_string(index) + " (" + nn::layer_name(target) + ") is not a Conv2d or Linear");
  }
  layers.erase(layers.begin() + static_cast<std::ptrdiff_t>(index));
  layers.insert(layers.begin() + static_cast<std::ptrdiff_t>(index), pair.begin(), pair.end());
  return nn::Sequential(std::move(layers));
}

}  // namespace compress
QMATH_END_NAMESPACE  // qmath
