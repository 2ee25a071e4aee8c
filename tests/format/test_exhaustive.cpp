// SPDX-License-Identifier: Apache-2.0
// Exhaustive sweeps (ctest label `exhaustive`): every compiled ISA path this CPU runs against the scalar reference
// on all 2^32 fp32 inputs (fp16, bf16, E4M3FN, E5M2, every overflow / rounding mode) and on all 2^16 / 2^8 codes
// back to fp32. Bits are compared, so NaN payloads count. Work is split over the machine's hardware threads.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/dispatch.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::kernels::ConvertKernels;

constexpr std::size_t kChunk = 1u << 16;

/// QMATH_SWEEP_STRIDE=k (k > 1) sweeps every k-th fp32 pattern instead of all 2^32: for emulators (qemu), where a
/// full sweep of every mode takes a quarter of an hour. Announced in the output, never silent.
std::uint64_t sweep_stride() {
  const char* text = std::getenv("QMATH_SWEEP_STRIDE");
  const long long k = text ? std::atoll(text) : 1;
  return k > 1 ? static_cast<std::uint64_t>(k) : 1u;
}

/// The vector paths this CPU runs (the reference is what they are compared with).
std::vector<qmath::isa> vector_paths() {
  std::vector<qmath::isa> paths;
  for (qmath::isa path : qmath_test::compiled_isa_list())
    if (path != qmath::isa::scalar && qmath::has(qmath::supported_isas(), path)) paths.push_back(path);
  return paths;
}

/// Sweeps the fp32 bit patterns (all 2^32, or every sweep_stride()-th) through `run` on the reference once per chunk
/// and on every vector path; returns the first mismatch as text (empty when all agree).
template <class Out, class Run>
std::string sweep_all_floats(const char* what, Run run) {
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
      run(qmath::kernels::kScalarConvertKernels, in.data(), want.data(), n);
      for (qmath::isa path : paths) {
        run(*qmath::kernels::convert_kernels(path), in.data(), got.data(), n);
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

class Exhaustive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (vector_paths().empty()) GTEST_SKIP() << "no vector path compiled in or supported by this CPU";
  }
};

TEST_F(Exhaustive, AllFloatsToF16) {
  for (auto mode : {qmath::overflow_mode::to_infinity, qmath::overflow_mode::saturate})
    EXPECT_EQ(sweep_all_floats<std::uint16_t>(
                  mode == qmath::overflow_mode::saturate ? "f32_to_f16 saturate" : "f32_to_f16",
                  [mode](const ConvertKernels& k, const float* s, std::uint16_t* d, std::size_t n) {
                    k.f32_to_f16(s, d, n, mode);
                  }),
              "");
}

TEST_F(Exhaustive, AllFloatsToBf16) {
  for (auto rounding : {qmath::bf16_rounding::nearest_even, qmath::bf16_rounding::truncate})
    for (auto mode : {qmath::overflow_mode::to_infinity, qmath::overflow_mode::saturate})
      EXPECT_EQ(sweep_all_floats<std::uint16_t>(
                    "f32_to_bf16 (rounding x overflow mode)",
                    [rounding, mode](const ConvertKernels& k, const float* s, std::uint16_t* d, std::size_t n) {
                      k.f32_to_bf16(s, d, n, rounding, mode);
                    }),
                "");
}

TEST_F(Exhaustive, AllFloatsToFp8) {
  for (auto format : {qmath::fp8_format::e4m3fn, qmath::fp8_format::e5m2})
    for (auto mode : {qmath::overflow_mode::to_infinity, qmath::overflow_mode::saturate})
      EXPECT_EQ(sweep_all_floats<std::uint8_t>(
                    format == qmath::fp8_format::e4m3fn ? "f32_to_e4m3fn" : "f32_to_e5m2",
                    [format, mode](const ConvertKernels& k, const float* s, std::uint8_t* d, std::size_t n) {
                      k.f32_to_fp8(s, d, n, format, mode);
                    }),
                "");
}

class ExhaustiveCodes : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(ExhaustiveCodes, AllCodesToF32) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const ConvertKernels& k = *qmath::kernels::convert_kernels(GetParam());
  const ConvertKernels& ref = qmath::kernels::kScalarConvertKernels;
  std::vector<std::uint16_t> codes16(1u << 16);
  for (std::uint32_t i = 0; i < codes16.size(); ++i) codes16[i] = static_cast<std::uint16_t>(i);
  std::vector<std::uint8_t> codes8(256);
  for (std::uint32_t i = 0; i < codes8.size(); ++i) codes8[i] = static_cast<std::uint8_t>(i);
  std::vector<float> got(codes16.size()), want(codes16.size());
  auto same_bits = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if (qmath::f32_bits(got[i]) != qmath::f32_bits(want[i])) return false;
    return true;
  };
  k.f16_to_f32(codes16.data(), got.data(), codes16.size());
  ref.f16_to_f32(codes16.data(), want.data(), codes16.size());
  EXPECT_TRUE(same_bits(codes16.size())) << "f16_to_f32";
  k.bf16_to_f32(codes16.data(), got.data(), codes16.size());
  ref.bf16_to_f32(codes16.data(), want.data(), codes16.size());
  EXPECT_TRUE(same_bits(codes16.size())) << "bf16_to_f32";
  for (auto format : {qmath::fp8_format::e4m3fn, qmath::fp8_format::e5m2}) {
    k.fp8_to_f32(codes8.data(), got.data(), codes8.size(), format);
    ref.fp8_to_f32(codes8.data(), want.data(), codes8.size(), format);
    EXPECT_TRUE(same_bits(codes8.size())) << "fp8_to_f32";
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, ExhaustiveCodes, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

}  // namespace
