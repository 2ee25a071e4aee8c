// SPDX-License-Identifier: Apache-2.0
// tests/support/realdata.hpp: loads the trained weights of ../shared/realdata (raw little-endian float32 files)
// as named row-major tensors, one per weight matrix.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace qmath_test {

struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

inline std::vector<char> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::size_t element_count(const std::vector<std::int64_t>& shape) {
  std::size_t n = 1;
  for (std::int64_t d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

/// The MNIST CNN (mnist-cntk/weights/*.bin; shapes from that folder's README and model.json).
inline std::vector<NamedTensor> load_mnist_cntk(const std::string& realdata_dir) {
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> layout = {
      {"conv1.weight", {8, 1, 5, 5}}, {"conv1.bias", {8}}, {"conv2.weight", {16, 8, 5, 5}},
      {"conv2.bias", {16}},           {"fc.weight", {10, 256}}, {"fc.bias", {10}}};
  std::vector<NamedTensor> out;
  for (const auto& [name, shape] : layout) {
    const std::string path = realdata_dir + "/mnist-cntk/weights/" + name + ".bin";
    const std::vector<char> bytes = read_file_bytes(path);
    NamedTensor t{name, shape, std::vector<float>(element_count(shape))};
    if (bytes.size() != t.values.size() * sizeof(float))
      throw std::runtime_error(path + ": " + std::to_string(bytes.size()) + " bytes, expected " +
                               std::to_string(t.values.size() * sizeof(float)));
    std::memcpy(t.values.data(), bytes.data(), bytes.size());
    out.push_back(std::move(t));
  }
  return out;
}

/// stories260K.bin (llama2.c format): every weight matrix as its own tensor ("layers.2.wq" [64, 64], [out, in]),
/// plus tok_emb and the RMSNorm gains (rank 1). The RoPE tables at the end are computed, not trained: left out.
inline std::vector<NamedTensor> load_stories260k(const std::string& realdata_dir) {
  const std::string path = realdata_dir + "/stories260K/stories260K.bin";
  const std::vector<char> bytes = read_file_bytes(path);
  std::int32_t config[7];
  if (bytes.size() < sizeof(config)) throw std::runtime_error(path + ": too short");
  std::memcpy(config, bytes.data(), sizeof(config));
  const std::int64_t dim = config[0], hidden = config[1], layers = config[2], heads = config[3],
                     kv_heads = config[4], vocab = config[5], seq_len = config[6];
  if (dim != 64 || hidden != 172 || layers != 5 || heads != 8 || kv_heads != 4 || vocab != 512 || seq_len != 512)
    throw std::runtime_error(path + ": unexpected config (not the stories260K checkpoint)");
  const std::int64_t kv_dim = dim * kv_heads / heads;
  std::size_t offset = sizeof(config);
  std::vector<NamedTensor> out;
  const auto take = [&](const std::string& name, std::vector<std::int64_t> shape) {
    NamedTensor t{name, std::move(shape), {}};
    t.values.resize(element_count(t.shape));
    const std::size_t size = t.values.size() * sizeof(float);
    if (offset + size > bytes.size()) throw std::runtime_error(path + ": truncated at " + name);
    std::memcpy(t.values.data(), bytes.data() + offset, size);
    offset += size;
    return t;
  };
  const auto per_layer = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    for (std::int64_t l = 0; l < layers; ++l)
      out.push_back(take("layers." + std::to_string(l) + "." + name,
                         cols == 0 ? std::vector<std::int64_t>{rows} : std::vector<std::int64_t>{rows, cols}));
  };
  out.push_back(take("tok_emb", {vocab, dim}));
  per_layer("rms_att", dim, 0);
  per_layer("wq", dim, dim);
  per_layer("wk", kv_dim, dim);
  per_layer("wv", kv_dim, dim);
  per_layer("wo", dim, dim);
  per_layer("rms_ffn", dim, 0);
  per_layer("w1", hidden, dim);
  per_layer("w2", dim, hidden);
  per_layer("w3", hidden, dim);
  out.push_back(take("rms_final", {dim}));
  const std::size_t rope = static_cast<std::size_t>(seq_len * (dim / heads / 2)) * 2 * sizeof(float);
  if (offset + rope != bytes.size())
    throw std::runtime_error(path + ": " + std::to_string(bytes.size() - offset) + " bytes after rms_final, expected " +
                             std::to_string(rope) + " (the RoPE tables)");
  return out;
}

}  // namespace qmath_test
