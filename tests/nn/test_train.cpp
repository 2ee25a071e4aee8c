// SPDX-License-Identifier: Apache-2.0
// tests/nn/test_train.cpp: losses and SGD against torch 1.13 (tests/vectors/gen_nn_vectors.py) and finite
// differences; the QAT model's backward against finite differences (fp32 mode) and the straight-through rule
// (fake-quantized mode); converted QAT layers within one output step of what training simulated, on every path.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/nn/qat.hpp"
#include "support/gemm_tester.hpp"

namespace {

namespace nn = qmath::nn;

nn::Tensor4 random_tensor(std::ptrdiff_t n, std::ptrdiff_t h, std::ptrdiff_t w, std::ptrdiff_t c, std::mt19937& rng,
                          float lo = -1.0f, float hi = 1.0f) {
  nn::Tensor4 x(n, h, w, c);
  std::uniform_real_distribution<float> u(lo, hi);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

nn::Tensor4 logits_of(const std::vector<float>& v, std::ptrdiff_t n, std::ptrdiff_t c) {
  nn::Tensor4 t(n, 1, 1, c);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

template <class T>
std::vector<T> read_row(std::istream& in) {
  std::string line;
  std::getline(in, line);
  std::istringstream s(line);
  std::vector<T> v;
  T x;
  while (s >> x) v.push_back(x);
  return v;
}

TEST(NnTrain, LossesAndSgdMatchTorch) {
  std::ifstream in(std::string(QMATH_TESTS_DIR) + "/vectors/nn/train.txt");
  ASSERT_TRUE(in.good()) << "tests/vectors/nn/train.txt is missing";
  std::string header;
  int losses = 0, sgds = 0;
  while (std::getline(in, header)) {
    std::istringstream h(header);
    std::string kind;
    h >> kind;
    if (kind == "loss") {
      std::ptrdiff_t n, c;
      float t, alpha;
      h >> n >> c >> t >> alpha;
      const nn::Tensor4 s = logits_of(read_row<float>(in), n, c), te = logits_of(read_row<float>(in), n, c);
      const std::vector<int> labels = read_row<int>(in);
      const double loss = read_row<double>(in).at(0);
      const std::vector<float> grad = read_row<float>(in);
      const nn::LossResult r = nn::distillation_loss(s, te, alpha > 0.0f ? labels : std::vector<int>{}, t, alpha);
      EXPECT_NEAR(r.loss, loss, 1e-6 * std::max(1.0, std::fabs(loss))) << header;
      for (std::size_t i = 0; i < grad.size(); ++i)
        ASSERT_NEAR(r.gradient.data()[i], grad[i], 1e-6f * std::max(1.0f, std::fabs(grad[i]))) << header << " element " << i;
      ++losses;
    } else {
      ASSERT_EQ(kind, "sgd");
      std::size_t n;
      nn::Sgd o;
      int steps;
      h >> n >> o.learning_rate >> o.momentum >> o.weight_decay >> steps;
      std::vector<float> p = read_row<float>(in);
      nn::SgdState state;
      for (int k = 0; k < steps; ++k) {
        const std::vector<float> g = read_row<float>(in);
        state.step(o, p.data(), g.data(), n);
      }
      const std::vector<float> expected = read_row<float>(in);
      for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(p[i], expected[i], 2e-7f * std::max(1.0f, std::fabs(expected[i]))) << header;
      ++sgds;
    }
  }
  EXPECT_EQ(losses, 6);
  EXPECT_EQ(sgds, 3);
}

TEST(NnTrain, LossGradientsMatchFiniteDifferences) {
  std::mt19937 rng(41);
  const std::ptrdiff_t n = 5, c = 7;
  nn::Tensor4 s = random_tensor(n, 1, 1, c, rng, -4.0f, 4.0f);
  const nn::Tensor4 t = random_tensor(n, 1, 1, c, rng, -4.0f, 4.0f);
  const std::vector<int> labels = {0, 3, 6, 2, 2};
  for (const auto& [temperature, alpha] : std::vector<std::pair<float, float>>{{1.0f, 0.0f}, {3.0f, 0.7f}, {0.5f, 2.0f}}) {
    const nn::LossResult r = nn::distillation_loss(s, t, labels, temperature, alpha);
    for (Eigen::Index i = 0; i < s.size(); ++i) {
      const float keep = s.data()[i], h = 1e-2f;
      s.data()[i] = keep + h;
      const double up = nn::distillation_loss(s, t, labels, temperature, alpha).loss;
      s.data()[i] = keep - h;
      const double down = nn::distillation_loss(s, t, labels, temperature, alpha).loss;
      s.data()[i] = keep;
      ASSERT_NEAR(r.gradient.data()[i], (up - down) / (2.0 * h), 2e-4) << "T " << temperature << " element " << i;
    }
  }
  const nn::LossResult ce = nn::softmax_cross_entropy(s, labels);
  const nn::LossResult as_distillation = nn::distillation_loss(s, s, labels, 1.0f, 1.0f);  // KL(p || p) = 0
  EXPECT_NEAR(ce.loss, as_distillation.loss, 1e-12);
}

TEST(NnTrain, BadInputThrows) {
  std::mt19937 rng(42);
  const nn::Tensor4 s = random_tensor(2, 1, 1, 3, rng);
  EXPECT_THROW(nn::softmax_cross_entropy(s, {0}), qmath::error);
  EXPECT_THROW(nn::softmax_cross_entropy(s, {0, 3}), qmath::error);
  EXPECT_THROW(nn::softmax_cross_entropy(random_tensor(2, 2, 1, 3, rng), {0, 1}), qmath::error);
  EXPECT_THROW(nn::distillation_loss(s, random_tensor(2, 1, 1, 4, rng), {}, 1.0f, 0.0f), qmath::error);
  EXPECT_THROW(nn::distillation_loss(s, s, {}, 0.0f, 0.0f), qmath::error);
  EXPECT_THROW(nn::distillation_loss(s, s, {}, 1.0f, 1.0f), qmath::error);  // alpha > 0 needs labels
  nn::Tensor4 bad = s;
  bad.data()[1] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(nn::softmax(bad), qmath::error);
  nn::SgdState state;
  float p[2] = {1, 2}, g[2] = {0, 0};
  state.step({}, p, g, 2);
  EXPECT_THROW(state.step({}, p, g, 1), qmath::error);
}

qmath::ConvParams filter(std::ptrdiff_t ic, std::ptrdiff_t oc, std::ptrdiff_t k, std::ptrdiff_t pad, std::ptrdiff_t groups = 1) {
  qmath::ConvParams p;
  p.in_channels = ic;
  p.out_channels = oc;
  p.groups = groups;
  p.kernel_h = p.kernel_w = k;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  return p;
}

nn::Conv2d random_conv(const qmath::ConvParams& f, std::mt19937& rng) {
  const auto count = static_cast<std::size_t>(f.out_channels * (f.in_channels / f.groups) * f.kernel_h * f.kernel_w);
  std::normal_distribution<float> normal(0.0f, 0.4f);
  std::vector<float> w(count), b(static_cast<std::size_t>(f.out_channels));
  for (float& v : w) v = normal(rng);
  for (float& v : b) v = normal(rng);
  return nn::Conv2d(f, w.data(), b.data());
}

nn::Sequential small_cnn(std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> fc(3 * 4 * 2 * 2), fc_b(3);
  for (float& v : fc) v = normal(rng);
  for (float& v : fc_b) v = normal(rng);
  return nn::Sequential({random_conv(filter(2, 4, 3, 1, 2), rng), nn::ReLU{}, nn::MaxPool2d{2, 2},
                         random_conv(filter(4, 4, 3, 1), rng), nn::ReLU{6.0f}, nn::Flatten{},
                         nn::Linear(fc.data(), 3, 16, fc_b.data())});
}

// In fp32 mode (no fake quantization) the backward pass is the exact gradient of the network: every layer's
// backward (conv with groups and padding, pools, flatten, fused and standalone ReLU, linear) against central
// differences of the loss, for the input's and the weights' effect through the trained model.
TEST(NnQat, Fp32BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(43);
  const nn::Sequential model = small_cnn(rng);
  const nn::Tensor4 x = random_tensor(3, 4, 4, 2, rng);
  const std::vector<int> labels = {0, 2, 1};
  nn::QatConfig config;
  config.fake_quantize = false;
  nn::QatModel qat(model, config);
  const nn::LossResult r = nn::softmax_cross_entropy(qat.forward(x, true), labels);
  qat.backward(r.gradient);
  // The gradient step moves the loss as its first-order term predicts: loss(w - lr g) ~ loss(w) - lr |g|^2.
  const nn::Sequential before = qat.fp32_model();
  const float lr = 1e-3f;
  qat.step({lr, 0.0f});
  const nn::Sequential after = qat.fp32_model();
  double g2 = 0.0;
  for (std::size_t i = 0; i < before.layers().size(); ++i) {
    if (const auto* c = std::get_if<nn::Conv2d>(&before.layers()[i])) {
      const auto& c2 = std::get<nn::Conv2d>(after.layers()[i]);
      for (std::size_t k = 0; k < c->weight().size(); ++k) g2 += std::pow((c->weight()[k] - c2.weight()[k]) / lr, 2);
      for (std::size_t k = 0; k < c->bias().size(); ++k) g2 += std::pow((c->bias()[k] - c2.bias()[k]) / lr, 2);
    }
    if (const auto* l = std::get_if<nn::Linear>(&before.layers()[i])) {
      const auto& l2 = std::get<nn::Linear>(after.layers()[i]);
      g2 += ((l->weight() - l2.weight()) / lr).squaredNorm() + ((l->bias() - l2.bias()) / lr).squaredNorm();
    }
  }
  const double loss_after = nn::softmax_cross_entropy(after.forward(x), labels).loss;
  EXPECT_NEAR(loss_after, r.loss - lr * g2, 0.05 * lr * g2);
  // Each conv weight's gradient against central differences of the loss.
  const nn::Sequential grads_model = [&] {
    nn::QatModel g(model, config);
    g.forward(x, true);
    g.backward(nn::softmax_cross_entropy(g.forward(x, true), labels).gradient);
    g.step({1.0f, 0.0f});  // w - 1 * grad
    return g.fp32_model();
  }();
  int checked = 0;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const auto* conv = std::get_if<nn::Conv2d>(&model.layers()[i]);
    if (!conv) continue;
    const auto& stepped = std::get<nn::Conv2d>(grads_model.layers()[i]);
    for (std::size_t k = 0; k < conv->weight().size(); k += 7) {
      const double grad = conv->weight()[k] - stepped.weight()[k];
      nn::Sequential moved = model;
      std::vector<float> w = conv->weight();
      const float h = 1e-3f;
      w[k] += h;
      std::get<nn::Conv2d>(moved.layers()[i]).set_parameters(w.data(), nullptr);
      const double up = nn::softmax_cross_entropy(moved.forward(x), labels).loss;
      w[k] -= 2 * h;
      std::get<nn::Conv2d>(moved.layers()[i]).set_parameters(w.data(), nullptr);
      const double down = nn::softmax_cross_entropy(moved.forward(x), labels).loss;
      ASSERT_NEAR(grad, (up - down) / (2.0 * h), 2e-3 * std::max(1.0, std::fabs(grad))) << "layer " << i << " weight " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

// Fake-quantized mode, one Linear: the weight gradient is the straight-through estimator's,
// dL/dW[n][k] = mask_w[n][k] * sum_m g'[m][n] * x_fq[m][k] with g' the output gradient through the output's mask.
TEST(NnQat, StraightThroughGradientsOfALinearLayer) {
  std::mt19937 rng(44);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> w(4 * 6), b(4);
  for (float& v : w) v = normal(rng);
  for (float& v : b) v = normal(rng);
  const nn::Sequential model({nn::Linear(w.data(), 4, 6, b.data())});
  nn::QatConfig config;
  config.weight_bits = 3;
  config.float_output = false;  // the output is fake-quantized too
  nn::QatModel qat(model, config);
  const nn::Tensor4 x = random_tensor(5, 1, 1, 6, rng, -2.0f, 2.0f);
  nn::Tensor4 calibration = x;
  for (Eigen::Index i = 0; i < calibration.size(); ++i) calibration.data()[i] *= 0.5f;  // so that x clips somewhere
  qat.forward(calibration, true);
  const nn::Tensor4 y = qat.forward(x, true);
  nn::Tensor4 g = random_tensor(5, 1, 1, 4, rng);
  qat.backward(g);
  qat.step({1.0f, 0.0f});
  const nn::Sequential tuned = qat.fp32_model();
  const auto& stepped = std::get<nn::Linear>(tuned.layers()[0]);
  // The reference: fake quantize exactly as documented, with the observers' running ranges.
  qmath::MovingAverageMinMaxObserver in_obs, out_obs;
  in_obs.update(calibration.data(), qmath::TensorShape{{calibration.size()}, qmath::storage_order::row_major});
  in_obs.update(x.data(), qmath::TensorShape{{x.size()}, qmath::storage_order::row_major});
  const qmath::QParams<std::uint8_t> ip = in_obs.qparams<std::uint8_t>();
  std::vector<float> x_fq(static_cast<std::size_t>(x.size()));
  qmath::fake_quantize(x.data(), x_fq.size(), ip.scale[0], ip.zero_point[0], 0, 255, x_fq.data());
  const qmath::QParams<std::int8_t> wq = nn::symmetric_weight_qparams(w.data(), w.size(), 4, true, 3);
  std::vector<float> w_fq(w.size());
  std::vector<std::uint8_t> w_mask(w.size());
  qmath::fake_quantize(w.data(), qmath::TensorShape{{4, 6}, qmath::storage_order::row_major}, wq, w_fq.data(), w_mask.data());
  // Pre-activation output, its observer (seen twice) and mask.
  std::vector<float> pre(20), pre_cal(20);
  std::vector<float> cal_fq(static_cast<std::size_t>(x.size()));
  qmath::MovingAverageMinMaxObserver cal_obs;
  cal_obs.update(calibration.data(), qmath::TensorShape{{calibration.size()}, qmath::storage_order::row_major});
  const qmath::QParams<std::uint8_t> cp = cal_obs.qparams<std::uint8_t>();
  qmath::fake_quantize(calibration.data(), cal_fq.size(), cp.scale[0], cp.zero_point[0], 0, 255, cal_fq.data());
  // The bias on the accumulator grid Sx * Sw[n] of each forward's input parameters.
  auto on_grid = [&](int n, float input_scale) {
    const float unit = input_scale * wq.scale[static_cast<std::size_t>(n)];
    return static_cast<float>(std::nearbyint(static_cast<double>(b[static_cast<std::size_t>(n)]) / unit)) * unit;
  };
  for (int m = 0; m < 5; ++m)
    for (int n = 0; n < 4; ++n) {
      float s = on_grid(n, ip.scale[0]), sc = on_grid(n, cp.scale[0]);
      for (int k = 0; k < 6; ++k) {
        s += x_fq[static_cast<std::size_t>(m * 6 + k)] * w_fq[static_cast<std::size_t>(n * 6 + k)];
        sc += cal_fq[static_cast<std::size_t>(m * 6 + k)] * w_fq[static_cast<std::size_t>(n * 6 + k)];
      }
      pre[static_cast<std::size_t>(m * 4 + n)] = s;
      pre_cal[static_cast<std::size_t>(m * 4 + n)] = sc;
    }
  out_obs.update(pre_cal.data(), qmath::TensorShape{{20}, qmath::storage_order::row_major});
  out_obs.update(pre.data(), qmath::TensorShape{{20}, qmath::storage_order::row_major});
  const qmath::QParams<std::uint8_t> op = out_obs.qparams<std::uint8_t>();
  std::vector<float> y_fq(20);
  std::vector<std::uint8_t> out_mask(20);
  qmath::fake_quantize(pre.data(), 20, op.scale[0], op.zero_point[0], 0, 255, y_fq.data(), out_mask.data());
  int masked = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_NEAR(y.data()[i], y_fq[static_cast<std::size_t>(i)], 1e-6f) << i;
    masked += out_mask[static_cast<std::size_t>(i)] == 0;
  }
  EXPECT_GT(masked, 0) << "the test should clip some outputs";
  for (int n = 0; n < 4; ++n)
    for (int k = 0; k < 6; ++k) {
      double grad = 0.0;
      for (int m = 0; m < 5; ++m)
        if (out_mask[static_cast<std::size_t>(m * 4 + n)]) grad += g.data()[m * 4 + n] * x_fq[static_cast<std::size_t>(m * 6 + k)];
      if (!w_mask[static_cast<std::size_t>(n * 6 + k)]) grad = 0.0;
      EXPECT_NEAR(w[static_cast<std::size_t>(n * 6 + k)] - stepped.weight()(n, k), grad, 1e-5) << n << " " << k;
    }
}

// The converted int8 model computes what QAT simulated: for one Conv2d + ReLU (codes in, codes out), the int8
// layer's dequantized output is within one output step of the QAT model's eval output, on every path.
class QatConvert : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(QatConvert, ConvertedLayerIsWithinOneStepOfTheSimulation) {
  const qmath::isa path = GetParam();
  if (!qmath::has(qmath::supported_isas(), path)) GTEST_SKIP() << "this CPU lacks " << qmath::isa_name(path);
  std::mt19937 rng(45);
  for (int bits : {8, 4, 2})
    for (int mode = 0; mode < 3; ++mode) {  // per tensor, per channel, per channel with LSQ
      const bool per_channel = mode > 0;
      const nn::Sequential model({random_conv(filter(3, 6, 3, 1), rng), nn::ReLU{}});
      nn::QatConfig config;
      config.weight_bits = bits;
      config.per_channel_weights = per_channel;
      config.learnable_scales = mode == 2;
      config.float_output = false;
      config.path = path;
      nn::QatModel qat(model, config);
      for (int b = 0; b < 3; ++b) {
        const nn::Tensor4 y = qat.forward(random_tensor(2, 6, 6, 3, rng), true);
        qat.backward(random_tensor(2, 6, 6, 6, rng));  // moves the weights (and with LSQ the scales)
        qat.step({0.05f, 0.0f});
        (void)y;
      }
      const nn::Tensor4 x = random_tensor(2, 6, 6, 3, rng);
      const nn::Tensor4 sim = qat.forward(x, false);
      const nn::QuantizedModel q = qat.convert();
      const nn::Tensor4 y = q.forward(x);
      const auto& layer = std::get<nn::StaticQuantizedConv2d>(q.layers()[0]);
      const float step = layer.output_qparams().scale;
      std::size_t off = 0;
      for (Eigen::Index i = 0; i < y.size(); ++i) {
        const float d = std::fabs(y.data()[i] - sim.data()[i]);
        ASSERT_LE(d, step * 1.0001f) << "bits " << bits << " element " << i;
        off += d > 0.0f;
      }
      std::printf("[ QAT conv W%d %s on %s: %zu of %td codes one step from the simulation ]\n", bits,
                  mode == 2 ? "per-channel LSQ" : per_channel ? "per-channel" : "per-tensor", qmath::isa_name(path), off,
                  static_cast<std::ptrdiff_t>(y.size()));
      EXPECT_LT(off * 100, static_cast<std::size_t>(y.size())) << off << " of " << y.size();
    }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, QatConvert, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

// LSQ: the learned scales move with the gradient and convert() uses them.
TEST(NnQat, LearnableScalesTrainAndConvert) {
  std::mt19937 rng(47);
  const nn::Sequential model({random_conv(filter(2, 4, 3, 1), rng), nn::ReLU{}, nn::Flatten{},
                              nn::Linear(std::vector<float>(3 * 64, 0.1f).data(), 3, 64, nullptr)});
  nn::QatConfig config;
  config.weight_bits = 4;
  config.learnable_scales = true;
  nn::QatModel qat(model, config);
  const nn::Tensor4 x = random_tensor(4, 4, 4, 2, rng);
  const std::vector<int> labels = {0, 1, 2, 1};
  qat.forward(x, true);
  const nn::QuantizedModel q_before = qat.convert();
  const std::vector<float> scales_before = std::get<nn::StaticQuantizedConv2d>(q_before.layers()[0]).weight_scales();
  const float input_scale_before = q_before.input_qparams().scale;
  for (int step = 0; step < 5; ++step) {
    qat.backward(nn::softmax_cross_entropy(qat.forward(x, true), labels).gradient);
    qat.step({0.05f, 0.9f});
  }
  const nn::QuantizedModel q = qat.convert();
  const auto& conv_after = std::get<nn::StaticQuantizedConv2d>(q.layers()[0]);
  EXPECT_NE(conv_after.weight_scales(), scales_before);
  EXPECT_NE(q.input_qparams().scale, input_scale_before);
  // The converted model still computes the simulation's logits (fp32 last layer: no output rounding).
  const nn::Tensor4 sim = qat.forward(x, false), y = q.forward(x);
  for (Eigen::Index i = 0; i < y.size(); ++i) EXPECT_NEAR(y.data()[i], sim.data()[i], 1e-4f * (1.0f + std::fabs(sim.data()[i])));
}

// Pruning masks survive training: masked weights stay exactly zero, the others train.
TEST(NnQat, PruningMasksHoldThroughTraining) {
  std::mt19937 rng(48);
  const nn::Sequential model({random_conv(filter(2, 4, 3, 1), rng), nn::ReLU{}, nn::Flatten{},
                              nn::Linear(std::vector<float>(3 * 64, 0.1f).data(), 3, 64, nullptr)});
  nn::QatConfig config;
  config.fake_quantize = false;
  nn::QatModel qat(model, config);
  std::vector<std::uint8_t> conv_mask(4 * 2 * 9, 1);
  for (std::size_t i = 0; i < conv_mask.size(); i += 3) conv_mask[i] = 0;
  EXPECT_THROW(qat.set_weight_masks({conv_mask}), qmath::error);
  EXPECT_THROW(qat.set_weight_masks({conv_mask, std::vector<std::uint8_t>(5, 1)}), qmath::error);
  const nn::Sequential untouched = qat.fp32_model();
  EXPECT_EQ(std::get<nn::Conv2d>(untouched.layers()[0]).weight(), std::get<nn::Conv2d>(model.layers()[0]).weight());
  qat.set_weight_masks({conv_mask, {}});
  const nn::Tensor4 x = random_tensor(4, 4, 4, 2, rng);
  const std::vector<int> labels = {0, 1, 2, 1};
  for (int step = 0; step < 5; ++step) {
    qat.backward(nn::softmax_cross_entropy(qat.forward(x, true), labels).gradient);
    qat.step({0.05f, 0.9f});
  }
  const nn::Sequential tuned = qat.fp32_model();
  const auto& before = std::get<nn::Conv2d>(model.layers()[0]).weight();
  const auto& after = std::get<nn::Conv2d>(tuned.layers()[0]).weight();
  std::size_t moved = 0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (!conv_mask[i]) EXPECT_EQ(after[i], 0.0f) << i;
    else moved += after[i] != before[i];
  }
  EXPECT_GT(moved, after.size() / 2);
  // A whole output channel masked with zero_dead_biases: its bias is held at zero too; other biases train.
  std::vector<std::uint8_t> channel_mask(4 * 2 * 9, 1);
  std::fill(channel_mask.begin() + 18, channel_mask.begin() + 36, 0);  // output channel 1 (OIHW)
  qat.set_weight_masks({channel_mask, {}}, true);
  for (int step = 0; step < 3; ++step) {
    qat.backward(nn::softmax_cross_entropy(qat.forward(x, true), labels).gradient);
    qat.step({0.05f, 0.9f});
  }
  const nn::Sequential channel_pruned = qat.fp32_model();
  const auto& bias = std::get<nn::Conv2d>(channel_pruned.layers()[0]).bias();
  EXPECT_EQ(bias[1], 0.0f);
  EXPECT_NE(bias[0], 0.0f);
  qat.set_weight_masks({});  // removed: the zeros may train again
  qat.backward(nn::softmax_cross_entropy(qat.forward(x, true), labels).gradient);
  qat.step({0.05f, 0.9f});
  const nn::Sequential unmasked = qat.fp32_model();
  const auto& freed = std::get<nn::Conv2d>(unmasked.layers()[0]).weight();
  EXPECT_NE(freed[0], 0.0f);
}

TEST(NnQat, RefusesWhatItCannotDo) {
  std::mt19937 rng(46);
  const nn::Sequential model = small_cnn(rng);
  nn::QatConfig bad;
  bad.weight_bits = 9;
  EXPECT_THROW(nn::QatModel(model, bad), qmath::error);
  nn::QatModel qat(model);
  EXPECT_THROW(qat.convert(), qmath::error);                                  // observers empty
  EXPECT_THROW(qat.forward(random_tensor(1, 4, 4, 2, rng), false), qmath::error);  // eval before training
  EXPECT_THROW(qat.backward(random_tensor(1, 1, 1, 3, rng)), qmath::error);        // no training forward
  nn::Sequential with_avg = model;
  with_avg.layers().insert(with_avg.layers().begin() + 2, nn::AvgPool2d{1, 1});
  EXPECT_THROW(nn::QatModel{with_avg}, qmath::error);
}

}  // namespace
