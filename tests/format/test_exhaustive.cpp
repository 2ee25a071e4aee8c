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
#include "support/sweep.hpp"

namespace {

using qmath::kernels::ConvertKernels;

using qmath_test::vector_paths;

template <class Out, class Run>
std::string sweep_all_floats(const char* what, Run run) {
  return qmath_test::sweep_all_floats<Out>(what, qmath::kernels::kScalarConvertKernels,
                                           [](qmath::isa path) { return qmath::kernels::convert_kernels(path); }, run);
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
