// SPDX-License-Identifier: Apache-2.0
// tests/support/onnx_vectors.hpp: reads the protobuf-free ONNX conformance vectors in
// <shared>/conformance/onnx/ (test.txt + raw little-endian .bin files).
#pragma once

#include <cstdint>
#include <cstring>
#include <iterator>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace qmath_test {

inline std::string shared_dir() { return QMATH_SHARED_DIR; }
inline std::string onnx_dir() { return shared_dir() + "/conformance/onnx"; }

inline bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

struct OnnxTensor {
  std::string dtype;      // onnx dtype name: float32, float16, bfloat16, float8e4m3fn, ...
  std::string container;  // element type of the .bin file
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;  // raw file contents
};

struct OnnxTest {
  std::string name, op;
  std::map<std::string, std::string> attributes;  // name -> value text
  std::map<int, OnnxTensor> inputs, outputs;      // by slot, data set 0
};

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Loads <onnx_dir>/<folder>/<name>/test.txt and its data set 0. Returns false when the files are missing.
inline bool load_onnx_test(const std::string& folder, const std::string& name, OnnxTest& test) {
  const std::string base = onnx_dir() + "/" + folder + "/" + name + "/";
  std::ifstream in(base + "test.txt");
  if (!in) return false;
  test = OnnxTest{};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "test") words >> test.name;
    else if (kind == "op") words >> test.op;
    else if (kind == "attr") {
      std::string attr, type, value;
      words >> attr >> type >> value;
      test.attributes[attr] = value;
    } else if (kind == "tensor") {
      std::string set, direction, index, slot, tensor_name, dtype, elem, container, shape, numel, file;
      words >> set >> direction >> index >> slot >> tensor_name >> dtype >> elem >> container >> shape >> numel >> file;
      if (set != "0") continue;
      OnnxTensor t;
      t.dtype = dtype;
      t.container = container;
      if (shape != "scalar") {
        std::istringstream dims(shape);
        for (std::string d; std::getline(dims, d, ',');) t.shape.push_back(std::stoll(d));
      }
      t.bytes = read_bytes(base + file);
      (direction == "input" ? test.inputs : test.outputs)[std::stoi(slot)] = std::move(t);
    }
  }
  return true;
}

template <class T>
std::vector<T> as_vector(const OnnxTensor& t) {
  std::vector<T> v(t.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
  return v;
}

}  // namespace qmath_test
