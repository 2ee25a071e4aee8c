// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compare/workloads.cpp: what `qmath compare` measures: built-in workloads, or the tensors of files.
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "compare/compare.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/io/safetensors.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace compare {

/// [256, 1024] matrices. Rows stand for output channels: each gets its own spread (log-uniform over [1/2, 2]), as
/// the rows of trained weights do, so that per-channel parameters have something to win.
std::vector<Tensor> builtin_workloads(std::size_t rows, std::size_t cols) {
  std::mt19937 rng(20261122);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::exponential_distribution<float> exponential(1.0f);
  std::uniform_real_distribution<float> log2_spread(-1.0f, 1.0f);
  const auto make = [&](const char* name, const std::function<float(std::size_t col)>& draw) {
    Tensor t{"built-in", name, qmath::TensorShape{{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}},
             std::vector<float>(rows * cols)};
    for (std::size_t r = 0; r < rows; ++r) {
      const float spread = std::exp2(log2_spread(rng));
      for (std::size_t c = 0; c < cols; ++c) t.values[r * cols + c] = spread * draw(c);
    }
    return t;
  };
  // LLM-like: a handful of input features (columns) carry 20-50x larger values in every row, as the outlier
  // features of large transformers do (LLM.int8()).
  std::vector<float> feature_gain(cols, 1.0f);
  const float gains[] = {20.0f, 30.0f, 40.0f, 50.0f};
  const std::size_t outlier_columns[] = {7, cols / 3, cols / 2 + 5, cols - 11};
  for (std::size_t k = 0; k < 4; ++k) feature_gain[outlier_columns[k] % cols] = gains[k];
  return {
      make("gaussian", [&](std::size_t) { return normal(rng); }),
      make("laplace", [&](std::size_t) { return (uniform(rng) < 0 ? -1.0f : 1.0f) * exponential(rng); }),
      make("uniform", [&](std::size_t) { return uniform(rng); }),
      make("llm-outliers", [&](std::size_t c) { return feature_gain[c] * normal(rng); }),
      make("relu", [&](std::size_t) { return std::max(0.0f, normal(rng)); }),
  };
}

/// Every tensor of a .npy or .safetensors file, widened to float32.
std::vector<Tensor> read_tensors(const std::string& path) {
  check_readable_file(path, "compare: the input");
  std::vector<Tensor> out;
  if (ends_with(path, ".npy")) {
    const qmath::NpyArray a = qmath::read_npy(path);
    std::string stem = base_name(path);
    stem.resize(stem.size() - 4);
    out.push_back({path, stem, qmath::shape_of(a), a.to_float()});
  } else if (ends_with(path, ".safetensors")) {
    const qmath::SafetensorsFile f = qmath::read_safetensors(path);
    for (const qmath::SafetensorsTensor& t : f.tensors)
      out.push_back({path, t.name, qmath::TensorShape{t.shape}, t.to_float()});
  } else {
    throw cli_error("compare: '" + path + "' is neither a .npy nor a .safetensors file");
  }
  return out;
}

}  // namespace compare
}  // namespace qmath_tool
