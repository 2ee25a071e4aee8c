// SPDX-License-Identifier: Apache-2.0
// The ONNX project's own Cast conformance vectors (../shared/conformance/onnx/node/test_cast_*): fp32 <-> fp16,
// bf16, E4M3FN, E5M2, with and without saturation, through the public bulk API (so through the best path this
// CPU runs). Bits are compared; where ONNX expects a NaN, any NaN of the same sign is accepted only if qmath's
// documented NaN rule also yields exactly ONNX's bits (they agree on every vector here).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/convert.hpp"
#include "support/onnx_vectors.hpp"

namespace {

using qmath_test::as_vector;
using qmath_test::OnnxTest;

struct CastCase {
  const char* test;
  const char* from;
  const char* to;
};

const CastCase kCases[] = {
    {"test_cast_FLOAT_to_FLOAT16", "float32", "float16"},
    {"test_cast_FLOAT_to_BFLOAT16", "float32", "bfloat16"},
    {"test_cast_FLOAT16_to_FLOAT", "float16", "float32"},
    {"test_cast_BFLOAT16_to_FLOAT", "bfloat16", "float32"},
    {"test_cast_FLOAT_to_FLOAT8E4M3FN", "float32", "float8e4m3fn"},
    {"test_cast_FLOAT_to_FLOAT8E5M2", "float32", "float8e5m2"},
    {"test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FN", "float32", "float8e4m3fn"},
    {"test_cast_no_saturate_FLOAT_to_FLOAT8E5M2", "float32", "float8e5m2"},
    {"test_cast_FLOAT16_to_FLOAT8E4M3FN", "float16", "float8e4m3fn"},
    {"test_cast_FLOAT16_to_FLOAT8E5M2", "float16", "float8e5m2"},
    {"test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FN", "float16", "float8e4m3fn"},
    {"test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2", "float16", "float8e5m2"},
    {"test_cast_FLOAT8E4M3FN_to_FLOAT", "float8e4m3fn", "float32"},
    {"test_cast_FLOAT8E5M2_to_FLOAT", "float8e5m2", "float32"},
    {"test_cast_FLOAT8E4M3FN_to_FLOAT16", "float8e4m3fn", "float16"},
    {"test_cast_FLOAT8E5M2_to_FLOAT16", "float8e5m2", "float16"},
};

/// The input as fp32 (fp16 and fp8 widen exactly).
std::vector<float> input_as_f32(const qmath_test::OnnxTensor& t) {
  if (t.dtype == "float32") return as_vector<float>(t);
  if (t.dtype == "float16") {
    const auto codes = as_vector<std::uint16_t>(t);
    std::vector<float> out(codes.size());
    qmath::convert_f16_to_f32(codes.data(), out.data(), codes.size());
    return out;
  }
  if (t.dtype == "bfloat16") {
    const auto codes = as_vector<std::uint16_t>(t);
    std::vector<float> out(codes.size());
    qmath::convert_bf16_to_f32(codes.data(), out.data(), codes.size());
    return out;
  }
  const auto codes = as_vector<std::uint8_t>(t);
  std::vector<float> out(codes.size());
  qmath::convert_fp8_to_f32(codes.data(), out.data(), codes.size(),
                            t.dtype == "float8e4m3fn" ? qmath::fp8_format::e4m3fn : qmath::fp8_format::e5m2);
  return out;
}

class OnnxCast : public ::testing::TestWithParam<CastCase> {};

TEST_P(OnnxCast, MatchesBitForBit) {
  const CastCase c = GetParam();
  OnnxTest test;
  if (!qmath_test::load_onnx_test("node", c.test, test))
    GTEST_SKIP() << "ONNX conformance data not found under " << qmath_test::onnx_dir()
                 << " (the shared/ folder beside the checkout): test not run";
  ASSERT_EQ(test.op, "Cast");
  ASSERT_EQ(test.inputs.at(0).dtype, c.from);
  ASSERT_EQ(test.outputs.at(0).dtype, c.to);
  const bool saturate = test.attributes.count("saturate") ? test.attributes.at("saturate") != "0" : true;
  const auto mode = saturate ? qmath::overflow_mode::saturate : qmath::overflow_mode::to_infinity;
  const std::vector<float> x = input_as_f32(test.inputs.at(0));
  const std::string to = c.to;
  const std::size_t n = x.size();
  ASSERT_GT(n, 0u);
  if (to == "float32") {
    const auto want = as_vector<std::uint32_t>(test.outputs.at(0));
    ASSERT_EQ(want.size(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(qmath::f32_bits(x[i]), want[i]) << c.test << " element " << i;
  } else if (to == "float16" || to == "bfloat16") {
    const auto want = as_vector<std::uint16_t>(test.outputs.at(0));
    ASSERT_EQ(want.size(), n);
    std::vector<std::uint16_t> got(n);
    if (to == "float16") qmath::convert_f32_to_f16(x.data(), got.data(), n);
    else qmath::convert_f32_to_bf16(x.data(), got.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(got[i], want[i]) << c.test << " element " << i << " x=" << x[i];
  } else {
    const auto want = as_vector<std::uint8_t>(test.outputs.at(0));
    ASSERT_EQ(want.size(), n);
    std::vector<std::uint8_t> got(n);
    qmath::convert_f32_to_fp8(x.data(), got.data(), n,
                              to == "float8e4m3fn" ? qmath::fp8_format::e4m3fn : qmath::fp8_format::e5m2, mode);
    for (std::size_t i = 0; i < n; ++i)
      EXPECT_EQ(int{got[i]}, int{want[i]}) << c.test << " element " << i << " x=" << x[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Conformance, OnnxCast, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<CastCase>& info) { return std::string(info.param.test); });

}  // namespace
