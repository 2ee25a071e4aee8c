// SPDX-License-Identifier: Apache-2.0
// Scaled fp8 (quant/scaled_fp8.hpp) against the scalar fp8 conversions: every code decoded, scaled values around
// every code encoded, per channel and per group against coordinates, the chosen scales, and bad input.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/format/bits.hpp"
#include "qmath/quant/scaled_fp8.hpp"

namespace {

using qmath::fp8_format;
using qmath::TensorShape;

const fp8_format kFormats[] = {fp8_format::e4m3fn, fp8_format::e5m2};

TEST(ScaledFp8, DequantizesEveryCodeExactly) {
  for (fp8_format f : kFormats)
    for (float scale : {1.0f, 0.0123f, 3.5f}) {
      std::vector<std::uint8_t> codes(256);
      for (int c = 0; c < 256; ++c) codes[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c);
      qmath::Fp8Params p;
      p.format = f;
      p.scale = {scale};
      p.zero_point = {f == fp8_format::e4m3fn ? 0.5f : -2.0f};
      std::vector<float> y(256);
      qmath::dequantize_fp8(codes.data(), TensorShape{{256}}, p, y.data());
      for (int c = 0; c < 256; ++c) {
        const float want = (qmath::fp8_to_f32(static_cast<std::uint8_t>(c), f) - p.zero_point[0]) * scale;
        if (std::isnan(want)) EXPECT_TRUE(std::isnan(y[static_cast<std::size_t>(c)])) << c;
        else EXPECT_EQ(qmath::f32_bits(y[static_cast<std::size_t>(c)]), qmath::f32_bits(want)) << c;
      }
    }
}

TEST(ScaledFp8, QuantizesLikeTheScalarConversionOfXOverScale) {
  std::mt19937 rng(7);
  for (fp8_format f : kFormats)
    for (qmath::overflow_mode mode : {qmath::overflow_mode::saturate, qmath::overflow_mode::to_infinity}) {
      const float scale = 0.037f;
      // Every fp8 value times the scale, the midpoints between neighbours (ties), beyond the range, NaN and +-Inf.
      std::vector<float> x;
      for (int c = 0; c < 256; ++c) {
        const float v = qmath::fp8_to_f32(static_cast<std::uint8_t>(c), f);
        const float next = qmath::fp8_to_f32(static_cast<std::uint8_t>((c + 1) & 0xff), f);
        if (!std::isfinite(v)) continue;
        x.push_back(v * scale);
        if (std::isfinite(next)) x.push_back(0.5f * (v + next) * scale);
      }
      for (float v : {1e30f, -1e30f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f, 1e-30f})
        x.push_back(v);
      std::normal_distribution<float> g(0.0f, 5.0f);
      for (int i = 0; i < 2000; ++i) x.push_back(g(rng));
      qmath::Fp8Params p;
      p.format = f;
      p.scale = {scale};
      p.overflow = mode;
      std::vector<std::uint8_t> codes(x.size());
      qmath::quantize_fp8(x.data(), TensorShape{{static_cast<std::int64_t>(x.size())}}, p, codes.data());
      for (std::size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(static_cast<int>(codes[i]), static_cast<int>(qmath::f32_to_fp8(x[i] / scale, f, mode))) << x[i];
      // With a zero point (ONNX's x / scale + zero_point, in float32).
      p.zero_point = {f == fp8_format::e4m3fn ? 0.5f : -2.0f};
      qmath::quantize_fp8(x.data(), TensorShape{{static_cast<std::int64_t>(x.size())}}, p, codes.data());
      for (std::size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(static_cast<int>(codes[i]), static_cast<int>(qmath::f32_to_fp8(x[i] / scale + p.zero_point[0], f, mode))) << x[i];
    }
}

TEST(ScaledFp8, PerChannelAndPerGroupSlotsByCoordinates) {
  std::mt19937 rng(8);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const std::int64_t d0 = 3, d1 = 10;
  std::vector<float> x(static_cast<std::size_t>(d0 * d1));
  for (float& v : x) v = g(rng);
  x[4] = 40.0f;  // row 0, group 1 of the grouped case
  const TensorShape shape{{d0, d1}};
  for (const qmath::Granularity gr : {qmath::per_channel(0), qmath::per_channel(1), qmath::per_group(1, 4)}) {
    const qmath::Fp8Params p = qmath::choose_fp8_params(x.data(), shape, gr, fp8_format::e4m3fn);
    std::vector<std::uint8_t> codes(x.size());
    std::vector<float> back(x.size());
    qmath::quantize_fp8(x.data(), shape, p, codes.data());
    qmath::dequantize_fp8(codes.data(), shape, p, back.data());
    for (std::int64_t i = 0; i < d0; ++i)
      for (std::int64_t j = 0; j < d1; ++j) {
        const std::size_t e = static_cast<std::size_t>(i * d1 + j);
        const std::size_t slot = gr.kind == qmath::granularity_kind::per_group ? static_cast<std::size_t>(i * 3 + j / 4)
                                 : gr.axis == 0                                ? static_cast<std::size_t>(i)
                                                                               : static_cast<std::size_t>(j);
        const float s = p.scale.at(slot);
        EXPECT_EQ(codes[e], qmath::f32_to_fp8(x[e] / s, fp8_format::e4m3fn)) << e;
        EXPECT_EQ(back[e], qmath::fp8_to_f32(codes[e], fp8_format::e4m3fn) * s) << e;
      }
    // Each slot's largest |x| lands on the largest finite code (0x7e / 0xfe).
    float amax = 0.0f;
    std::size_t at = 0;
    for (std::size_t e = 0; e < x.size(); ++e)
      if (std::fabs(x[e]) > amax) amax = std::fabs(x[e]), at = e;
    EXPECT_EQ(codes[at] & 0x7f, 0x7e);
  }
}

TEST(ScaledFp8, ChosenScalesSkipNonFiniteAndNeverUnderflow) {
  const std::vector<float> x = {1.0f, -896.0f, std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::infinity(), 0.0f, 0.0f, 1e-44f, -1e-45f};
  const qmath::Fp8Params p = qmath::choose_fp8_params(x.data(), TensorShape{{4, 2}}, qmath::per_channel(0), fp8_format::e4m3fn);
  ASSERT_EQ(p.scale.size(), 4u);
  EXPECT_EQ(p.scale[0], 2.0f);   // 896 / 448
  EXPECT_EQ(p.scale[1], 1.0f);   // NaN and Inf only: no finite value
  EXPECT_EQ(p.scale[2], 1.0f);   // zeros
  EXPECT_EQ(p.scale[3], 1.0f);   // 1e-44 / 448 would be a subnormal scale
  EXPECT_DOUBLE_EQ(qmath::storage_bits(p, 8), 8.0 * 8 + 32.0 * 4);
}

TEST(ScaledFp8, BadParametersThrowAndWriteNothing) {
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<std::uint8_t> codes(4, 0x55);
  const TensorShape shape{{2, 2}};
  qmath::Fp8Params p;
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    p.scale = {bad};
    EXPECT_THROW(qmath::quantize_fp8(x.data(), shape, p, codes.data()), qmath::error) << bad;
  }
  p.scale = {1.0f, 1.0f};  // two scales for a per-tensor granularity
  EXPECT_THROW(qmath::quantize_fp8(x.data(), shape, p, codes.data()), qmath::error);
  p.scale = {1.0f};
  p.zero_point = {0.3f};  // not an E4M3FN value
  EXPECT_THROW(qmath::quantize_fp8(x.data(), shape, p, codes.data()), qmath::error);
  p.zero_point = {};
  EXPECT_THROW(qmath::quantize_fp8(nullptr, shape, p, codes.data()), qmath::error);
  EXPECT_EQ(codes, std::vector<std::uint8_t>(4, 0x55));
  std::vector<float> y(4, 7.0f);
  p.granularity = qmath::per_channel(2);
  p.scale = {1.0f, 1.0f};
  EXPECT_THROW(qmath::dequantize_fp8(codes.data(), shape, p, y.data()), qmath::error);
  EXPECT_EQ(y, std::vector<float>(4, 7.0f));
  // Empty tensors are a no-op.
  p.granularity = qmath::per_tensor();
  p.scale = {1.0f};
  EXPECT_NO_THROW(qmath::quantize_fp8(nullptr, TensorShape{{0, 3}}, p, nullptr));
}

TEST(ScaledFp8, StorageBitsOfIntegerParameters) {
  qmath::QParams<qmath::int4> p;
  p.scale.assign(3, 1.0f);
  p.zero_point.assign(3, 0);
  EXPECT_DOUBLE_EQ(qmath::storage_bits(p, 96, false), 4.0 * 96 + 32.0 * 3);
  EXPECT_DOUBLE_EQ(qmath::storage_bits(p, 96, true), 4.0 * 96 + 36.0 * 3);
}

}  // namespace
