// SPDX-License-Identifier: Apache-2.0
// tests/fuzz/fuzz_npy.cpp: libFuzzer target of the .npy reader; anything but a qmath::error is a bug.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "qmath/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const qmath::NpyArray a = qmath::read_npy(in, "fuzz.npy");
    // What was accepted must be usable: its size, its float view, and a write that reads back the same.
    const std::vector<float> widened = a.to_float();
    if (widened.size() != a.size()) __builtin_trap();
    if (a.dtype != "<f8") {
      std::stringstream again;
      qmath::write_npy(again, a.dtype, a.shape, a.fortran_order, a.data.data(), a.data.size());
      const qmath::NpyArray b = qmath::read_npy(again, "rewritten");
      if (b.data != a.data || b.shape != a.shape || b.dtype != a.dtype) __builtin_trap();
    }
  } catch (const qmath::error&) {
  }
  return 0;
}
