// SPDX-License-Identifier: Apache-2.0
// tests/nn/test_dynamic_linear.cpp: DynamicQuantizedLinear against an element-wise model of PyTorch's dynamic mode
// (bit for bit, on every GEMM path), its accuracy against fp32, and its errors.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/nn/dynamic_linear.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"

namespace {

struct Layer {
  std::ptrdiff_t rows, in, out;
  std::vector<float> weight, bias, x;
};

Layer make_layer(std::ptrdiff_t rows, std::ptrdiff_t in, std::ptrdiff_t out, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Layer l{rows, in, out, {}, {}, {}};
  l.weight.resize(static_cast<std::size_t>(in * out));
  l.bias.resize(static_cast<std::size_t>(out));
  l.x.resize(static_cast<std::size_t>(rows * in));
  for (float& w : l.weight) w = normal(rng) / std::sqrt(static_cast<float>(in));
  for (float& b : l.bias) b = normal(rng);
  for (std::size_t i = 0; i < l.x.size(); ++i) l.x[i] = normal(rng) * (1.0f + static_cast<float>(i % 7));
  return l;
}

// The model, written out element by element: per-channel symmetric int8 weights (torch per_channel_symmetric:
// S = max|w| / 127.5, round half even, clamp to [-128, 127]), uint8 activations from the (0-including) range with
// torch's _calculate_qparams, C from the reference GEMM, y = fma(float(C), Sx * Sw, bias).
std::vector<float> model(const Layer& l, bool per_row) {
  std::vector<float> w_scale(static_cast<std::size_t>(l.out));
  std::vector<std::int8_t> wq(l.weight.size());
  for (std::ptrdiff_t n = 0; n < l.out; ++n) {
    float amax = 0.0f;
    for (std::ptrdiff_t k = 0; k < l.in; ++k) amax = std::max(amax, std::fabs(l.weight[static_cast<std::size_t>(n * l.in + k)]));
    const float scale = std::max(amax / 127.5f, std::numeric_limits<float>::epsilon());
    w_scale[static_cast<std::size_t>(n)] = scale;
    for (std::ptrdiff_t k = 0; k < l.in; ++k) {
      const float q = std::nearbyint(l.weight[static_cast<std::size_t>(n * l.in + k)] * (1.0f / scale));
      wq[static_cast<std::size_t>(n * l.in + k)] = static_cast<std::int8_t>(std::min(127.0f, std::max(-128.0f, q)));
    }
  }
  const std::ptrdiff_t slots = per_row ? l.rows : 1;
  std::vector<float> x_scale(static_cast<std::size_t>(slots));
  std::vector<std::int32_t> x_zero(static_cast<std::size_t>(slots));
  std::vector<std::uint8_t> xq(l.x.size());
  for (std::ptrdiff_t s = 0; s < slots; ++s) {
    const std::ptrdiff_t first = per_row ? s : 0, last = per_row ? s + 1 : l.rows;
    float lo = 0.0f, hi = 0.0f;
    for (std::ptrdiff_t i = first * l.in; i < last * l.in; ++i) {
      lo = std::min(lo, l.x[static_cast<std::size_t>(i)]);
      hi = std::max(hi, l.x[static_cast<std::size_t>(i)]);
    }
    const float scale = std::max((hi - lo) / 255.0f, std::numeric_limits<float>::epsilon());
    const float zero_from_min = 0.0f - lo / scale;
    const auto zero = static_cast<std::int32_t>(std::min(255.0f, std::max(0.0f, std::nearbyint(zero_from_min))));
    x_scale[static_cast<std::size_t>(s)] = scale;
    x_zero[static_cast<std::size_t>(s)] = zero;
    for (std::ptrdiff_t i = first * l.in; i < last * l.in; ++i) {
      const float q = std::nearbyint(l.x[static_cast<std::size_t>(i)] * (1.0f / scale));
      xq[static_cast<std::size_t>(i)] =
          static_cast<std::uint8_t>(std::min(255.0f - zero, std::max(0.0f - zero, q)) + static_cast<float>(zero));
    }
  }
  std::vector<std::int32_t> c(static_cast<std::size_t>(l.rows * l.out));
  const std::int32_t zero = 0;
  qmath::kernels::ref::gemm_u8s8_i32(l.rows, l.out, l.in, xq.data(), l.in, x_zero.data(), per_row, wq.data(), 1,
                                     l.in, &zero, false, c.data(), l.out);
  std::vector<float> y(c.size());
  for (std::ptrdiff_t m = 0; m < l.rows; ++m)
    for (std::ptrdiff_t n = 0; n < l.out; ++n)
      y[static_cast<std::size_t>(m * l.out + n)] = qmath::kernels::ref::dequantize_accumulator(
          c[static_cast<std::size_t>(m * l.out + n)], x_scale[static_cast<std::size_t>(per_row ? m : 0)],
          w_scale[static_cast<std::size_t>(n)], l.bias[static_cast<std::size_t>(n)]);
  return y;
}

double sqnr_db(const Layer& l, const std::vector<float>& y) {
  double signal = 0, noise = 0;
  for (std::ptrdiff_t m = 0; m < l.rows; ++m)
    for (std::ptrdiff_t n = 0; n < l.out; ++n) {
      double exact = l.bias[static_cast<std::size_t>(n)];
      for (std::ptrdiff_t k = 0; k < l.in; ++k)
        exact += double(l.x[static_cast<std::size_t>(m * l.in + k)]) * l.weight[static_cast<std::size_t>(n * l.in + k)];
      const double e = exact - y[static_cast<std::size_t>(m * l.out + n)];
      signal += exact * exact;
      noise += e * e;
    }
  return 10.0 * std::log10(signal / noise);
}

class DynamicLinear : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(DynamicLinear, MatchesTheElementWiseModelBitForBit) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const std::ptrdiff_t shapes[][3] = {{1, 64, 33}, {3, 17, 5}, {16, 256, 96}, {37, 130, 71}, {64, 512, 128}};
  unsigned seed = 1;
  for (const auto& s : shapes)
    for (bool per_row : {false, true}) {
      const Layer l = make_layer(s[0], s[1], s[2], seed++);
      const qmath::DynamicQuantizedLinear linear(l.weight.data(), l.out, l.in, l.bias.data(), GetParam());
      ASSERT_EQ(linear.packed_weights().path(), GetParam());
      std::vector<float> y(static_cast<std::size_t>(l.rows * l.out), -1.0f);
      qmath::DynamicLinearOptions options;
      options.per_row = per_row;
      linear.forward(l.x.data(), l.rows, l.in, y.data(), l.out, options);
      const std::vector<float> expected = model(l, per_row);
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_EQ(std::memcmp(&y[i], &expected[i], sizeof(float)), 0)
            << "rows " << l.rows << " in " << l.in << " out " << l.out << " per_row " << per_row << " element " << i
            << ": expected " << expected[i] << ", got " << y[i];
      // int8 keeps ~40 dB on a Gaussian layer; per-row scales never lose.
      EXPECT_GT(sqnr_db(l, y), 30.0) << "rows " << l.rows << " per_row " << per_row;
    }
}

TEST_P(DynamicLinear, StridesThreadsAndNaN) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  Layer l = make_layer(96, 200, 300, 99);
  l.x[5] = std::numeric_limits<float>::quiet_NaN();  // ignored by the range, quantized to the zero point
  const qmath::DynamicQuantizedLinear linear(l.weight.data(), l.out, l.in, l.bias.data(), GetParam());
  // Copy x into rows of 211 floats and write y into rows of 307: the gaps must stay untouched.
  std::vector<float> x_strided(static_cast<std::size_t>(l.rows * 211), 1e30f), y_strided(static_cast<std::size_t>(l.rows * 307), -7.0f);
  for (std::ptrdiff_t m = 0; m < l.rows; ++m)
    std::memcpy(&x_strided[static_cast<std::size_t>(m * 211)], &l.x[static_cast<std::size_t>(m * l.in)], sizeof(float) * 200);
  std::vector<float> y1(static_cast<std::size_t>(l.rows * l.out));
  qmath::DynamicLinearOptions one, two;
  one.threads = 1;
  two.threads = 2;
  linear.forward(l.x.data(), l.rows, l.in, y1.data(), l.out, one);
  linear.forward(x_strided.data(), l.rows, 211, y_strided.data(), 307, two);
  for (std::ptrdiff_t m = 0; m < l.rows; ++m) {
    for (std::ptrdiff_t n = 0; n < l.out; ++n)
      ASSERT_EQ(y_strided[static_cast<std::size_t>(m * 307 + n)], y1[static_cast<std::size_t>(m * l.out + n)]);
    for (std::ptrdiff_t n = l.out; n < 307; ++n) ASSERT_EQ(y_strided[static_cast<std::size_t>(m * 307 + n)], -7.0f);
  }
  const std::vector<float> expected = model([&] {
    Layer zeroed = l;
    zeroed.x[5] = 0.0f;  // NaN lands on the zero point, exactly 0.0
    return zeroed;
  }(), false);
  for (std::size_t i = 0; i < y1.size(); ++i) ASSERT_EQ(y1[i], expected[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(AllPaths, DynamicLinear, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

TEST(DynamicLinearErrors, RejectsBadInput) {
  const Layer l = make_layer(4, 8, 3, 5);
  EXPECT_THROW(qmath::DynamicQuantizedLinear(l.weight.data(), 0, 8, nullptr), qmath::error);
  EXPECT_THROW(qmath::DynamicQuantizedLinear(nullptr, 3, 8, nullptr), qmath::error);
  EXPECT_THROW(qmath::DynamicQuantizedLinear(l.weight.data(), 3, 65794, nullptr), qmath::error);
  std::vector<float> bad_weight = l.weight;
  bad_weight[2] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(qmath::DynamicQuantizedLinear(bad_weight.data(), 3, 8, nullptr), qmath::error);
  std::vector<float> bad_bias = l.bias;
  bad_bias[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(qmath::DynamicQuantizedLinear(l.weight.data(), 3, 8, bad_bias.data()), qmath::error);

  const qmath::DynamicQuantizedLinear linear(l.weight.data(), 3, 8, nullptr);
  std::vector<float> y(12, -5.0f);
  EXPECT_THROW(linear.forward(l.x.data(), 4, 7, y.data(), 3), qmath::error);   // ldx < in_features
  EXPECT_THROW(linear.forward(l.x.data(), 4, 8, y.data(), 2), qmath::error);   // ldy < out_features
  EXPECT_THROW(linear.forward(l.x.data(), -1, 8, y.data(), 3), qmath::error);
  std::vector<float> x_inf = l.x;
  x_inf[9] = -std::numeric_limits<float>::infinity();
  EXPECT_THROW(linear.forward(x_inf.data(), 4, 8, y.data(), 3), qmath::error);
  for (float v : y) EXPECT_EQ(v, -5.0f);  // nothing written by a call that threw
  linear.forward(l.x.data(), 0, 8, nullptr, 3);  // no rows: nothing to do
  // No bias means a zero bias.
  std::vector<float> y_no_bias(12);
  linear.forward(l.x.data(), 4, 8, y_no_bias.data(), 3);
  Layer zero_bias = l;
  std::fill(zero_bias.bias.begin(), zero_bias.bias.end(), 0.0f);
  const std::vector<float> expected = model(zero_bias, false);
  for (std::size_t i = 0; i < y_no_bias.size(); ++i) EXPECT_EQ(y_no_bias[i], expected[i]) << i;
}

}  // namespace
