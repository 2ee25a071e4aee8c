// SPDX-License-Identifier: Apache-2.0
// tests/nn/test_static_layers.cpp: the fp32 reference layers against element-wise definitions, BatchNorm folding,
// the static int8 Conv2d / Linear against (a) the integer formula of static_layers.hpp, bit for bit on every ISA
// path, and (b) the fake-quantized fp32 layer they deploy, within one output step; the model workflows and their
// errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/ref/conv2d_u8s8.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/nn/model.hpp"
#include "qmath/nn/qat.hpp"
#include "qmath/quant/fake_quant.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"

namespace {

namespace nn = qmath::nn;
using qmath::ConvParams;

nn::Tensor4 random_tensor(std::ptrdiff_t n, std::ptrdiff_t h, std::ptrdiff_t w, std::ptrdiff_t c, std::mt19937& rng,
                          float lo = -1.0f, float hi = 1.0f) {
  nn::Tensor4 x(n, h, w, c);
  std::uniform_real_distribution<float> u(lo, hi);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

ConvParams filter(std::ptrdiff_t ic, std::ptrdiff_t oc, std::ptrdiff_t k, std::ptrdiff_t stride, std::ptrdiff_t pad,
                  std::ptrdiff_t groups = 1, std::ptrdiff_t dilation = 1) {
  ConvParams p;
  p.in_channels = ic;
  p.out_channels = oc;
  p.groups = groups;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.dilation_h = p.dilation_w = dilation;
  return p;
}

nn::Conv2d random_conv(const ConvParams& f, std::mt19937& rng) {
  const auto count = static_cast<std::size_t>(f.out_channels * (f.in_channels / f.groups) * f.kernel_h * f.kernel_w);
  const std::vector<float> w = random_vector(count, rng, 1.0f / std::sqrt(static_cast<float>(count / f.out_channels)));
  const std::vector<float> b = random_vector(static_cast<std::size_t>(f.out_channels), rng, 0.3f);
  return nn::Conv2d(f, w.data(), b.data());
}

// ---- fp32 layers --------------------------------------------------------------------------------------------------

TEST(NnLayers, Conv2dMatchesTheDefinition) {
  std::mt19937 rng(11);
  const std::vector<ConvParams> filters = {filter(3, 5, 3, 1, 1),    filter(4, 6, 3, 2, 0, 2), filter(6, 6, 3, 1, 2, 6),
                                           filter(2, 4, 5, 1, 2),    filter(4, 8, 1, 1, 0),    filter(3, 4, 3, 1, 2, 1, 2),
                                           filter(8, 4, 2, 3, 1, 4)};
  for (const ConvParams& f : filters) {
    const nn::Conv2d conv = random_conv(f, rng);
    const nn::Tensor4 x = random_tensor(2, 7, 6, f.in_channels, rng);
    const nn::Tensor4 y = conv.forward(x);
    ConvParams p = conv.geometry(x);
    ASSERT_EQ(y.dimension(1), p.out_h());
    std::vector<float> expected(static_cast<std::size_t>(y.size()));
    qmath::kernels::ref::conv2d_f32(p, x.data(), conv.weight().data(), conv.bias().data(), expected.data(), f.out_channels);
    for (std::size_t i = 0; i < expected.size(); ++i)
      ASSERT_NEAR(y.data()[i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i]))) << "element " << i;
  }
}

TEST(NnLayers, LinearPoolsFlattenAndBatchNormMatchTheirDefinitions) {
  std::mt19937 rng(12);
  const nn::Tensor4 x = random_tensor(3, 5, 4, 2, rng);
  // Flatten: torch's (c, h, w) order.
  const nn::Tensor4 flat = nn::Flatten{}.forward(x);
  ASSERT_EQ(flat.dimension(3), 40);
  for (int b = 0; b < 3; ++b)
    for (int h = 0; h < 5; ++h)
      for (int w = 0; w < 4; ++w)
        for (int c = 0; c < 2; ++c) ASSERT_EQ(flat(b, 0, 0, (c * 5 + h) * 4 + w), x(b, h, w, c));
  // Linear over the flattened features.
  const std::vector<float> w = random_vector(7 * 40, rng), bias = random_vector(7, rng);
  const nn::Tensor4 y = nn::Linear(w.data(), 7, 40, bias.data()).forward(flat);
  for (int b = 0; b < 3; ++b)
    for (int o = 0; o < 7; ++o) {
      double sum = bias[static_cast<std::size_t>(o)];
      for (int k = 0; k < 40; ++k) sum += static_cast<double>(w[static_cast<std::size_t>(o * 40 + k)]) * flat(b, 0, 0, k);
      ASSERT_NEAR(y(b, 0, 0, o), sum, 1e-5);
    }
  // Pools: 2x2 stride 2 on 5x4 -> 2x2 (floor), and 3x3 stride 3 with padding 1.
  const nn::Tensor4 mp = nn::MaxPool2d{2, 2}.forward(x), ap = nn::AvgPool2d{3, 3, 1}.forward(x);
  ASSERT_EQ(mp.dimension(1), 2);
  ASSERT_EQ(ap.dimension(1), 2);
  for (int b = 0; b < 3; ++b)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int c = 0; c < 2; ++c) {
          float m = -std::numeric_limits<float>::infinity();
          double s = 0.0;
          for (int di = 0; di < 2; ++di)
            for (int dj = 0; dj < 2; ++dj) m = std::max(m, x(b, 2 * i + di, 2 * j + dj, c));
          for (int di = 0; di < 3; ++di)
            for (int dj = 0; dj < 3; ++dj) {
              const int h = 3 * i - 1 + di, ww = 3 * j - 1 + dj;
              if (h >= 0 && h < 5 && ww >= 0 && ww < 4) s += x(b, h, ww, c);
            }
          ASSERT_EQ(mp(b, i, j, c), m);
          ASSERT_NEAR(ap(b, i, j, c), s / 9.0, 1e-6);
        }
  // ReLU6 and BatchNorm.
  const nn::Tensor4 big = random_tensor(1, 2, 2, 2, rng, -10.0f, 10.0f);
  const nn::Tensor4 r6 = nn::ReLU{6.0f}.forward(big);
  for (Eigen::Index i = 0; i < big.size(); ++i) ASSERT_EQ(r6.data()[i], std::min(std::max(big.data()[i], 0.0f), 6.0f));
  const float gamma[2] = {1.5f, -0.5f}, beta[2] = {0.1f, 0.2f}, mean[2] = {0.3f, -0.4f}, var[2] = {2.0f, 0.5f};
  const nn::Tensor4 bn = nn::BatchNorm2d(2, gamma, beta, mean, var).forward(big);
  for (Eigen::Index i = 0; i < big.size(); ++i) {
    const std::size_t c = static_cast<std::size_t>(i % 2);
    ASSERT_NEAR(bn.data()[i], (big.data()[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * gamma[c] + beta[c], 1e-5);
  }
}

TEST(NnLayers, FoldedBatchNormComputesConvThenBatchNorm) {
  std::mt19937 rng(13);
  const ConvParams f = filter(3, 4, 3, 1, 1);
  const nn::Conv2d conv = random_conv(f, rng);
  const std::vector<float> gamma = random_vector(4, rng), beta = random_vector(4, rng), mean = random_vector(4, rng);
  std::vector<float> var = random_vector(4, rng);
  for (float& v : var) v = v * v + 0.1f;
  const nn::BatchNorm2d bn(4, gamma.data(), beta.data(), mean.data(), var.data(), 1e-3f);
  const nn::Tensor4 x = random_tensor(2, 6, 6, 3, rng);
  const nn::Tensor4 expected = bn.forward(conv.forward(x));
  const nn::Tensor4 folded = nn::fold_batchnorm(conv, bn).forward(x);
  const nn::Tensor4 via_model = nn::fold_batchnorm(nn::Sequential({conv, bn, nn::ReLU{}})).forward(x);
  for (Eigen::Index i = 0; i < x.size() / 3 * 4; ++i) {
    ASSERT_NEAR(folded.data()[i], expected.data()[i], 1e-5f * (1.0f + std::fabs(expected.data()[i])));
    ASSERT_NEAR(via_model.data()[i], std::max(expected.data()[i], 0.0f), 1e-5f * (1.0f + std::fabs(expected.data()[i])));
  }
  EXPECT_EQ(nn::fold_batchnorm(nn::Sequential({conv, bn, nn::ReLU{}})).layers().size(), 2u);
  const float one[3] = {1, 1, 1};
  EXPECT_THROW(nn::fold_batchnorm(conv, nn::BatchNorm2d(3, one, one, one, one)), qmath::error);
}

std::vector<float> hex_floats(const std::string& line) {
  std::istringstream in(line);
  std::vector<float> v;
  for (std::string word; in >> word;) {
    const auto bits = static_cast<std::uint32_t>(std::stoul(word, nullptr, 16));
    float f;
    std::memcpy(&f, &bits, 4);
    v.push_back(f);
  }
  return v;
}

// Against torch.nn.utils.fusion.fuse_conv_bn_eval (tests/vectors/gen_fold_vectors.py): the same formula in the same
// order, so the folded weights agree to float rounding (torch.rsqrt vs 1 / sqrt may differ in the last bit).
TEST(NnLayers, FoldBatchnormMatchesTorch) {
  std::ifstream in(std::string(QMATH_TESTS_DIR) + "/vectors/nn/fold_batchnorm.txt");
  ASSERT_TRUE(in.good()) << "tests/vectors/nn/fold_batchnorm.txt is missing";
  int cases = 0;
  for (std::string header; std::getline(in, header);) {
    std::istringstream h(header);
    std::string word;
    std::ptrdiff_t ic, oc, groups, k;
    float eps;
    int has_bias;
    h >> word >> ic >> oc >> groups >> k >> eps >> has_bias;
    std::string lines[8];
    for (std::string& l : lines) std::getline(in, l);
    const std::vector<float> w = hex_floats(lines[0]), gamma = hex_floats(lines[2]), beta = hex_floats(lines[3]),
                             mean = hex_floats(lines[4]), var = hex_floats(lines[5]), fused_w = hex_floats(lines[6]),
                             fused_b = hex_floats(lines[7]);
    const std::vector<float> b = has_bias ? hex_floats(lines[1]) : std::vector<float>();
    const nn::Conv2d conv(filter(ic, oc, k, 1, 0, groups), w.data(), has_bias ? b.data() : nullptr);
    const nn::Conv2d folded =
        nn::fold_batchnorm(conv, nn::BatchNorm2d(oc, gamma.data(), beta.data(), mean.data(), var.data(), eps));
    ASSERT_EQ(folded.weight().size(), fused_w.size());
    for (std::size_t i = 0; i < fused_w.size(); ++i)
      ASSERT_NEAR(folded.weight()[i], fused_w[i], 2e-7f * std::fabs(fused_w[i]) + 1e-30f) << header << " weight " << i;
    for (std::size_t i = 0; i < fused_b.size(); ++i)
      ASSERT_NEAR(folded.bias()[i], fused_b[i], 4e-7f * std::fabs(fused_b[i]) + 1e-7f) << header << " bias " << i;
    ++cases;
  }
  EXPECT_EQ(cases, 3);
}

TEST(NnLayers, BadInputThrows) {
  std::mt19937 rng(14);
  const nn::Conv2d conv = random_conv(filter(3, 4, 5, 1, 0), rng);
  EXPECT_THROW(conv.forward(random_tensor(1, 6, 6, 2, rng)), qmath::error);  // channels
  EXPECT_THROW(conv.forward(random_tensor(1, 4, 6, 3, rng)), qmath::error);  // smaller than the kernel
  const std::vector<float> w(12, 1.0f);
  EXPECT_THROW(nn::Linear(w.data(), 3, 4, nullptr).forward(random_tensor(1, 1, 1, 5, rng)), qmath::error);
  EXPECT_THROW((nn::MaxPool2d{3, 3}.forward(random_tensor(1, 2, 2, 1, rng))), qmath::error);
  std::vector<float> bad = w;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(nn::Linear(bad.data(), 3, 4, nullptr), qmath::error);
  EXPECT_THROW(nn::Conv2d(filter(3, 4, 2, 1, 0, 2), w.data(), nullptr), qmath::error);  // groups do not divide 3
}

// ---- static int8 layers -------------------------------------------------------------------------------------------

struct StaticCase {
  ConvParams filter;
  bool per_channel;
  nn::fused_activation act;
  std::int32_t input_zero_point;  // the calibrated input's zero point (extremes included)
};

// x in [lo, hi] with lo = -zx * s so that the zero point is exact.
nn::ActivationQParams input_params(std::int32_t zx) { return {0.02f, zx}; }

// The fake-quantized fp32 layer the int8 layer deploys: FQ_y(act(conv(FQ_x(x), FQ_w(W)) + bias)).
nn::Tensor4 simulate(const nn::Conv2d& conv, const qmath::QParams<std::int8_t>& wq, const nn::Tensor4& x_fq,
                     nn::ActivationQParams out, nn::fused_activation act) {
  std::vector<float> w_fq(conv.weight().size());
  const qmath::TensorShape shape{{conv.filter().out_channels, static_cast<std::int64_t>(w_fq.size()) / conv.filter().out_channels},
                                 qmath::storage_order::row_major};
  qmath::fake_quantize(conv.weight().data(), shape, wq, w_fq.data());
  const nn::Conv2d fq(conv.filter(), w_fq.data(), conv.bias().data());
  nn::Tensor4 y = fq.forward(x_fq);
  if (act != nn::fused_activation::none) y = nn::ReLU{act == nn::fused_activation::relu6 ? 6.0f : INFINITY}.forward(y);
  qmath::fake_quantize(y.data(), static_cast<std::size_t>(y.size()), out.scale, out.zero_point, 0, 255, y.data());
  return y;
}

class StaticLayers : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(StaticLayers, Conv2dIsTheIntegerFormulaAndWithinOneStepOfTheSimulation) {
  const qmath::isa path = GetParam();
  QMATH_SKIP_IF_UNSUPPORTED(path);
  std::mt19937 rng(21);
  const std::vector<StaticCase> cases = {
      {filter(1, 8, 5, 1, 2), true, nn::fused_activation::relu, 0},  // MNIST conv1
      {filter(8, 16, 5, 1, 2), false, nn::fused_activation::relu, 128},
      {filter(3, 7, 3, 2, 1), true, nn::fused_activation::none, 255},
      {filter(6, 6, 3, 1, 1, 6), true, nn::fused_activation::relu6, 17},  // depthwise
      {filter(4, 8, 3, 1, 0, 2), false, nn::fused_activation::none, 200},
      {filter(16, 24, 1, 1, 0), true, nn::fused_activation::relu, 90},
      {filter(5, 3, 3, 1, 2, 1, 2), true, nn::fused_activation::relu6, 1},
  };
  std::size_t elements = 0, off_by_one = 0;
  for (const StaticCase& c : cases) {
    const nn::Conv2d conv = random_conv(c.filter, rng);
    const qmath::QParams<std::int8_t> wq =
        nn::symmetric_weight_qparams(conv.weight().data(), conv.weight_count(), c.filter.out_channels, c.per_channel);
    const nn::ActivationQParams in = input_params(c.input_zero_point);
    const float lo = -in.scale * static_cast<float>(in.zero_point), hi = in.scale * static_cast<float>(255 - in.zero_point);
    const nn::Tensor4 x = random_tensor(2, 9, 8, c.filter.in_channels, rng, lo - 0.1f, hi + 0.1f);  // clips too
    const nn::QuantizedTensor xq = nn::quantize_activation(x, in);
    const nn::Tensor4 x_fq = nn::dequantize_activation(xq);
    // Output parameters from the simulated layer's own range, as calibration would give them.
    const nn::Tensor4 raw = conv.forward(x_fq);
    float rmin = 0.0f, rmax = 0.0f;
    for (Eigen::Index i = 0; i < raw.size(); ++i) {
      rmin = std::min(rmin, raw.data()[i]);
      rmax = std::max(rmax, raw.data()[i]);
    }
    const qmath::QParams<std::uint8_t> op = qmath::choose_qparams<std::uint8_t>(rmin * 0.8f, rmax * 0.8f);  // some clipping
    const nn::ActivationQParams out{op.scale[0], op.zero_point[0]};

    const nn::StaticQuantizedConv2d layer(conv, wq, in, out, c.act, path);
    const nn::QuantizedTensor yq = layer.forward(xq);
    // (a) the integer formula.
    const ConvParams p = conv.geometry(x);
    std::vector<std::int32_t> acc(static_cast<std::size_t>(yq.codes.size()));
    const std::int32_t zero = 0;
    qmath::kernels::ref::conv2d_u8s8_i32(p, xq.codes.data(), in.zero_point, layer.weight_codes().data(), &zero, false,
                                         acc.data(), c.filter.out_channels);
    const std::int32_t lo_code = c.act == nn::fused_activation::none ? 0 : out.zero_point;
    const std::int32_t hi_code = c.act == nn::fused_activation::relu6
                                     ? static_cast<std::int32_t>(std::min(255.0, out.zero_point + std::nearbyint(6.0 / out.scale)))
                                     : 255;
    for (std::size_t i = 0; i < acc.size(); ++i) {
      const std::size_t o = i % static_cast<std::size_t>(c.filter.out_channels);
      const std::int32_t expected = qmath::kernels::ref::requantize_float(
          acc[i] + layer.bias_codes()[o], layer.multipliers()[o], out.zero_point, lo_code, hi_code);
      ASSERT_EQ(yq.codes.data()[i], expected) << "element " << i << " on " << qmath::isa_name(path);
    }
    // (b) within one output step of the simulation.
    const nn::Tensor4 y = nn::dequantize_activation(yq);
    const nn::Tensor4 sim = simulate(conv, wq, x_fq, out, c.act);
    for (Eigen::Index i = 0; i < y.size(); ++i) {
      const float d = std::fabs(y.data()[i] - sim.data()[i]);
      ASSERT_LE(d, out.scale * 1.0001f) << "element " << i;
      ++elements;
      off_by_one += d > 0.0f;
    }
    // forward_float: no output rounding, the same accumulators.
    const nn::Tensor4 yf = layer.forward_float(xq);
    for (std::size_t i = 0; i < acc.size(); ++i) {
      const std::size_t o = i % static_cast<std::size_t>(c.filter.out_channels);
      float v = std::fma(static_cast<float>(acc[i]), in.scale * layer.weight_scales()[o], conv.bias()[o]);
      if (c.act != nn::fused_activation::none) v = std::max(v, 0.0f);
      if (c.act == nn::fused_activation::relu6) v = std::min(v, 6.0f);
      ASSERT_EQ(yf.data()[i], v) << "element " << i;
    }
  }
  // The bound is attained rarely: most codes agree exactly.
  EXPECT_LT(off_by_one * 50, elements) << off_by_one << " of " << elements << " codes differ by one step";
  std::printf("[ static conv on %s ] %zu of %zu codes one step from the simulation, none further\n",
              qmath::isa_name(path), off_by_one, elements);
}

TEST_P(StaticLayers, LinearIsTheIntegerFormulaAndWithinOneStepOfTheSimulation) {
  const qmath::isa path = GetParam();
  QMATH_SKIP_IF_UNSUPPORTED(path);
  std::mt19937 rng(22);
  for (const auto& [in_f, out_f, zx, per_channel] :
       std::vector<std::tuple<int, int, int, bool>>{{256, 10, 0, true}, {37, 19, 255, false}, {300, 33, 128, true}}) {
    const std::vector<float> w = random_vector(static_cast<std::size_t>(in_f * out_f), rng, 0.1f);
    const std::vector<float> b = random_vector(static_cast<std::size_t>(out_f), rng, 0.5f);
    const nn::Linear fp(w.data(), out_f, in_f, b.data());
    const qmath::QParams<std::int8_t> wq = nn::symmetric_weight_qparams(w.data(), w.size(), out_f, per_channel);
    const nn::ActivationQParams in = input_params(zx);
    const float lo = -in.scale * static_cast<float>(zx), hi = in.scale * static_cast<float>(255 - zx);
    const nn::QuantizedTensor xq = nn::quantize_activation(random_tensor(5, 1, 1, in_f, rng, lo, hi), in);
    const nn::Tensor4 x_fq = nn::dequantize_activation(xq);
    const nn::ActivationQParams out{0.05f, 100};
    const nn::StaticQuantizedLinear layer(fp, wq, in, out, nn::fused_activation::none, path);
    const nn::Tensor4 y = nn::dequantize_activation(layer.forward(xq));
    // Simulation: fake-quantized weights, fp32 Linear, fake-quantized output.
    std::vector<float> w_fq(w.size());
    qmath::fake_quantize(w.data(), qmath::TensorShape{{out_f, in_f}, qmath::storage_order::row_major}, wq, w_fq.data());
    nn::Tensor4 sim = nn::Linear(w_fq.data(), out_f, in_f, b.data()).forward(x_fq);
    qmath::fake_quantize(sim.data(), static_cast<std::size_t>(sim.size()), out.scale, out.zero_point, 0, 255, sim.data());
    for (Eigen::Index i = 0; i < y.size(); ++i) ASSERT_LE(std::fabs(y.data()[i] - sim.data()[i]), out.scale * 1.0001f);
    // The integer formula.
    for (int m = 0; m < 5; ++m)
      for (int n = 0; n < out_f; ++n) {
        std::int64_t acc = 0;
        for (int k = 0; k < in_f; ++k)
          acc += (std::int64_t{xq.codes.data()[m * in_f + k]} - zx) * layer.weight_codes()[static_cast<std::size_t>(n * in_f + k)];
        const std::int32_t expected = qmath::kernels::ref::requantize_float(
            static_cast<std::int32_t>(acc) + layer.bias_codes()[static_cast<std::size_t>(n)],
            layer.multipliers()[static_cast<std::size_t>(n)], out.zero_point, 0, 255);
        ASSERT_EQ(layer.forward(xq).codes.data()[m * out_f + n], expected);
      }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, StaticLayers, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

TEST(StaticLayersApi, DerivedQuantitiesFollowTorch) {
  std::mt19937 rng(23);
  const nn::Conv2d conv = random_conv(filter(2, 3, 3, 1, 1), rng);
  const qmath::QParams<std::int8_t> wq = nn::symmetric_weight_qparams(conv.weight().data(), conv.weight_count(), 3, true);
  const nn::ActivationQParams in{0.03f, 7}, out{0.11f, 40};
  const nn::StaticQuantizedConv2d layer(conv, wq, in, out, nn::fused_activation::relu6);
  for (std::size_t o = 0; o < 3; ++o) {
    float amax = 0.0f;
    for (std::size_t i = 0; i < 18; ++i) amax = std::max(amax, std::fabs(conv.weight()[o * 18 + i]));
    EXPECT_EQ(layer.weight_scales()[o], amax / 127.5f);
    EXPECT_EQ(layer.multipliers()[o], 0.03f * layer.weight_scales()[o] / 0.11f);
    EXPECT_EQ(layer.bias_codes()[o], static_cast<std::int32_t>(std::nearbyint(
                                         static_cast<double>(conv.bias()[o]) / static_cast<double>(0.03f * layer.weight_scales()[o]))));
  }
  EXPECT_EQ(layer.parameter_bytes(), 54u + 36u);
}

TEST(StaticLayersApi, BadInputThrowsBeforeWriting) {
  std::mt19937 rng(24);
  const nn::Conv2d conv = random_conv(filter(2, 3, 3, 1, 1), rng);
  const qmath::QParams<std::int8_t> wq = nn::symmetric_weight_qparams(conv.weight().data(), conv.weight_count(), 3, true);
  const nn::ActivationQParams in{0.03f, 7}, out{0.11f, 40};
  EXPECT_THROW(nn::StaticQuantizedConv2d(conv, wq, {0.0f, 7}, out), qmath::error);
  EXPECT_THROW(nn::StaticQuantizedConv2d(conv, wq, in, {0.1f, 256}), qmath::error);
  EXPECT_THROW(nn::StaticQuantizedConv2d(conv, wq, {std::numeric_limits<float>::infinity(), 7}, out), qmath::error);
  qmath::QParams<std::int8_t> wrong = wq;
  wrong.scale.pop_back();
  EXPECT_THROW(nn::StaticQuantizedConv2d(conv, wrong, in, out), qmath::error);
  wrong = wq;
  wrong.granularity = qmath::per_channel(1);
  EXPECT_THROW(nn::StaticQuantizedConv2d(conv, wrong, in, out), qmath::error);
  // A bias that needs more than int32 at these scales.
  std::vector<float> b(3, 1e9f);
  const nn::Conv2d huge_bias(conv.filter(), conv.weight().data(), b.data());
  EXPECT_THROW(nn::StaticQuantizedConv2d(huge_bias, wq, {1e-6f, 7}, out), qmath::error);

  const nn::StaticQuantizedConv2d layer(conv, wq, in, out);
  nn::QuantizedTensor x = nn::quantize_activation(random_tensor(1, 4, 4, 2, rng), in);
  x.scale = 0.031f;  // not the calibrated input
  EXPECT_THROW(layer.forward(x), qmath::error);
  x = nn::quantize_activation(random_tensor(1, 4, 4, 3, rng), in);  // channels
  EXPECT_THROW(layer.forward(x), qmath::error);
}

// ---- model workflows ----------------------------------------------------------------------------------------------

nn::Sequential small_cnn(std::mt19937& rng) {
  const float gamma[4] = {1.1f, 0.9f, 1.2f, 0.8f}, beta[4] = {0.1f, -0.1f, 0.0f, 0.2f}, mean[4] = {0.0f, 0.1f, -0.1f, 0.0f},
              var[4] = {1.0f, 0.5f, 2.0f, 1.5f};
  const std::vector<float> fc = random_vector(5 * 4 * 3 * 3, rng, 0.2f), fc_b = random_vector(5, rng, 0.1f);
  return nn::Sequential({random_conv(filter(2, 4, 3, 1, 1), rng), nn::BatchNorm2d(4, gamma, beta, mean, var), nn::ReLU{},
                         nn::MaxPool2d{2, 2}, random_conv(filter(4, 4, 3, 1, 1), rng), nn::ReLU{6.0f}, nn::Flatten{},
                         nn::Linear(fc.data(), 5, 36, fc_b.data())});
}

TEST(NnModel, StaticWorkflowTracksFp32AndIsIdenticalOnEveryPath) {
  std::mt19937 rng(31);
  const nn::Sequential model = small_cnn(rng);
  const nn::Tensor4 calib = random_tensor(16, 6, 6, 2, rng, 0.0f, 1.0f), test = random_tensor(8, 6, 6, 2, rng, 0.0f, 1.0f);
  const nn::Tensor4 reference = model.forward(test);
  std::vector<nn::Tensor4> batches;
  for (int b = 0; b < 4; ++b) batches.push_back(random_tensor(4, 6, 6, 2, rng, 0.0f, 1.0f));
  batches.push_back(calib);
  std::vector<float> first;
  for (qmath::isa path : qmath_test::compiled_gemm_isa_list()) {
    if (!qmath::has(qmath::supported_isas(), path)) continue;
    for (nn::calibrator c : {nn::calibrator::minmax, nn::calibrator::moving_average, nn::calibrator::histogram_l2,
                             nn::calibrator::percentile, nn::calibrator::entropy, nn::calibrator::mse}) {
      nn::StaticQuantConfig config;
      config.activations = c;
      config.path = path;
      nn::PreparedModel prepared = nn::prepare(model, config);
      ASSERT_EQ(prepared.observer_count(), 4u);  // input, conv1 (+BN +ReLU), conv2 (+ReLU6), fc
      for (const nn::Tensor4& batch : batches) prepared.calibrate(batch);
      const nn::QuantizedModel q = prepared.convert();
      ASSERT_EQ(q.layers().size(), 5u);  // conv, maxpool, conv, flatten, linear
      const nn::Tensor4 y = q.forward(test);
      double signal = 0.0, noise = 0.0;
      for (Eigen::Index i = 0; i < y.size(); ++i) {
        signal += static_cast<double>(reference.data()[i]) * reference.data()[i];
        noise += std::pow(static_cast<double>(y.data()[i]) - reference.data()[i], 2);
      }
      EXPECT_GT(10.0 * std::log10(signal / noise), 20.0) << nn::calibrator_name(c) << " on " << qmath::isa_name(path);
      if (c == nn::calibrator::minmax) {
        if (first.empty())
          first.assign(y.data(), y.data() + y.size());
        else
          for (Eigen::Index i = 0; i < y.size(); ++i) ASSERT_EQ(y.data()[i], first[static_cast<std::size_t>(i)]) << qmath::isa_name(path);
      }
    }
  }
  ASSERT_FALSE(first.empty());
}

TEST(NnModel, ResidualBlocksRunFoldAndConvert) {
  std::mt19937 rng(34);
  const float gamma[4] = {1.1f, 0.9f, 1.2f, 0.8f}, beta[4] = {0.1f, -0.1f, 0.0f, 0.2f}, mean[4] = {0.0f, 0.1f, -0.1f, 0.0f},
              var[4] = {1.0f, 0.5f, 2.0f, 1.5f};
  const nn::BatchNorm2d bn(4, gamma, beta, mean, var);
  auto body = std::make_shared<const nn::Sequential>(std::vector<nn::Layer>{
      random_conv(filter(4, 4, 3, 1, 1), rng), bn, nn::ReLU{}, random_conv(filter(4, 4, 3, 1, 1), rng), bn});
  const std::vector<float> fc = random_vector(5 * 4 * 3 * 3, rng, 0.2f), fc_b = random_vector(5, rng, 0.1f);
  const nn::Sequential model({random_conv(filter(2, 4, 3, 1, 1), rng), nn::ReLU{}, nn::Residual{body, true},
                              nn::MaxPool2d{2, 2}, nn::Flatten{}, nn::Linear(fc.data(), 5, 36, fc_b.data())});
  const nn::Tensor4 x = random_tensor(3, 6, 6, 2, rng, 0.0f, 1.0f);
  // fp32: y = relu(x + body(x)).
  const nn::Tensor4 h = nn::ReLU{}.forward(std::get<nn::Conv2d>(model.layers()[0]).forward(x));
  const nn::Tensor4 block = std::get<nn::Residual>(model.layers()[2]).forward(h);
  const nn::Tensor4 through_body = body->forward(h);
  for (Eigen::Index i = 0; i < h.size(); ++i)
    ASSERT_EQ(block.data()[i], std::max(through_body.data()[i] + h.data()[i], 0.0f));
  // BatchNorm folded inside the block, the result unchanged.
  const nn::Sequential folded = nn::fold_batchnorm(model);
  EXPECT_EQ(std::get<nn::Residual>(folded.layers()[2]).body->layers().size(), 3u);
  const nn::Tensor4 reference = model.forward(x), refolded = folded.forward(x);
  for (Eigen::Index i = 0; i < reference.size(); ++i)
    ASSERT_NEAR(refolded.data()[i], reference.data()[i], 1e-4f * (1.0f + std::fabs(reference.data()[i])));
  // Static int8: the block becomes conv, conv and a quantized add, close to fp32 on every path.
  for (qmath::isa path : qmath_test::compiled_gemm_isa_list()) {
    if (!qmath::has(qmath::supported_isas(), path)) continue;
    nn::StaticQuantConfig config;
    config.path = path;
    nn::PreparedModel prepared = nn::prepare(model, config);
    ASSERT_EQ(prepared.observer_count(), 4u);  // input, conv, the block's output, fc
    for (int b = 0; b < 4; ++b) prepared.calibrate(random_tensor(4, 6, 6, 2, rng, 0.0f, 1.0f));
    const nn::QuantizedModel q = prepared.convert();
    ASSERT_TRUE(std::holds_alternative<nn::QuantizedResidual>(q.layers()[1]));
    EXPECT_EQ(std::get<nn::QuantizedResidual>(q.layers()[1]).body->layers().size(), 2u);
    const nn::Tensor4 y = q.forward(x);
    double signal = 0.0, noise = 0.0;
    for (Eigen::Index i = 0; i < y.size(); ++i) {
      signal += static_cast<double>(reference.data()[i]) * reference.data()[i];
      noise += std::pow(static_cast<double>(y.data()[i]) - reference.data()[i], 2);
    }
    EXPECT_GT(10.0 * std::log10(signal / noise), 25.0) << qmath::isa_name(path);
  }
  // One calibration, converted for every path: the same logits.
  nn::PreparedModel prepared = nn::prepare(model);
  prepared.calibrate(random_tensor(8, 6, 6, 2, rng, 0.0f, 1.0f));
  std::vector<float> same;
  for (qmath::isa path : qmath_test::compiled_gemm_isa_list()) {
    if (!qmath::has(qmath::supported_isas(), path)) continue;
    const nn::Tensor4 y = prepared.convert(path).forward(x);
    if (same.empty()) same.assign(y.data(), y.data() + y.size());
    for (Eigen::Index i = 0; i < y.size(); ++i) ASSERT_EQ(y.data()[i], same[static_cast<std::size_t>(i)]) << qmath::isa_name(path);
  }
  EXPECT_LT(prepared.convert().parameter_bytes() * 3, model.parameter_bytes());
  // Dynamic mode reaches into the block; QAT does not take residual blocks yet.
  EXPECT_NO_THROW(nn::quantize_dynamic(model).forward(x));
  EXPECT_THROW(nn::QatModel{model}, qmath::error);
}

TEST(NnModel, DynamicWorkflowReplacesLinearLayers) {
  std::mt19937 rng(32);
  const nn::Sequential model = small_cnn(rng);
  const nn::Sequential dynamic = nn::quantize_dynamic(model);
  ASSERT_TRUE(std::holds_alternative<nn::DynamicLinear>(dynamic.layers().back()));
  EXPECT_LT(dynamic.parameter_bytes(), model.parameter_bytes());
  const nn::Tensor4 x = random_tensor(3, 6, 6, 2, rng, 0.0f, 1.0f);
  const nn::Tensor4 a = model.forward(x), b = dynamic.forward(x);
  for (Eigen::Index i = 0; i < a.size(); ++i) EXPECT_NEAR(a.data()[i], b.data()[i], 0.05);
}

TEST(NnModel, PrepareAndConvertRefuseWhatTheyCannotDo) {
  std::mt19937 rng(33);
  nn::Sequential model = small_cnn(rng);
  EXPECT_THROW(nn::prepare(model).convert(), qmath::error);  // no calibration batch
  nn::Sequential with_avg = model;
  with_avg.layers().insert(with_avg.layers().begin() + 4, nn::AvgPool2d{1, 1});
  EXPECT_THROW(nn::prepare(with_avg), qmath::error);
  EXPECT_THROW(nn::prepare(nn::quantize_dynamic(model)), qmath::error);
  nn::StaticQuantConfig bad;
  bad.activations = nn::calibrator::percentile;
  bad.percentile = 101.0;
  EXPECT_THROW(nn::prepare(model, bad), qmath::error);
}

}  // namespace
