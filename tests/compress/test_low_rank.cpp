// SPDX-License-Identifier: Apache-2.0
// Low rank: singular values against Jacobi, the truncation's error against Eckart-Young, the rank rules on known
// spectra, the randomized SVD against BDCSVD, and the factored Linear / Conv2d layers against the product weights.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/compress/low_rank.hpp"

namespace {

namespace compress = qmath::compress;
namespace nn = qmath::nn;

Eigen::MatrixXf random_matrix(Eigen::Index rows, Eigen::Index cols, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

// U diag(s) V^T with random orthonormal U, V: a matrix of known spectrum.
Eigen::MatrixXf with_spectrum(Eigen::Index rows, Eigen::Index cols, const Eigen::VectorXd& s, std::mt19937& rng) {
  const Eigen::MatrixXd u = Eigen::HouseholderQR<Eigen::MatrixXd>(random_matrix(rows, rows, rng).cast<double>()).householderQ();
  const Eigen::MatrixXd v = Eigen::HouseholderQR<Eigen::MatrixXd>(random_matrix(cols, cols, rng).cast<double>()).householderQ();
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(rows, cols);
  for (Eigen::Index i = 0; i < s.size(); ++i) d(i, i) = s(i);
  return (u * d * v.transpose()).cast<float>();
}

nn::Tensor4 random_tensor(std::ptrdiff_t n, std::ptrdiff_t h, std::ptrdiff_t w, std::ptrdiff_t c, std::mt19937& rng) {
  nn::Tensor4 x(n, h, w, c);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

double max_abs_diff(const nn::Tensor4& a, const nn::Tensor4& b) {
  EXPECT_EQ(a.dimensions(), b.dimensions());
  double d = 0.0;
  for (Eigen::Index i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]));
  return d;
}

TEST(LowRank, SingularValuesMatchJacobi) {
  std::mt19937 rng(1);
  for (auto [r, c] : {std::pair<int, int>{7, 5}, {5, 7}, {40, 40}, {1, 9}}) {
    const Eigen::MatrixXf m = random_matrix(r, c, rng);
    const Eigen::VectorXd s = compress::singular_values(m);
    const Eigen::VectorXd j = Eigen::JacobiSVD<Eigen::MatrixXd>(m.cast<double>()).singularValues();
    ASSERT_EQ(s.size(), j.size());
    for (Eigen::Index i = 0; i < s.size(); ++i) EXPECT_NEAR(s(i), j(i), 1e-9 * j(0));
  }
}

TEST(LowRank, TruncationErrorIsEckartYoung) {
  std::mt19937 rng(2);
  const Eigen::MatrixXf w = random_matrix(30, 20, rng);
  const Eigen::VectorXd s = compress::singular_values(w);
  for (Eigen::Index r : {1, 5, 13, 20}) {
    const compress::LowRank f = compress::truncated_svd(w, r);
    EXPECT_EQ(f.rank(), r);
    EXPECT_EQ(f.left.rows(), 30);
    EXPECT_EQ(f.right.cols(), 20);
    const double err = (w - f.product()).norm() / w.norm();
    EXPECT_NEAR(err, compress::truncation_error(s, r), 1e-5) << r;
  }
  // Row-major and mapped inputs factor the same matrix.
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = w;
  EXPECT_LT((compress::truncated_svd(row_major, 4).product() - compress::truncated_svd(w, 4).product()).norm(), 1e-4f);
}

TEST(LowRank, RankRulesOnAKnownSpectrum) {
  const Eigen::VectorXd s = (Eigen::VectorXd(4) << 4.0, 3.0, 2.0, 1.0).finished();  // energies 16, 9, 4, 1 of 30
  EXPECT_EQ(compress::rank_for_energy(s, 0.0), 1);
  EXPECT_EQ(compress::rank_for_energy(s, 16.0 / 30.0), 1);
  EXPECT_EQ(compress::rank_for_energy(s, 25.0 / 30.0), 2);
  EXPECT_EQ(compress::rank_for_energy(s, 0.84), 3);
  EXPECT_EQ(compress::rank_for_energy(s, 1.0), 4);
  // Error of rank r: sqrt(tail energy / 30): r=1 0.6831, r=2 0.4082, r=3 0.1826.
  EXPECT_EQ(compress::rank_for_error(s, 0.69), 1);
  EXPECT_EQ(compress::rank_for_error(s, 0.68), 2);
  EXPECT_EQ(compress::rank_for_error(s, 0.41), 2);
  EXPECT_EQ(compress::rank_for_error(s, 0.40), 3);
  EXPECT_EQ(compress::rank_for_error(s, 0.0), 4);
  EXPECT_NEAR(compress::truncation_error(s, 2), std::sqrt(5.0 / 30.0), 1e-15);
  EXPECT_EQ(compress::rank_for_budget(10, 20, 90), 3);
  EXPECT_EQ(compress::rank_for_budget(10, 20, 29), 0);
  EXPECT_EQ(compress::rank_for_budget(10, 20, 100000), 10);
  EXPECT_THROW(compress::rank_for_energy(s, 1.5), qmath::error);
  EXPECT_THROW(compress::rank_for_error(s, -0.1), qmath::error);
}

TEST(LowRank, RandomizedSvdMatchesBdcsvd) {
  std::mt19937 rng(3);
  // A slowly decaying spectrum plus an exactly low-rank matrix.
  Eigen::VectorXd s(60);
  for (Eigen::Index i = 0; i < 60; ++i) s(i) = std::pow(0.9, static_cast<double>(i));
  const Eigen::MatrixXf w = with_spectrum(80, 60, s, rng);
  for (Eigen::Index r : {5, 20}) {
    const double best = compress::truncation_error(s, r) * s.norm();
    const double got = (w - compress::randomized_svd(w, r).product()).norm();
    EXPECT_LE(got, best * 1.01 + 1e-6) << "rank " << r;
    EXPECT_GE(got, best * (1.0 - 1e-4)) << "rank " << r;  // nothing beats the optimum
  }
  const Eigen::MatrixXf low = random_matrix(50, 6, rng) * random_matrix(6, 70, rng);
  EXPECT_LT((low - compress::randomized_svd(low, 6, 4, 0).product()).norm(), 1e-4 * low.norm());
  // Deterministic for a seed.
  EXPECT_EQ(compress::randomized_svd(w, 7, 5, 1, 42).left, compress::randomized_svd(w, 7, 5, 1, 42).left);
}

TEST(LowRank, LinearSplitsIntoTwoLinears) {
  std::mt19937 rng(4);
  const nn::Linear::Matrix w = random_matrix(12, 20, rng);
  const Eigen::VectorXf b = random_matrix(12, 1, rng);
  const nn::Linear layer(w.data(), 12, 20, b.data());
  const nn::Tensor4 x = random_tensor(5, 1, 1, 20, rng);
  const auto full = compress::low_rank_linear(layer, 12);
  EXPECT_LT(max_abs_diff(full.second.forward(full.first.forward(x)), layer.forward(x)), 1e-4);
  const auto low = compress::low_rank_linear(layer, 3);
  EXPECT_EQ(low.first.out_features(), 3);
  EXPECT_EQ(low.second.in_features(), 3);
  const compress::LowRank f = compress::truncated_svd(w, 3);
  const nn::Linear::Matrix product = f.product();
  const nn::Linear expected(product.data(), 12, 20, b.data());
  EXPECT_LT(max_abs_diff(low.second.forward(low.first.forward(x)), expected.forward(x)), 1e-4);
  EXPECT_THROW(compress::low_rank_linear(layer, 13), qmath::error);
  EXPECT_THROW(compress::low_rank_linear(layer, 0), qmath::error);
}

TEST(LowRank, ConvSplitsIntoKxKThenPointwise) {
  std::mt19937 rng(5);
  qmath::ConvParams p;
  p.in_channels = 3;
  p.out_channels = 6;
  p.kernel_h = 3;
  p.kernel_w = 2;
  p.stride_h = 2;
  p.pad_top = 1;
  p.pad_right = 1;
  p.dilation_w = 2;
  const Eigen::MatrixXf w = random_matrix(6 * 3 * 3 * 2, 1, rng), b = random_matrix(6, 1, rng);
  const nn::Conv2d conv(p, w.data(), b.data());
  const nn::Tensor4 x = random_tensor(2, 9, 8, 3, rng);
  const auto full = compress::low_rank_conv2d(conv, 6);
  EXPECT_LT(max_abs_diff(full.second.forward(full.first.forward(x)), conv.forward(x)), 1e-4);
  // Rank 2: the same as a conv with the rank-2 product weights.
  const auto low = compress::low_rank_conv2d(conv, 2);
  EXPECT_EQ(low.first.filter().out_channels, 2);
  EXPECT_EQ(low.second.filter().kernel_h, 1);
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMatrix product = compress::truncated_svd(Eigen::Map<const RowMatrix>(w.data(), 6, 18), 2).product();
  const nn::Conv2d expected(p, product.data(), b.data());
  EXPECT_LT(max_abs_diff(low.second.forward(low.first.forward(x)), expected.forward(x)), 1e-4);
  qmath::ConvParams grouped = p;
  grouped.groups = 3;
  const nn::Conv2d g(grouped, w.data(), b.data());
  EXPECT_THROW(compress::low_rank_conv2d(g, 1), qmath::error);
}

TEST(LowRank, LayerOfASequential) {
  std::mt19937 rng(6);
  qmath::ConvParams p;
  p.in_channels = 2;
  p.out_channels = 4;
  p.kernel_h = p.kernel_w = 3;
  const Eigen::MatrixXf cw = random_matrix(4 * 2 * 9, 1, rng), lw = random_matrix(5, 4 * 4 * 4, rng);
  const nn::Linear::Matrix lw_rows = lw;
  const nn::Sequential model({nn::Conv2d(p, cw.data(), nullptr), nn::ReLU{}, nn::Flatten{},
                              nn::Linear(lw_rows.data(), 5, 64, nullptr)});
  const nn::Tensor4 x = random_tensor(3, 6, 6, 2, rng);
  const nn::Sequential split = compress::low_rank_layer(model, 0, 4);
  ASSERT_EQ(split.layers().size(), 5u);
  EXPECT_LT(max_abs_diff(split.forward(x), model.forward(x)), 1e-4);
  const nn::Sequential fc = compress::low_rank_layer(model, 3, 2);
  ASSERT_EQ(fc.layers().size(), 5u);
  EXPECT_EQ(compress::low_rank_parameters(model, 3, 2), (std::pair<std::size_t, std::size_t>{5 * 64 + 5, 2 * (64 + 5) + 5}));
  EXPECT_THROW(compress::low_rank_layer(model, 1, 2), qmath::error);  // a ReLU
  EXPECT_THROW(compress::low_rank_layer(model, 9, 2), qmath::error);
}

TEST(LowRank, BadInput) {
  Eigen::MatrixXf w = Eigen::MatrixXf::Ones(3, 3);
  w(1, 1) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(compress::singular_values(w), qmath::error);
  EXPECT_THROW(compress::truncated_svd(w, 1), qmath::error);
  EXPECT_THROW(compress::singular_values(Eigen::MatrixXf(0, 3)), qmath::error);
  EXPECT_THROW(compress::randomized_svd(Eigen::MatrixXf::Ones(3, 3), 4), qmath::error);
}

}  // namespace
