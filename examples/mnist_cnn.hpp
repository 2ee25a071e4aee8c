// SPDX-License-Identifier: Apache-2.0
// examples/mnist_cnn.hpp: the ONNX model zoo's MNIST CNN (../shared/realdata/mnist-cntk) as an nn::Sequential,
// and the MNIST test set (../shared/realdata/mnist-t10k) as NHWC batches. Shared by examples/mnist_quantize.cpp
// and tests/nn/test_mnist.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "qmath/nn/model.hpp"

namespace mnist {

inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<float> read_floats(const std::string& path, std::size_t count) {
  const std::vector<unsigned char> bytes = read_bytes(path);
  if (bytes.size() != count * sizeof(float))
    throw std::runtime_error(path + ": " + std::to_string(bytes.size()) + " bytes, expected " +
                             std::to_string(count * sizeof(float)));
  std::vector<float> v(count);
  std::memcpy(v.data(), bytes.data(), bytes.size());  // little-endian float32, as the folder's README says
  return v;
}

/// conv1 5x5 pad 2 (1 -> 8) + ReLU + maxpool 2, conv2 5x5 pad 2 (8 -> 16) + ReLU + maxpool 3, flatten, fc 256 -> 10.
inline qmath::nn::Sequential load_model(const std::string& realdata) {
  namespace nn = qmath::nn;
  const std::string dir = realdata + "/mnist-cntk/weights/";
  auto conv = [&](const std::string& name, std::ptrdiff_t in, std::ptrdiff_t out) {
    qmath::ConvParams p;
    p.in_channels = in;
    p.out_channels = out;
    p.kernel_h = p.kernel_w = 5;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 2;
    const std::vector<float> w = read_floats(dir + name + ".weight.bin", static_cast<std::size_t>(out * in * 25));
    const std::vector<float> b = read_floats(dir + name + ".bias.bin", static_cast<std::size_t>(out));
    return nn::Conv2d(p, w.data(), b.data());
  };
  const std::vector<float> fc_w = read_floats(dir + "fc.weight.bin", 10 * 256);
  const std::vector<float> fc_b = read_floats(dir + "fc.bias.bin", 10);
  return nn::Sequential({conv("conv1", 1, 8), nn::ReLU{}, nn::MaxPool2d{2, 2}, conv("conv2", 8, 16), nn::ReLU{},
                         nn::MaxPool2d{3, 3}, nn::Flatten{}, nn::Linear(fc_w.data(), 10, 256, fc_b.data())});
}

struct TestSet {
  std::vector<unsigned char> pixels;  // count x 28 x 28
  std::vector<unsigned char> labels;
  std::size_t count = 0;

  /// Images [first, first + n) as [n, 28, 28, 1], pixel / 255.
  qmath::nn::Tensor4 batch(std::size_t first, std::size_t n) const {
    qmath::nn::Tensor4 x(static_cast<Eigen::Index>(n), 28, 28, 1);
    for (std::size_t i = 0; i < n * 784; ++i) x.data()[i] = static_cast<float>(pixels[first * 784 + i]) / 255.0f;
    return x;
  }
};

inline std::uint32_t big_endian(const std::vector<unsigned char>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

inline TestSet load_test_set(const std::string& realdata) {
  const std::string dir = realdata + "/mnist-t10k/";
  const std::vector<unsigned char> images = read_bytes(dir + "t10k-images-idx3-ubyte");
  const std::vector<unsigned char> labels = read_bytes(dir + "t10k-labels-idx1-ubyte");
  if (images.size() < 16 || big_endian(images, 0) != 2051 || big_endian(images, 8) != 28 || big_endian(images, 12) != 28)
    throw std::runtime_error(dir + "t10k-images-idx3-ubyte: not an IDX file of 28 x 28 images");
  if (labels.size() < 8 || big_endian(labels, 0) != 2049) throw std::runtime_error(dir + "t10k-labels-idx1-ubyte: not IDX labels");
  TestSet t;
  t.count = big_endian(images, 4);
  if (big_endian(labels, 4) != t.count || images.size() != 16 + t.count * 784 || labels.size() != 8 + t.count)
    throw std::runtime_error(dir + ": image and label files disagree in size");
  t.pixels.assign(images.begin() + 16, images.end());
  t.labels.assign(labels.begin() + 8, labels.end());
  return t;
}

/// Index of the largest of the 10 logits of row r.
inline int argmax10(const float* logits) {
  int best = 0;
  for (int k = 1; k < 10; ++k)
    if (logits[k] > logits[best]) best = k;
  return best;
}

/// Top-1 (%), agreement with the fp32 model's top-1 (%) and the logits' SQNR against fp32 (dB).
struct Scores {
  double top1, agreement, sqnr_db;
};

inline Scores score(const qmath::nn::Tensor4& logits, const qmath::nn::Tensor4& fp32, const TestSet& test) {
  const std::size_t n = static_cast<std::size_t>(logits.dimension(0));
  std::size_t correct = 0, agree = 0;
  double signal = 0.0, noise = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const int a = argmax10(logits.data() + 10 * i), b = argmax10(fp32.data() + 10 * i);
    correct += a == test.labels[i];
    agree += a == b;
    for (std::size_t k = 0; k < 10; ++k) {
      const double r = fp32.data()[10 * i + k], d = logits.data()[10 * i + k] - r;
      signal += r * r;
      noise += d * d;
    }
  }
  const double sqnr = noise == 0.0 ? INFINITY : 10.0 * std::log10(signal / noise);
  return {100.0 * static_cast<double>(correct) / static_cast<double>(n), 100.0 * static_cast<double>(agree) / static_cast<double>(n), sqnr};
}

}  // namespace mnist
