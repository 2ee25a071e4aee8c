// SPDX-License-Identifier: Apache-2.0
// tests/fuzz/fuzz_safetensors.cpp: libFuzzer target of the .safetensors parsers (in memory and from a stream);
// anything but a qmath::error is a bug, and so is the two disagreeing.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "qmath/io/safetensors.hpp"

namespace {

bool same(const qmath::SafetensorsFile& a, const qmath::SafetensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (std::size_t k = 0; k < a.tensors.size(); ++k) {
    const qmath::SafetensorsTensor &x = a.tensors[k], &y = b.tensors[k];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.data != y.data) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bool parsed = false, streamed = false;
  qmath::SafetensorsFile from_memory, from_stream;
  try {
    from_memory = qmath::parse_safetensors(data, size, "fuzz.safetensors");
    parsed = true;
  } catch (const qmath::error&) {
  }
  try {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    from_stream = qmath::read_safetensors(in, "fuzz.safetensors");
    streamed = true;
  } catch (const qmath::error&) {
  }
  if (parsed != streamed) __builtin_trap();
  if (!parsed) return 0;
  if (!same(from_memory, from_stream)) __builtin_trap();
  // What was accepted must be usable: every tensor widens, and a rewrite parses back to the same file.
  for (const qmath::SafetensorsTensor& t : from_memory.tensors)
    if (t.to_float().size() != t.numel()) __builtin_trap();
  std::ostringstream out;
  qmath::write_safetensors(out, from_memory.tensors, from_memory.metadata);
  const std::string again = out.str();
  const qmath::SafetensorsFile reread =
      qmath::parse_safetensors(reinterpret_cast<const std::uint8_t*>(again.data()), again.size(), "rewritten");
  if (!same(reread, from_memory)) __builtin_trap();
  return 0;
}
