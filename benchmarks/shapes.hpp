// SPDX-License-Identifier: Apache-2.0
// benchmarks/shapes.hpp: the array sizes and the cached, 64-byte-aligned input/output buffers of the benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <random>

#include "qmath/convert.hpp"
#include "qmath/core/aligned_buffer.hpp"

namespace qmath_bench {

// 64 MiB of fp32 input: far past every cache level, so this measures the memory-bound streaming rate.
inline constexpr std::size_t kLargeN = std::size_t{16} * 1024 * 1024;
// 256 KiB of fp32 input: fits in L2 on current x86 cores, so this measures the kernel's compute rate.
inline constexpr std::size_t kL2N = std::size_t{65536};

// qmath's own 64-byte aligned buffer (64 bytes = one cache line = one zmm register, so no path pays for split
// loads), zero-filled so that every page is touched now and no benchmark times the first-use page faults.
template <class T>
using AlignedArray = qmath::AlignedBuffer<T>;
template <class T>
AlignedArray<T> make_aligned(std::size_t n) {
  return AlignedArray<T>(n, /*zeroed=*/true);
}

// Inputs of every direction plus one output of each element width, for one element count n.
struct Buffers {
  AlignedArray<float> f32;        // N(0, 1) samples: the range of typical weights and activations
  AlignedArray<std::uint16_t> f16, bf16;
  AlignedArray<std::uint8_t> e4m3fn, e5m2;  // the reverse directions read the codes of those same samples
  AlignedArray<float> out_f32;    // also the memcpy destination: 4n bytes hold any input
  AlignedArray<std::uint16_t> out_u16;
  AlignedArray<std::uint8_t> out_u8;
};

// Built on first use and kept for the whole run: filling 16M normal samples costs far more than one iteration,
// and Google Benchmark calls each function several times while it settles the iteration count.
inline Buffers& buffers(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Buffers>> cache;
  std::unique_ptr<Buffers>& slot = cache[n];
  if (slot) return *slot;
  auto b = std::make_unique<Buffers>();
  b->f32 = make_aligned<float>(n);
  b->f16 = make_aligned<std::uint16_t>(n);
  b->bf16 = make_aligned<std::uint16_t>(n);
  b->e4m3fn = make_aligned<std::uint8_t>(n);
  b->e5m2 = make_aligned<std::uint8_t>(n);
  b->out_f32 = make_aligned<float>(n);
  b->out_u16 = make_aligned<std::uint16_t>(n);
  b->out_u8 = make_aligned<std::uint8_t>(n);
  std::mt19937 rng(20240601u);  // fixed seed: every run converts the same data
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) b->f32[i] = normal(rng);
  qmath::convert_f32_to_f16(b->f32.get(), b->f16.get(), n);
  qmath::convert_f32_to_bf16(b->f32.get(), b->bf16.get(), n);
  qmath::convert_f32_to_fp8(b->f32.get(), b->e4m3fn.get(), n, qmath::fp8_format::e4m3fn);
  qmath::convert_f32_to_fp8(b->f32.get(), b->e5m2.get(), n, qmath::fp8_format::e5m2);
  slot = std::move(b);
  return *slot;
}

}  // namespace qmath_bench
