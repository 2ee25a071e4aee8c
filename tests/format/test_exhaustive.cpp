// SPDX-License-Identifier: Apache-2.0
// Exhaustive sweeps (ctest label `exhaustive`): every compiled ISA path this CPU runs against the scalar reference
// on all 2^32 fp32 inputs (fp16, bf16, E4M3FN, E5M2, every overflow / rounding mode) and on all 2^16 / 2^8 codes
// back to fp32. Bits are compared, so NaN payloads count. Work is split over the machine's hardware threads.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/dispatch.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::kernels::ConvertKernels;
using Narrow16 = std::function<void(const ConvertKernels&, const float*, std::uint16_t*, std::size_t)>;
using Narrow8 = std::function<void(const ConvertKernels&, const float*, std::uint8_t*, std::size_t)>;

constexpr std::size_t kChunk = 1u << 16;

/// Sweeps all 2^32 fp32 bit patterns through `run` on `path` and on the reference; returns the first mismatch
/// as text (empty when all agree).
template <class Out, class Run>
std::string sweep_all_floats(qmath::isa path, Run run) {
  const ConvertKernels& candidate = *qmath::kernels::convert_kernels(path);
  const ConvertKernels& reference = qmath::kernels::kScalarConvertKernels;
  const unsigned threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::string first_mismatch;
  std::mutex mutex;
  auto worker = [&] {
    std::vector<float> in(kChunk);
    std::vector<Out> got(kChunk), want(kChunk);
    for (std::uint64_t start; !failed && (start = next.fetch_add(kChunk)) < (1ull << 32);) {
      for (std::size_t i = 0; i < kChunk; ++i) in[i] = qmath::f32_from_bits(static_cast<std::uint32_t>(start + i));
      run(candidate, in.data(), got.data(), kChunk);
      run(reference, in.data(), want.data(), kChunk);
      for (std::size_t i = 0; i < kChunk; ++i) {
        if (got[i] != want[i]) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!failed.exchange(true)) {
            char text[160];
            std::snprintf(text, sizeof text, "input 0x%08x: reference 0x%x, %s 0x%x", static_cast<unsigned>(start + i),
                          static_cast<unsigned>(want[i]), qmath::isa_name(path), static_cast<unsigned>(got[i]));
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

class Exhaustive : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(Exhaustive, AllFloatsToF16) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  if (GetParam() == qmath::isa::scalar) GTEST_SKIP() << "the reference itself: checked in test_formats";
  for (auto mode : {qmath::overflow_mode::to_infinity, qmath::overflow_mode::saturate})
    EXPECT_EQ(sweep_all_floats<std::uint16_t>(GetParam(), [mode](const ConvertKernels& k, const float* s,
                                                                 std::uint16_t* d, std::size_t n) {
                k.f32_to_f16(s, d, n, mode);
              }),
              "");
}

TEST_P(Exhaustive, AllFloatsToBf16) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  if (GetParam() == qmath::isa::scalar) GTEST_SKIP() << "the reference itself: checked in test_formats";
  for (auto rounding : {qmath::bf16_rounding::nearest_even, qmath::bf16_rounding::truncate})
    for (auto mode : {qmath::overflow_mode::to_infinity, qmath::overflow_mode::saturate})
      EXPECT_EQ(sweep_all_floats<std::uint16_t>(GetParam(), [rounding, mode](const ConvertKernels& k, const float* s,
                                                                             std::uint16_t* d, std::size_t n) {
                  k.f32_to_bf16(s, d, n, rounding, mode);
                }),
                "");
}

TEST_P(Exhaustive, AllFloatsToFp8) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  if (GetParam() == qmath::isa::scalar) GTEST_SKIP() << "the reference itself: checked in test_formats";
  for (auto format : {qmath::fp8_format::e4m3fn, qmath::fp8_format::e5m2})
    for (auto mode : {qmath::overflow_mode::to_infinity, qmath::overflow_mode::saturate})
      EXPECT_EQ(sweep_all_floats<std::uint8_t>(GetParam(), [format, mode](const ConvertKernels& k, const float* s,
                                                                          std::uint8_t* d, std::size_t n) {
                  k.f32_to_fp8(s, d, n, format, mode);
                }),
                "");
}

TEST_P(Exhaustive, AllCodesToF32) {
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

INSTANTIATE_TEST_SUITE_P(AllPaths, Exhaustive, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

}  // namespace
