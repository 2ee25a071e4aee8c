// SPDX-License-Identifier: Apache-2.0
// Mixed precision: the allocators against brute force, the sensitivity against a direct computation, and the
// recipe applied by convert() (each layer's scales from its own width).
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/compress/mixed_precision.hpp"

namespace {

namespace compress = qmath::compress;
namespace nn = qmath::nn;
using Options = std::vector<std::vector<compress::BitOption>>;

// Errors c_i 4^-bits (the usual uniform-quantizer noise law) with random c_i, bytes n_i bits / 8.
Options random_problem(std::mt19937& rng, std::size_t layers) {
  std::uniform_real_distribution<double> c(0.1, 10.0);
  std::uniform_int_distribution<int> n(10, 1000);
  Options o(layers);
  for (auto& layer : o) {
    const double ci = c(rng), ni = n(rng);
    for (int bits : {2, 3, 4, 6, 8}) layer.push_back({bits, ni * bits / 8.0, ci * std::pow(4.0, -bits)});
  }
  return o;
}

// The best error within the budget, over every combination.
double brute_force(const Options& o, double budget) {
  double best = 1e300;
  std::vector<std::size_t> k(o.size(), 0);
  for (;;) {
    double bytes = 0.0, error = 0.0;
    for (std::size_t i = 0; i < o.size(); ++i) {
      bytes += o[i][k[i]].bytes;
      error += o[i][k[i]].error;
    }
    if (bytes <= budget) best = std::min(best, error);
    std::size_t i = 0;
    while (i < o.size() && ++k[i] == o[i].size()) k[i++] = 0;
    if (i == o.size()) return best;
  }
}

TEST(MixedPrecision, AllocatorsFitTheBudgetAndApproachTheOptimum) {
  std::mt19937 rng(1);
  int greedy_optimal = 0, lagrangian_optimal = 0, trials = 0;
  double greedy_worst = 1.0, lagrangian_worst = 1.0;
  for (int t = 0; t < 40; ++t) {
    const Options o = random_problem(rng, 4);
    double lo = 0.0, hi = 0.0;
    for (const auto& layer : o) {
      lo += layer.front().bytes;
      hi += layer.back().bytes;
    }
    for (double f : {0.0, 0.2, 0.5, 0.8, 1.0}) {
      const double budget = lo + f * (hi - lo);
      const double best = brute_force(o, budget);
      // Bytes are whole bits here, so the dynamic program is exact.
      const compress::Allocation exact = compress::allocate_optimal(o, budget);
      EXPECT_LE(exact.bytes, budget + 1e-9);
      EXPECT_NEAR(exact.error, best, 1e-12 * best) << "trial " << t << " budget fraction " << f;
      const compress::Allocation g = compress::allocate_greedy(o, budget), l = compress::allocate_lagrangian(o, budget);
      for (const compress::Allocation* a : {&g, &l}) {
        ASSERT_EQ(a->choice.size(), 4u);
        EXPECT_LE(a->bytes, budget + 1e-9);
        EXPECT_GE(a->error, best * (1.0 - 1e-12));
      }
      greedy_optimal += g.error <= best * (1.0 + 1e-9);
      lagrangian_optimal += l.error <= best * (1.0 + 1e-9);
      greedy_worst = std::max(greedy_worst, g.error / best);
      lagrangian_worst = std::max(lagrangian_worst, l.error / best);
      ++trials;
    }
  }
  std::printf("[ of %d knapsacks: greedy optimal in %d (worst %.2fx), Lagrangian in %d (worst %.2fx) ]\n", trials,
              greedy_optimal, greedy_worst, lagrangian_optimal, lagrangian_worst);
  EXPECT_GE(lagrangian_optimal * 10, trials * 7);
  EXPECT_GE(greedy_optimal * 10, trials * 5);
}

TEST(MixedPrecision, EnoughBudgetTakesTheBestAndTooLittleThrows) {
  std::mt19937 rng(2);
  const Options o = random_problem(rng, 3);
  const compress::Allocation a = compress::allocate_greedy(o, 1e9), b = compress::allocate_lagrangian(o, 1e9);
  EXPECT_EQ(a.choice, (std::vector<std::size_t>{4, 4, 4}));
  EXPECT_EQ(b.choice, a.choice);
  double floor = 0.0;
  for (const auto& layer : o) floor += layer.front().bytes;
  EXPECT_EQ(compress::allocate_lagrangian(o, floor).choice, (std::vector<std::size_t>{0, 0, 0}));
  EXPECT_THROW(compress::allocate_greedy(o, floor - 1.0), qmath::error);
  EXPECT_THROW(compress::allocate_lagrangian(o, floor - 1.0), qmath::error);
  EXPECT_THROW(compress::allocate_greedy({{}}, 10.0), qmath::error);
  EXPECT_THROW(compress::allocate_greedy({{{8, -1.0, 0.0}}}, 10.0), qmath::error);
}

// Thousands of layers: the dynamic program coarsens its steps (2^24 / layers of them) instead of allocating
// layers x 2^20 bytes, and stays at least as good as anything that fits the budget less one step per layer.
TEST(MixedPrecision, ExactAllocationBoundsItsCostForManyLayers) {
  std::mt19937 rng(5);
  const std::size_t layers = 3000;
  const Options o = random_problem(rng, layers);
  double lo = 0.0, hi = 0.0;
  for (const auto& layer : o) {
    lo += layer.front().bytes;
    hi += layer.back().bytes;
  }
  const double budget = 0.5 * (lo + hi), step = budget / static_cast<double>((std::size_t{1} << 24) / layers);
  const compress::Allocation a = compress::allocate_optimal(o, budget);
  EXPECT_LE(a.bytes, budget + 1e-6);
  EXPECT_LE(a.error, compress::allocate_greedy(o, budget - static_cast<double>(layers) * step).error * (1.0 + 1e-9));
}

nn::Sequential small_model(std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 0.3f);
  qmath::ConvParams p;
  p.in_channels = 2;
  p.out_channels = 4;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  std::vector<float> cw(4 * 2 * 9), lw(3 * 4 * 4 * 4), cb(4), lb(3);
  for (auto* vec : {&cw, &lw, &cb, &lb})
    for (float& v : *vec) v = g(rng);
  cw[5] = 2.0f;  // an outlier makes conv's per-channel scale of channel 0 coarse
  return nn::Sequential({nn::Conv2d(p, cw.data(), cb.data()), nn::ReLU{}, nn::MaxPool2d{2, 2}, nn::Flatten{},
                         nn::Linear(lw.data(), 3, 64, lb.data())});
}

std::vector<nn::Tensor4> batches(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<nn::Tensor4> out;
  for (int b = 0; b < 2; ++b) {
    nn::Tensor4 x(4, 8, 8, 2);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
    out.push_back(x);
  }
  return out;
}

TEST(MixedPrecision, SensitivityIsTheOutputNoiseOfOneQuantizedLayer) {
  std::mt19937 rng(3);
  const nn::Sequential model = small_model(rng);
  const std::vector<nn::Tensor4> data = batches(rng);
  const compress::Sensitivity s = compress::layer_sensitivity(model, data, {2, 4, 8});
  ASSERT_EQ(s.options.size(), 2u);
  EXPECT_EQ(s.weights, (std::vector<std::size_t>{72, 192}));
  EXPECT_DOUBLE_EQ(s.scale_bytes, 4.0 * (4 + 3));
  for (const auto& layer : s.options) {
    ASSERT_EQ(layer.size(), 3u);
    EXPECT_GT(layer[0].error, layer[1].error);
    EXPECT_GT(layer[1].error, layer[2].error);
    EXPECT_GT(layer[2].error, 0.0);
  }
  EXPECT_DOUBLE_EQ(s.options[1][1].bytes, 192 * 4 / 8.0 + 3 * 4.0);
  // Layer 1 (the Linear) at 4 bits, computed here directly.
  nn::Sequential q = model;
  compress::fake_quantize_weights(q.layers()[4], 4);
  double noise = 0.0, count = 0.0;
  for (const nn::Tensor4& x : data) {
    const nn::Tensor4 a = q.forward(x), b = model.forward(x);
    for (Eigen::Index i = 0; i < a.size(); ++i) noise += std::pow(static_cast<double>(a.data()[i]) - b.data()[i], 2.0);
    count += static_cast<double>(a.size());
  }
  EXPECT_NEAR(s.options[1][1].error, noise / count, 1e-12 + 1e-9 * noise / count);
  // Budgets: uniform 4 bits fits budget_for_bits_per_weight(4) exactly and reads back as 4 bits per weight.
  const compress::Allocation u4 = s.uniform(4);
  EXPECT_DOUBLE_EQ(u4.bytes, s.budget_for_bits_per_weight(4.0));
  EXPECT_DOUBLE_EQ(s.bits_per_weight(u4), 4.0);
  const compress::Allocation mixed = compress::allocate_lagrangian(s.options, s.budget_for_bits_per_weight(4.0));
  EXPECT_LE(mixed.error, u4.error);
  EXPECT_THROW(s.uniform(5), qmath::error);
  EXPECT_THROW(compress::layer_sensitivity(model, {}, {4}), qmath::error);
  EXPECT_THROW(compress::layer_sensitivity(model, data, {9}), qmath::error);
}

TEST(MixedPrecision, RecipeSetsEachLayersWidthAtConvert) {
  std::mt19937 rng(4);
  const nn::Sequential model = small_model(rng);
  const std::vector<nn::Tensor4> data = batches(rng);
  nn::StaticQuantConfig config;
  config.layer_weight_bits = {3, 6};
  nn::PreparedModel prepared = nn::prepare(model, config);
  for (const nn::Tensor4& x : data) prepared.calibrate(x);
  const nn::QuantizedModel q = prepared.convert();
  const auto& conv = std::get<nn::StaticQuantizedConv2d>(q.layers()[0]);
  const auto& fc = std::get<nn::StaticQuantizedLinear>(q.layers().back());
  const auto& cw = std::get<nn::Conv2d>(model.layers()[0]).weight();
  const auto& lw = std::get<nn::Linear>(model.layers()[4]).weight();
  for (std::size_t c = 0; c < 4; ++c) {
    float m = 0.0f;
    for (std::size_t i = c * 18; i < c * 18 + 18; ++i) m = std::max(m, std::fabs(cw[i]));
    EXPECT_FLOAT_EQ(conv.weight_scales()[c], std::max(m / 3.5f, FLT_EPSILON)) << c;  // 3 bits: [-4, 3]
  }
  for (Eigen::Index r = 0; r < 3; ++r)
    EXPECT_FLOAT_EQ(fc.weight_scales()[static_cast<std::size_t>(r)], lw.row(r).cwiseAbs().maxCoeff() / 31.5f) << r;  // 6 bits
  config.layer_weight_bits = {8};
  EXPECT_THROW(nn::prepare(model, config), qmath::error);
  config.layer_weight_bits = {8, 9};
  EXPECT_THROW(nn::prepare(model, config), qmath::error);
  EXPECT_EQ(nn::weight_layer_count(model), 2u);
}

}  // namespace
