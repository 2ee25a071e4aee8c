// SPDX-License-Identifier: Apache-2.0
// tests/nn/test_mnist.cpp: the MNIST CNN of ../shared/realdata end to end: the fp32 model against the stored float64
// logits, the static int8 model identical on every ISA path, and (all 10,000 images, label "slow") top-1 and logit
// SQNR of the int8 schemes against the torch simulation in ../shared/realdata/README.md.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../examples/mnist_cnn.hpp"
#include "support/gemm_tester.hpp"

namespace {

namespace nn = qmath::nn;
const std::string kRealdata = std::string(QMATH_SHARED_DIR) + "/realdata";

bool have_mnist() {
  return std::ifstream(kRealdata + "/mnist-cntk/weights/fc.weight.bin").good() &&
         std::ifstream(kRealdata + "/mnist-t10k/t10k-images-idx3-ubyte").good();
}

#define QMATH_NEED_MNIST()                                                                                     \
  if (!have_mnist())                                                                                           \
  GTEST_SKIP() << "needs " << kRealdata << "/mnist-cntk and mnist-t10k (the shared real-data folder is absent)"

double sqnr_db(const nn::Tensor4& reference, const nn::Tensor4& y) {
  double signal = 0.0, noise = 0.0;
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    signal += static_cast<double>(reference.data()[i]) * reference.data()[i];
    noise += std::pow(static_cast<double>(y.data()[i]) - reference.data()[i], 2);
  }
  return 10.0 * std::log10(signal / noise);
}

double top1(const nn::Tensor4& logits, const mnist::TestSet& test, std::size_t first = 0) {
  std::size_t correct = 0;
  const auto n = static_cast<std::size_t>(logits.dimension(0));
  for (std::size_t i = 0; i < n; ++i) correct += mnist::argmax10(logits.data() + 10 * i) == test.labels[first + i];
  return 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

nn::PreparedModel calibrated(const nn::Sequential& model, const mnist::TestSet& test, nn::StaticQuantConfig config,
                             std::size_t batches = 10) {
  nn::PreparedModel prepared = nn::prepare(model, config);
  for (std::size_t b = 0; b < batches; ++b) prepared.calibrate(test.batch(100 * b, 100));
  return prepared;
}


TEST(Mnist, Fp32LogitsMatchTheReference) {
  QMATH_NEED_MNIST();
  const nn::Sequential model = mnist::load_model(kRealdata);
  const mnist::TestSet test = mnist::load_test_set(kRealdata);
  ASSERT_EQ(test.count, 10000u);
  const std::vector<float> reference =
      mnist::read_floats(kRealdata + "/mnist-cntk/ref_logits_t10k_input_div255.f32.bin", 100000);
  const std::size_t n = 100;  // all 10,000 in MnistFull
  const nn::Tensor4 y = model.forward(test.batch(0, n));
  for (std::size_t i = 0; i < n; ++i) {
    float row = 0.0f;
    for (std::size_t k = 0; k < 10; ++k) row = std::max(row, std::fabs(reference[10 * i + k]));
    for (std::size_t k = 0; k < 10; ++k) ASSERT_NEAR(y.data()[10 * i + k], reference[10 * i + k], 1e-4f * row) << i;
  }
}

// The converted network's logits are the same bits on every GEMM path (the int8 arithmetic is exact and the float
// epilogue is the same formula everywhere).
TEST(Mnist, Int8LogitsAreIdenticalOnEveryPath) {
  QMATH_NEED_MNIST();
  const nn::Sequential model = mnist::load_model(kRealdata);
  const mnist::TestSet test = mnist::load_test_set(kRealdata);
  const nn::Tensor4 x = test.batch(1000, 100);
  for (bool per_channel : {false, true}) {
    std::vector<float> first;
    std::string tested;
    nn::StaticQuantConfig config;
    config.per_channel_weights = per_channel;
    const nn::PreparedModel prepared = calibrated(model, test, config, 2);
    for (qmath::isa path : qmath_test::compiled_gemm_isa_list()) {
      if (!qmath::has(qmath::supported_isas(), path)) continue;
      const nn::QuantizedModel q = prepared.convert(path);
      const nn::Tensor4 y = q.forward(x);
      const nn::Tensor4 y2 = q.forward(x, qmath::GemmOptions{3, nullptr});
      for (Eigen::Index i = 0; i < y.size(); ++i) ASSERT_EQ(y.data()[i], y2.data()[i]) << "threads, " << qmath::isa_name(path);
      if (first.empty()) first.assign(y.data(), y.data() + y.size());
      for (Eigen::Index i = 0; i < y.size(); ++i)
        ASSERT_EQ(y.data()[i], first[static_cast<std::size_t>(i)]) << "logit " << i << " on " << qmath::isa_name(path);
      tested += std::string(" ") + qmath::isa_name(path);
    }
    std::printf("[ MNIST int8 logits identical on:%s ]\n", tested.c_str());
  }
}

// All 10,000 images (ctest mnist_full, label "slow": optimized builds only).
TEST(MnistFull, AccuracyAndSqnrMatchOrBeatTheTorchSimulation) {
  QMATH_NEED_MNIST();
  const nn::Sequential model = mnist::load_model(kRealdata);
  const mnist::TestSet test = mnist::load_test_set(kRealdata);
  const nn::Tensor4 x = test.batch(0, 10000);
  const nn::Tensor4 fp32 = model.forward(x);
  EXPECT_NEAR(top1(fp32, test), 98.90, 1e-9);
  // README of ../shared/realdata: W8A8 per-tensor 39.6 dB, per-channel 43.0 dB (min/max calibration on images
  // 0-999; there the logits stay fp32, as float_output does here).
  for (bool per_channel : {false, true}) {
    nn::StaticQuantConfig config;
    config.per_channel_weights = per_channel;
    const nn::Tensor4 y = calibrated(model, test, config).convert().forward(x);
    const double db = sqnr_db(fp32, y);
    std::printf("[ MNIST static W8A8 %s minmax: top-1 %.2f %%, SQNR %.2f dB ]\n", per_channel ? "per-channel" : "per-tensor",
                top1(y, test), db);
    EXPECT_GE(db, per_channel ? 43.0 : 39.6);
    EXPECT_NEAR(top1(y, test), 98.90, 0.1);
  }
  const nn::Tensor4 dynamic = nn::quantize_dynamic(model).forward(x);
  EXPECT_GE(sqnr_db(fp32, dynamic), 40.0);
  EXPECT_NEAR(top1(dynamic, test), 98.90, 0.1);
}

}  // namespace
