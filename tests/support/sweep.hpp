// SPDX-License-Identifier: Apache-2.0
// tests/support/sweep.hpp: sweeps of all 2^32 fp32 bit patterns through one kernel of every vector path this CPU
// runs, compared with the scalar reference table, split over the machine's hardware threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "qmath/format/bits.hpp"
#include "support/isa_params.hpp"

namespace qmath_test {

inline constexpr std::size_t kChunk = 1u << 16;

/// QMATH_SWEEP_STRIDE=k (k > 1) sweeps every k-th fp32 pattern instead of all 2^32: for emulators (qemu), where a
/// full sweep of every mode takes a quarter of an hour. Announced in the output, never silent.
inline std::uint64_t sweep_stride() {
  const char* text = std::getenv("QMATH_SWEEP_STRIDE");
  const long long k = text ? std::atoll(text) : 1;
  return k > 1 ? static_cast<std::uint64_t>(k) : 1u;
}

/// The vector paths this CPU runs (the reference is what they are compared with).
inline std::vector<qmath::isa> vector_paths() {
  std::vector<qmath::isa> paths;
  for (qmath::isa path : qmath_test::compiled_isa_list())
    if (path != qmath::isa::scalar && qmath::has(qmath::supported_isas(), path)) paths.push_back(path);
  return paths;
}

/// Sweeps the fp32 bit patterns (all 2^32, or every sweep_stride()-th) through `run` on the reference once per chunk
/// and on every vector path; returns the first mismatch as text (empty when all agree).
/// `table_of(path)` gives a path's kernel table, `run(table, in, out, n)` calls one kernel of it.
template <class Out, class Table, class TableOf, class Run>
std::string sweep_all_floats(const char* what, const Table& reference, TableOf table_of, Run run) {
  const std::vector<qmath::isa> paths = vector_paths();
  const std::uint64_t stride = sweep_stride();
  const std::uint64_t count = ((1ull << 32) + stride - 1) / stride;
  std::printf("[qmath] %s: %s fp32 inputs on", what, stride == 1 ? "all 2^32" : "a strided sample of the");
  for (qmath::isa path : paths) std::printf(" %s", qmath::isa_name(path));
  if (stride > 1) std::printf(" (every %llu-th, QMATH_SWEEP_STRIDE)", static_cast<unsigned long long>(stride));
  std::printf("\n");
  const unsigned threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::string first_mismatch;
  std::mutex mutex;
  auto worker = [&] {
    std::vector<float> in(kChunk);
    std::vector<Out> got(kChunk), want(kChunk);
    for (std::uint64_t start; !failed && (start = next.fetch_add(kChunk)) < count;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, count - start));
      for (std::size_t i = 0; i < n; ++i) in[i] = qmath::f32_from_bits(static_cast<std::uint32_t>((start + i) * stride));
      run(reference, in.data(), want.data(), n);
      for (qmath::isa path : paths) {
        run(*table_of(path), in.data(), got.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
          if (got[i] == want[i]) continue;
          std::lock_guard<std::mutex> lock(mutex);
          if (!failed.exchange(true)) {
            char text[160];
            std::snprintf(text, sizeof text, "%s, input 0x%08x: reference 0x%x, %s 0x%x", what,
                          static_cast<unsigned>((start + i) * stride), static_cast<unsigned>(want[i]),
                          qmath::isa_name(path), static_cast<unsigned>(got[i]));
            first_mismatch = text;
          }
          break;
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return first_mismatch;
}

}  // namespace qmath_test
