// SPDX-License-Identifier: Apache-2.0
// tests/core/test_eigen.cpp: the Eigen boundary (qmath/eigen.hpp) and the Eigen forms built on it: every form equals
// the raw form on the same memory, axes count as Eigen counts them in either layout (a column-major operand is never
// read transposed), non-contiguous operands are refused. tests/core/compile_fail_col_major_gemm.cpp checks that a
// column-major GEMM operand does not compile.
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/calib/histogram.hpp"
#include "qmath/calib/observers.hpp"
#include "qmath/eigen.hpp"
#include "qmath/gemm.hpp"
#include "qmath/metrics.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/fake_quant.hpp"

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMatrix = Eigen::MatrixXf;

RowMatrix random_matrix(int rows, int cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  RowMatrix m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = normal(rng) * static_cast<float>(1 + i);  // rows differ in range
  return m;
}

TEST(EigenBoundary, ViewsCarryDimsAndStorageOrder) {
  Eigen::Tensor<float, 3> col(2, 3, 4);
  Eigen::Tensor<float, 3, Eigen::RowMajor> row(2, 3, 4);
  const auto vc = qmath::view(col), vr = qmath::view(row);
  EXPECT_EQ(vc.shape.dims, (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(vc.shape.order, qmath::storage_order::col_major);
  EXPECT_EQ(vr.shape.order, qmath::storage_order::row_major);
  EXPECT_EQ(vr.size(), 24u);
  ColMatrix m(5, 7);
  EXPECT_EQ(qmath::view(m).shape.order, qmath::storage_order::col_major);
  EXPECT_EQ(qmath::view(RowMatrix(5, 7)).shape.dims, (std::vector<std::int64_t>{5, 7}));
  // A block with an outer gap is not contiguous.
  EXPECT_THROW(qmath::view(m.block(0, 0, 3, 3)), qmath::error);
  EXPECT_NO_THROW(qmath::view(m.block(0, 0, 5, 3)));  // whole columns of a column-major matrix
  const auto rv = qmath::row_major_view(RowMatrix(4, 6).block(1, 1, 2, 3));
  EXPECT_EQ(rv.ld, 6);
  EXPECT_EQ(rv.rows, 2);
}

// Per channel along axis 0 means per row in both storage orders: the README's old example fed a column-major tensor's
// data() with a row-major TensorShape and got per-column parameters; the Eigen forms cannot.
TEST(EigenBoundary, PerChannelMeansTheSameAxisInBothLayouts) {
  const RowMatrix w = random_matrix(6, 40, 1);
  const ColMatrix w_col = w;
  Eigen::Tensor<float, 2, Eigen::RowMajor> t_row(6, 40);
  Eigen::Tensor<float, 2> t_col(6, 40);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 40; ++j) t_row(i, j) = t_col(i, j) = w(i, j);
  qmath::ChooseOptions o;
  o.kind = qmath::scheme::symmetric;
  const auto raw = qmath::choose_qparams<std::int8_t>(w.data(), qmath::TensorShape{{6, 40}}, qmath::per_channel(0), o);
  ASSERT_EQ(raw.scale.size(), 6u);
  for (const auto& p : {qmath::choose_qparams<std::int8_t>(w, qmath::per_channel(0), o),
                        qmath::choose_qparams<std::int8_t>(w_col, qmath::per_channel(0), o),
                        qmath::choose_qparams<std::int8_t>(t_row, qmath::per_channel(0), o),
                        qmath::choose_qparams<std::int8_t>(t_col, qmath::per_channel(0), o)})
    EXPECT_EQ(p.scale, raw.scale);

  qmath::MinMaxObserver a(qmath::per_channel(0)), b(qmath::per_channel(0)), c(qmath::per_channel(0));
  a.update(w_col);
  b.update(t_col);
  c.update(w.data(), qmath::TensorShape{{6, 40}});
  EXPECT_EQ(a.ranges().min, c.ranges().min);
  EXPECT_EQ(b.ranges().max, c.ranges().max);
  EXPECT_THROW(a.update(w_col.block(0, 0, 3, 40)), qmath::error);  // non-contiguous
}

TEST(EigenBoundary, EigenFormsEqualTheRawForms) {
  const RowMatrix w = random_matrix(8, 33, 2);
  const ColMatrix w_col = w;
  const auto p = qmath::choose_qparams<std::int8_t>(w, qmath::per_channel(0));

  // Fake quantization.
  std::vector<float> raw(static_cast<std::size_t>(w.size()));
  std::vector<std::uint8_t> raw_mask(raw.size()), mask;
  qmath::fake_quantize(w.data(), qmath::TensorShape{{8, 33}}, p, raw.data(), raw_mask.data());
  const RowMatrix fq = qmath::fake_quantize(w, p, &mask);
  EXPECT_EQ(mask, raw_mask);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 33; ++j) ASSERT_EQ(fq(i, j), raw[static_cast<std::size_t>(i * 33 + j)]);
  const ColMatrix fq_col = qmath::fake_quantize(w_col, p);
  EXPECT_TRUE(fq_col == fq);

  // Metrics.
  const qmath::ErrorStats e_raw = qmath::quantization_error(w.data(), qmath::TensorShape{{8, 33}}, p);
  EXPECT_EQ(qmath::quantization_error(w_col, p).sqnr_db, e_raw.sqnr_db);
  EXPECT_EQ(qmath::error_stats(w, fq).mse, qmath::error_stats(w.data(), raw.data(), raw.size()).mse);
  EXPECT_THROW(qmath::error_stats(w, fq_col), qmath::error);  // same dims, different orders

  // Histogram.
  qmath::HistogramObserver h1(128, 8), h2(128, 8);
  h1.update(w_col);
  h2.update(w.data(), static_cast<std::size_t>(w.size()));
  EXPECT_EQ(h1.min(), h2.min());
  EXPECT_EQ(h1.max(), h2.max());
}

// Weights in a column-major matrix are packed as what they are, not as their transpose.
TEST(EigenBoundary, GemmTakesEigenOperandsInEitherWeightOrder) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  const int m = 5, k = 37, n = 11;
  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> a(m, k);
  Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> w(n, k);  // [out, in]
  for (int i = 0; i < a.size(); ++i) a.data()[i] = static_cast<std::uint8_t>(u8(rng));
  for (int i = 0; i < w.size(); ++i) w.data()[i] = static_cast<std::int8_t>(s8(rng));
  const Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic> w_col = w;                    // N x K column-major
  const Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> wt = w.transpose();  // K x N
  const std::int32_t za = 100, zw = 0;
  Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> expected(m, n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      std::int32_t sum = 0;
      for (int q = 0; q < k; ++q) sum += (a(i, q) - za) * w(j, q);
      expected(i, j) = sum;
    }
  for (const qmath::PackedGemmB& packed :
       {qmath::pack_gemm_b(w, qmath::gemm_b_order::n_by_k, &zw, 1), qmath::pack_gemm_b(w_col, qmath::gemm_b_order::n_by_k, &zw, 1),
        qmath::pack_gemm_b(wt, qmath::gemm_b_order::k_by_n, &zw, 1),
        qmath::pack_gemm_b(Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic>(wt), qmath::gemm_b_order::k_by_n, &zw, 1)}) {
    Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> c(m, n);
    const auto out = qmath::row_major_view(c);
    qmath::gemm(qmath::gemm_a(a, &za), packed, qmath::GemmOutputInt32{out.data, out.ld});
    EXPECT_TRUE(c == expected);
  }
  // A block of rows of A (outer stride > cols) is read with its leading dimension.
  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> wide(m, k + 9);
  wide.leftCols(k) = a;
  Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> c(m, n);
  qmath::gemm(qmath::gemm_a(wide.leftCols(k), &za), qmath::pack_gemm_b(w, qmath::gemm_b_order::n_by_k, &zw, 1),
              qmath::GemmOutputInt32{c.data(), n});
  EXPECT_TRUE(c == expected);
}

}  // namespace
