// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_quantize_api.cpp: the tensor API against a naive element-by-element model: random shapes of rank
// 1-4 in both storage orders, every axis (negative too), per-channel and per-group (partial last groups), every code
// type (packed int4 / uint4, int32, float zero points), every compiled ISA path; and the Eigen adapters.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/kernels/ref/quantize.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::Granularity;
using qmath::granularity_kind;
using qmath::QParams;
using qmath::storage_order;
using qmath::TensorShape;

/// Coordinates of the element at memory offset i.
std::vector<std::int64_t> coordinates(const TensorShape& s, std::size_t i) {
  const std::size_t rank = s.dims.size();
  std::vector<std::int64_t> c(rank);
  for (std::size_t k = 0; k < rank; ++k) {
    const std::size_t d = s.order == storage_order::row_major ? rank - 1 - k : k;  // fastest dim first
    c[d] = static_cast<std::int64_t>(i % static_cast<std::size_t>(s.dims[d]));
    i /= static_cast<std::size_t>(s.dims[d]);
  }
  return c;
}

/// The parameter slot of the element at coordinates c, straight from the definition in qparams.hpp.
std::size_t slot_of(const TensorShape& s, const Granularity& g, std::vector<std::int64_t> c) {
  if (g.kind == granularity_kind::per_tensor) return 0;
  const auto rank = static_cast<int>(s.dims.size());
  const int axis = g.axis < 0 ? g.axis + rank : g.axis;
  if (g.kind == granularity_kind::per_channel) return static_cast<std::size_t>(c[axis]);
  std::vector<std::int64_t> pdims = s.dims;  // the parameter tensor: dim[axis] -> ceil(dim / G), same order
  pdims[axis] = (s.dims[axis] + g.group_size - 1) / g.group_size;
  c[axis] /= g.group_size;
  std::size_t index = 0;
  for (int k = 0; k < rank; ++k) {
    const int d = s.order == storage_order::row_major ? k : rank - 1 - k;  // slowest dim first
    index = index * static_cast<std::size_t>(pdims[d]) + static_cast<std::size_t>(c[d]);
  }
  return index;
}

std::size_t slot_count(const TensorShape& s, const Granularity& g) {
  if (g.kind == granularity_kind::per_tensor) return 1;
  const auto rank = static_cast<int>(s.dims.size());
  const int axis = g.axis < 0 ? g.axis + rank : g.axis;
  if (g.kind == granularity_kind::per_channel) return static_cast<std::size_t>(s.dims[axis]);
  std::size_t n = 1;
  for (int k = 0; k < rank; ++k)
    n *= static_cast<std::size_t>(k == axis ? (s.dims[k] + g.group_size - 1) / g.group_size : s.dims[k]);
  return n;
}

template <class Q>
QParams<Q> random_params(std::size_t slots, const Granularity& g, qmath::profile prof, bool float_zp,
                         std::mt19937& rng) {
  QParams<Q> p;
  p.granularity = g;
  p.numerics = prof;
  p.scale.resize(slots);
  p.zero_point.resize(slots);
  const std::int64_t lo = qmath::int_traits<Q>::kMin, hi = qmath::int_traits<Q>::kMax;
  for (std::size_t k = 0; k < slots; ++k) {
    p.scale[k] = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 12));
    const std::uint64_t span = static_cast<std::uint64_t>(hi - lo) + 1;
    p.zero_point[k] = static_cast<std::int32_t>(lo + static_cast<std::int64_t>(rng() % span));
  }
  if (float_zp) {
    p.float_zero_point.resize(slots);
    for (auto& z : p.float_zero_point) z = static_cast<float>(rng() % 200) / 7.0f;
    p.qmin = std::max<std::int32_t>(p.qmin, 0);
  }
  return p;
}

template <class Q>
void check_against_model(std::mt19937& rng, bool float_zp) {
  for (int trial = 0; trial < 60; ++trial) {
    TensorShape shape;
    shape.order = (rng() & 1) ? storage_order::row_major : storage_order::col_major;
    const int rank = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < rank; ++k) shape.dims.push_back(1 + static_cast<std::int64_t>(rng() % (rank > 2 ? 7 : 40)));
    const int axis = static_cast<int>(rng() % rank) - ((rng() & 1) ? rank : 0);
    const int kind = static_cast<int>(rng() % 3);
    const int ax = axis < 0 ? axis + rank : axis;
    const Granularity g = kind == 0   ? qmath::per_tensor()
                          : kind == 1 ? qmath::per_channel(axis)
                                      : qmath::per_group(axis, 1 + static_cast<std::int64_t>(rng() % (shape.dims[ax] + 1)));
    const auto prof = static_cast<qmath::profile>(rng() % 3);
    const QParams<Q> p = random_params<Q>(slot_count(shape, g), g, prof, float_zp, rng);
    const std::size_t n = qmath::detail::element_count(shape, "test");
    std::vector<float> x(n);
    std::normal_distribution<float> normal(0.0f, 40.0f);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t s = slot_of(shape, g, coordinates(shape, i));
      x[i] = normal(rng) * p.scale[s];
      if (rng() % 10 == 0) x[i] = (std::floor(normal(rng)) + 0.5f) * p.scale[s];  // ties
    }
    using Storage = typename qmath::int_traits<Q>::storage;
    std::vector<Storage> q(qmath::int_traits<Q>::storage_size(n));
    qmath::quantize(x.data(), shape, p, q.data());
    std::vector<float> back(n);
    qmath::dequantize(q.data(), shape, p, back.data());
    const qmath::Numerics numerics = qmath::numerics_of(prof);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t s = slot_of(shape, g, coordinates(shape, i));
      const float factor = numerics.op == qmath::scale_op::multiply_reciprocal ? 1.0f / p.scale[s] : p.scale[s];
      const std::int32_t want =
          float_zp ? qmath::kernels::ref::quantize_value_float_zp(x[i], factor, p.float_zero_point[s], p.qmin, p.qmax,
                                                                   numerics)
                   : qmath::kernels::ref::quantize_value(x[i], factor, p.zero_point[s], p.qmin, p.qmax, numerics);
      const std::int32_t got = qmath::detail::load_code<Q>(q.data(), i);
      ASSERT_EQ(got, want) << qmath::int_traits<Q>::kName << " trial " << trial << " element " << i << " slot " << s
                           << " rank " << rank << " axis " << axis << " kind " << kind << " group "
                           << g.group_size << (shape.order == storage_order::row_major ? " row" : " col")
                           << "-major";
      const float want_back = float_zp ? (static_cast<float>(want) - p.float_zero_point[s]) * p.scale[s]
                                       : static_cast<float>(static_cast<std::int64_t>(want) - p.zero_point[s]) *
                                             p.scale[s];
      ASSERT_EQ(qmath::f32_bits(back[i]), qmath::f32_bits(want_back)) << "dequantize element " << i;
    }
    if (qmath::int_traits<Q>::kPacked && n % 2 == 1) {
      ASSERT_EQ(q.back() >> 4, 0) << "odd count: last high nibble";
    }
  }
}

class TensorApi : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(TensorApi, MatchesElementwiseModel) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const qmath::ScopedIsaOverride only(GetParam());
  std::mt19937 rng(2024);
  check_against_model<std::int8_t>(rng, false);
  check_against_model<std::uint8_t>(rng, false);
  check_against_model<std::int16_t>(rng, false);
  check_against_model<std::uint16_t>(rng, false);
  check_against_model<std::int32_t>(rng, false);
  check_against_model<qmath::int4>(rng, false);
  check_against_model<qmath::uint4>(rng, false);
  check_against_model<std::uint8_t>(rng, true);
  check_against_model<qmath::uint4>(rng, true);
}

INSTANTIATE_TEST_SUITE_P(Isa, TensorApi, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

// Packed 4-bit layout: element 2k in the low nibble of byte k (ONNX order).
TEST(PackedCodes, NibbleOrder) {
  const std::vector<float> x = {1.0f, -2.0f, 7.0f, -8.0f, 3.0f};
  std::vector<std::uint8_t> packed(3, 0xFF);
  qmath::quantize(x.data(), x.size(), qmath::make_qparams<qmath::int4>(1.0f, 0), packed.data());
  EXPECT_EQ(packed[0], 0xE1);  // -2 -> 0xE high, 1 low
  EXPECT_EQ(packed[1], 0x87);  // -8 -> 0x8 high, 7 low
  EXPECT_EQ(packed[2], 0x03);  // odd count: high nibble 0
}

// Eigen adapters: the axis counts Eigen's dims, in either layout, and results equal the buffer form.
TEST(EigenAdapters, TensorLayoutsAndMaps) {
  Eigen::Tensor<float, 3, Eigen::RowMajor> row(3, 5, 4);
  row.setRandom();
  Eigen::Tensor<float, 3, Eigen::ColMajor> col = row.swap_layout().shuffle(Eigen::array<int, 3>{2, 1, 0});
  auto p = qmath::choose_qparams<std::int8_t>(row.data(), TensorShape{{3, 5, 4}}, qmath::per_channel(1),
                                             {qmath::scheme::symmetric});
  const auto qr = qmath::quantize(row, p);
  const auto qc = qmath::quantize(col, p);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 4; ++k) ASSERT_EQ(qr(i, j, k), qc(i, j, k)) << i << "," << j << "," << k;
  // TensorMap over a user buffer in, TensorMap over a user buffer out.
  std::vector<std::int8_t> out(60);
  Eigen::TensorMap<Eigen::Tensor<const float, 3, Eigen::RowMajor>> in_map(row.data(), 3, 5, 4);
  Eigen::TensorMap<Eigen::Tensor<std::int8_t, 3, Eigen::RowMajor>> out_map(out.data(), 3, 5, 4);
  qmath::quantize(in_map, p, out_map);
  for (int i = 0; i < 60; ++i) ASSERT_EQ(out[i], qr.data()[i]);
  const auto back = qmath::dequantize(qr, p);
  for (int i = 0; i < 60; ++i) EXPECT_NEAR(back.data()[i], row.data()[i], p.scale[(i / 4) % 5] / 2 * 1.0001f);
}

TEST(EigenAdapters, MatricesAndMaps) {
  Eigen::MatrixXf m = Eigen::MatrixXf::Random(6, 9);  // column-major
  auto p = qmath::choose_qparams<std::uint8_t>(m.data(), TensorShape{{6, 9}, storage_order::col_major},
                                              qmath::per_channel(0));
  ASSERT_EQ(p.scale.size(), 6u);
  const auto q = qmath::quantize(m, p);
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 9; ++c) {
      std::uint8_t one{};
      const float x = m(r, c);
      qmath::quantize(&x, 1, qmath::make_qparams<std::uint8_t>(p.scale[r], p.zero_point[r]), &one);
      ASSERT_EQ(q(r, c), one) << r << "," << c;
    }
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor mr = m;
  EXPECT_TRUE((qmath::quantize(mr, p).cast<int>().array() == q.cast<int>().array()).all());
  Eigen::Map<const Eigen::MatrixXf> map(m.data(), 6, 9);
  EXPECT_TRUE((qmath::quantize(map, p).cast<int>().array() == q.cast<int>().array()).all());
  const Eigen::MatrixXf back = qmath::dequantize(q, p);
  EXPECT_LE((back - m).cwiseAbs().maxCoeff(), *std::max_element(p.scale.begin(), p.scale.end()) / 2 * 1.0001f);
  // A contiguous column block is accepted.
  EXPECT_NO_THROW((void)qmath::quantize(m.middleCols(2, 3), qmath::make_qparams<std::uint8_t>(0.01f, 128)));
}

}  // namespace
