// SPDX-License-Identifier: Apache-2.0
// export_realdata: writes the trained weights of ../shared/realdata as .safetensors files for `qmath compare`:
//   export_realdata REALDATA_DIR OUT_DIR  ->  OUT_DIR/stories260K.safetensors, OUT_DIR/mnist_cntk.safetensors
// Exits with 77 (ctest's "skipped") and says so when the real-data folder is absent.
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "qmath/io/safetensors.hpp"
#include "support/realdata.hpp"

namespace {

void write(const std::string& path, const std::vector<qmath_test::NamedTensor>& tensors, const std::string& origin) {
  std::vector<qmath::SafetensorsTensor> out;
  for (const auto& t : tensors) {
    qmath::SafetensorsTensor s;
    s.name = t.name;
    s.dtype = "F32";
    s.shape = t.shape;
    s.data.resize(t.values.size() * sizeof(float));
    std::memcpy(s.data.data(), t.values.data(), s.data.size());
    out.push_back(std::move(s));
  }
  qmath::write_safetensors(path, out, {{"origin", origin}});
  std::printf("export_realdata: wrote %s (%zu tensors)\n", path.c_str(), out.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: export_realdata REALDATA_DIR OUT_DIR\n");
    return 2;
  }
  const std::string realdata = argv[1], out = argv[2];
  if (!std::ifstream(realdata + "/stories260K/stories260K.bin") || !std::ifstream(realdata + "/mnist-cntk/weights/fc.weight.bin")) {
    std::printf("export_realdata: SKIPPED: %s has no stories260K/ or mnist-cntk/ (the shared real-data folder is absent)\n",
                realdata.c_str());
    return 77;
  }
  try {
    write(out + "/stories260K.safetensors", qmath_test::load_stories260k(realdata),
          "stories260K.bin (karpathy/tinyllamas, MIT), one tensor per layer matrix");
    write(out + "/mnist_cntk.safetensors", qmath_test::load_mnist_cntk(realdata),
          "ONNX Model Zoo mnist (CNTK, MIT), weights/*.bin");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "export_realdata: %s\n", e.what());
    return 1;
  }
  return 0;
}
