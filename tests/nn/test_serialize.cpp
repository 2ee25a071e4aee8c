// SPDX-License-Identifier: Apache-2.0
// tests/nn/test_serialize.cpp: a Sequential's parameters through .safetensors and .npy folders under torch's
// state_dict names: round trips, torch's key layout, and every refusal (missing, misshapen, unused tensors).
#include <cstdio>
#include <cstring>
#include <limits>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/nn/serialize.hpp"

namespace {

namespace nn = qmath::nn;

std::vector<float> random_vector(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

nn::Sequential model_with(std::mt19937& rng, bool zeros) {
  auto values = [&](std::size_t n) { return zeros ? std::vector<float>(n, 0.0f) : random_vector(n, rng); };
  qmath::ConvParams f;
  f.in_channels = 2;
  f.out_channels = 4;
  f.kernel_h = f.kernel_w = 3;
  f.pad_top = f.pad_left = f.pad_bottom = f.pad_right = 1;
  const std::vector<float> w = values(72), b = values(4), w2 = values(144), b2 = values(4), fc = values(3 * 36),
                           fcb = values(3), g = values(4), be = values(4), m = values(4);
  std::vector<float> v = values(4);
  for (float& x : v) x = x * x + 0.5f;
  qmath::ConvParams f4 = f;
  f4.in_channels = 4;
  auto body = std::make_shared<const nn::Sequential>(
      std::vector<nn::Layer>{nn::Conv2d(f4, w2.data(), b2.data()), nn::BatchNorm2d(4, g.data(), be.data(), m.data(), v.data())});
  return nn::Sequential({nn::Conv2d(f, w.data(), b.data()), nn::ReLU{}, nn::Residual{body, true}, nn::MaxPool2d{2, 2},
                         nn::Flatten{}, nn::Linear(fc.data(), 3, 36, fcb.data())});
}

nn::Tensor4 input(std::mt19937& rng) {
  nn::Tensor4 x(2, 6, 6, 2);
  const std::vector<float> v = random_vector(static_cast<std::size_t>(x.size()), rng);
  std::copy(v.begin(), v.end(), x.data());
  return x;
}

TEST(NnSerialize, SafetensorsRoundTripUnderTorchNames) {
  std::mt19937 rng(51);
  const nn::Sequential trained = model_with(rng, false), blank = model_with(rng, true);
  const std::vector<qmath::SafetensorsTensor> dict = nn::state_dict(trained);
  std::vector<std::string> names;
  for (const auto& t : dict) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.body.0.weight", "2.body.0.bias", "2.body.1.weight",
                                             "2.body.1.bias", "2.body.1.running_mean", "2.body.1.running_var", "5.weight",
                                             "5.bias"}));
  EXPECT_EQ(dict[0].shape, (std::vector<std::int64_t>{4, 2, 3, 3}));
  const std::string path = ::testing::TempDir() + "qmath_nn_roundtrip.safetensors";
  nn::save_safetensors(trained, path);
  const nn::Sequential loaded = nn::load_state_dict(blank, path);
  const nn::Tensor4 x = input(rng);
  const nn::Tensor4 a = trained.forward(x), b = loaded.forward(x), untouched = blank.forward(x);
  for (Eigen::Index i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]);
  EXPECT_NE(untouched.data()[0], a.data()[0]);  // the model passed in is not changed
  std::remove(path.c_str());
}

TEST(NnSerialize, NpyFolder) {
  std::mt19937 rng(52);
  const nn::Sequential trained = model_with(rng, false), blank = model_with(rng, true);
  const std::string dir = ::testing::TempDir() + "qmath_nn_npy";
  std::filesystem::create_directories(dir);
  for (const auto& t : nn::state_dict(trained)) qmath::write_npy(dir + "/" + t.name + ".npy", t.values<float>(), t.shape);
  const nn::Sequential loaded = nn::load_state_dict(blank, dir);
  const nn::Tensor4 x = input(rng);
  const nn::Tensor4 a = trained.forward(x), b = loaded.forward(x);
  for (Eigen::Index i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]);
  std::filesystem::remove_all(dir);
}

TEST(NnSerialize, RefusesMissingMisshapenAndUnusedTensors) {
  std::mt19937 rng(53);
  const nn::Sequential model = model_with(rng, false);
  qmath::SafetensorsFile file;
  file.tensors = nn::state_dict(model);
  EXPECT_NO_THROW(nn::load_state_dict(model, file));
  qmath::SafetensorsFile missing = file;
  missing.tensors.erase(missing.tensors.begin() + 3);
  EXPECT_THROW(nn::load_state_dict(model, missing), qmath::error);
  qmath::SafetensorsFile misshapen = file;
  misshapen.tensors[8].shape = {36, 3};
  EXPECT_THROW(nn::load_state_dict(model, misshapen), qmath::error);
  qmath::SafetensorsFile extra = file;
  extra.tensors.push_back(extra.tensors[0]);
  extra.tensors.back().name = "9.weight";
  EXPECT_THROW(nn::load_state_dict(model, extra), qmath::error);
  EXPECT_NO_THROW(nn::load_state_dict(model, extra, /*strict=*/false));
  qmath::SafetensorsFile nan = file;
  const float bad = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.tensors[1].data.data(), &bad, sizeof bad);
  EXPECT_THROW(nn::load_state_dict(model, nan), qmath::error);
  EXPECT_THROW(nn::state_dict(nn::quantize_dynamic(model)), qmath::error);
}

}  // namespace
