// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_choose.cpp: scale and zero point from a range, per profile: the articles' worked examples, the
// rows of README's "where the profiles differ" table, all-zero and constant ranges, narrow and reduced ranges.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"

namespace {

using qmath::ChooseOptions;
using qmath::profile;
using qmath::scheme;

template <class Q>
std::int32_t quantize_one(float x, const qmath::QParams<Q>& p) {
  Q q{};
  qmath::quantize(&x, 1, p, &q);
  return q;
}
template <class Q>
float round_trip(float x, const qmath::QParams<Q>& p) {
  Q q{};
  float back = 0.0f;
  qmath::quantize(&x, 1, p, &q);
  qmath::dequantize(&q, 1, p, &back);
  return back;
}

// Article 1: the range [-2.5, 2.5], symmetric -> S ~ 0.0196; 1.0 -> 51; back to ~1.0.
TEST(ArticleExamples, SymmetricMinus2p5To2p5) {
  const auto p = qmath::choose_qparams<std::int8_t>(-2.5f, 2.5f, {scheme::symmetric});
  EXPECT_NEAR(p.scale[0], 0.0196f, 0.0001f);
  EXPECT_EQ(p.scale[0], 2.5f / 127.5f);  // PyTorch's amax / ((qmax - qmin) / 2)
  EXPECT_EQ(p.zero_point[0], 0);
  EXPECT_EQ(quantize_one(1.0f, p), 51);
  EXPECT_NEAR(round_trip(1.0f, p), 1.0f, p.scale[0] / 2);
  EXPECT_EQ(quantize_one(2.5f, p), 127);  // 127.5 rounds to the even 128, then clamps
  EXPECT_EQ(quantize_one(-2.5f, p), -128);
  // The unsigned twin puts the zero point in the middle, as PyTorch does for quint8.
  const auto u = qmath::choose_qparams<std::uint8_t>(-2.5f, 2.5f, {scheme::symmetric});
  EXPECT_EQ(u.zero_point[0], 128);
  EXPECT_EQ(quantize_one(1.0f, u), 128 + 51);
}

// Article 1: the asymmetric range [-3, 12] uses a non-zero zero point so the codes cover [min, max].
TEST(ArticleExamples, AffineMinus3To12) {
  for (profile prof : {profile::pytorch, profile::onnx, profile::tflite}) {
    SCOPED_TRACE(qmath::profile_name(prof));
    const auto p = qmath::choose_qparams<std::uint8_t>(-3.0f, 12.0f, {scheme::affine, prof});
    EXPECT_NEAR(p.scale[0], 15.0f / 255.0f, 1e-7f);
    EXPECT_EQ(p.zero_point[0], 51);  // -3 / (15/255) = -51
    EXPECT_EQ(quantize_one(-3.0f, p), 0);
    EXPECT_EQ(quantize_one(12.0f, p), 255);
    EXPECT_EQ(round_trip(0.0f, p), 0.0f);  // zero is exactly representable
    for (float x : {-3.0f, -1.3f, 0.7f, 5.0f, 12.0f}) EXPECT_NEAR(round_trip(x, p), x, p.scale[0] / 2 * 1.0001f);
    const auto s = qmath::choose_qparams<std::int8_t>(-3.0f, 12.0f, {scheme::affine, prof});
    EXPECT_EQ(s.zero_point[0], -128 + 51);
  }
}

// Row "scale convention": x * (1/S) (pytorch) vs x / S (onnx, tflite) differ at some ties.
TEST(ProfileDifferences, ScaleConvention) {
  // S = 0.1f: -2.35f / 0.1f = -23.499998 (-> -23) while -2.35f * (1/0.1f) rounds to exactly -23.5 (-> -24).
  const float x = -2.35f, s = 0.1f;
  ASSERT_NE(x / s, x * (1.0f / s));
  const auto torch = qmath::make_qparams<std::int8_t>(s, 0, profile::pytorch);
  const auto onnx = qmath::make_qparams<std::int8_t>(s, 0, profile::onnx);
  EXPECT_EQ(quantize_one(x, torch), static_cast<std::int32_t>(std::nearbyint(x * (1.0f / s))));
  EXPECT_EQ(quantize_one(x, onnx), static_cast<std::int32_t>(std::nearbyint(x / s)));
  EXPECT_NE(quantize_one(x, torch), quantize_one(x, onnx));
}

// Row "ties": half to even (pytorch, onnx) vs half away from zero (tflite).
TEST(ProfileDifferences, Ties) {
  for (float x : {0.5f, 1.5f, 2.5f, -0.5f, -2.5f}) {
    const auto even = qmath::make_qparams<std::int8_t>(1.0f, 0, profile::onnx);
    const auto away = qmath::make_qparams<std::int8_t>(1.0f, 0, profile::tflite);
    EXPECT_EQ(quantize_one(x, even), static_cast<std::int32_t>(std::nearbyint(x))) << x;
    EXPECT_EQ(quantize_one(x, away), static_cast<std::int32_t>(std::round(x))) << x;
  }
}

// Row "all-zero input": every profile gives a valid scale and 0.0 round-trips exactly.
TEST(ProfileDifferences, AllZeroRange) {
  const auto torch = qmath::choose_qparams<std::int8_t>(0.0f, 0.0f, {scheme::affine, profile::pytorch});
  EXPECT_EQ(torch.scale[0], FLT_EPSILON);  // torch.finfo(float32).eps
  EXPECT_EQ(torch.zero_point[0], -128);
  const auto onnx = qmath::choose_qparams<std::uint8_t>(0.0f, 0.0f, {scheme::affine, profile::onnx});
  EXPECT_EQ(onnx.scale[0], 1.0f);
  EXPECT_EQ(onnx.zero_point[0], 0);
  const auto tflite = qmath::choose_qparams<std::int8_t>(0.0f, 0.0f, {scheme::affine, profile::tflite});
  EXPECT_EQ(tflite.scale[0], 1.0f);
  EXPECT_EQ(tflite.zero_point[0], 0);
  for (profile prof : {profile::pytorch, profile::onnx, profile::tflite})
    for (scheme kind : {scheme::affine, scheme::symmetric}) {
      const auto p = qmath::choose_qparams<std::int8_t>(0.0f, 0.0f, {kind, prof});
      EXPECT_TRUE(std::isfinite(p.scale[0]) && p.scale[0] > 0.0f);
      EXPECT_EQ(round_trip(0.0f, p), 0.0f) << qmath::profile_name(prof);
      const auto u = qmath::choose_qparams<std::uint8_t>(0.0f, 0.0f, {kind, prof});
      EXPECT_EQ(round_trip(0.0f, u), 0.0f) << qmath::profile_name(prof);
    }
}

// Constant tensors: the range widened to contain 0 puts the constant on an end code; the round trip is within
// one float rounding of the constant for affine parameters (S * code where S = c / span), and exact for zero.
TEST(ProfileDifferences, ConstantTensor) {
  for (profile prof : {profile::pytorch, profile::onnx, profile::tflite})
    for (float c : {3.0f, -0.1f, 1e-3f, 12345.678f}) {
      std::vector<float> x(33, c);
      const auto p = qmath::choose_qparams<std::uint8_t>(x.data(), qmath::TensorShape{{33}}, qmath::per_tensor(),
                                                         {scheme::affine, prof});
      std::vector<std::uint8_t> q(33);
      std::vector<float> back(33);
      qmath::quantize(x.data(), 33, p, q.data());
      qmath::dequantize(q.data(), 33, p, back.data());
      EXPECT_EQ(q[0], c > 0 ? 255 : 0) << qmath::profile_name(prof) << " c=" << c;
      for (float b : back) EXPECT_NEAR(b, c, std::abs(c) * 2 * FLT_EPSILON) << qmath::profile_name(prof) << " c=" << c;
    }
}

// Row "narrow range": symmetric int8 uses [-127, 127] when asked (pytorch, onnx) and always for tflite weights.
TEST(ProfileDifferences, NarrowRange) {
  const auto torch = qmath::choose_qparams<std::int8_t>(-1.0f, 2.0f, {scheme::symmetric, profile::pytorch, true});
  EXPECT_EQ(torch.qmin, -127);
  EXPECT_EQ(torch.qmax, 127);
  EXPECT_EQ(torch.scale[0], 2.0f / 127.0f);
  EXPECT_EQ(quantize_one(-1000.0f, torch), -127);
  const auto tflite = qmath::choose_qparams<std::int8_t>(-1.0f, 2.0f, {scheme::symmetric, profile::tflite});
  EXPECT_EQ(tflite.qmin, -127);
  EXPECT_EQ(tflite.scale[0], 2.0f / 127.0f);
  const auto full = qmath::choose_qparams<std::int8_t>(-1.0f, 2.0f, {scheme::symmetric, profile::pytorch});
  EXPECT_EQ(full.qmin, -128);
  EXPECT_EQ(full.scale[0], 2.0f / 127.5f);
  const auto onnx = qmath::choose_qparams<std::int8_t>(-1.0f, 2.0f, {scheme::symmetric, profile::onnx, true});
  EXPECT_EQ(onnx.scale[0], static_cast<float>(4.0 / 254.0));
  EXPECT_EQ(onnx.zero_point[0], 0);
}

TEST(ChooseQParams, ReduceRange) {
  const auto p = qmath::choose_qparams<std::uint8_t>(-1.0f, 1.0f, {scheme::affine, profile::pytorch, false, true});
  EXPECT_EQ(p.qmin, 0);
  EXPECT_EQ(p.qmax, 127);
  EXPECT_EQ(p.scale[0], 2.0f / 127.0f);
  const auto s = qmath::choose_qparams<std::int8_t>(-1.0f, 1.0f, {scheme::affine, profile::pytorch, false, true});
  EXPECT_EQ(s.qmin, -64);
  EXPECT_EQ(s.qmax, 63);
}

// The zero point is clamped into the codes and 0 is always inside the range.
TEST(ChooseQParams, PositiveAndNegativeOnlyRanges) {
  for (profile prof : {profile::pytorch, profile::onnx, profile::tflite}) {
    const auto pos = qmath::choose_qparams<std::int8_t>(2.0f, 5.0f, {scheme::affine, prof});
    EXPECT_EQ(pos.zero_point[0], -128) << qmath::profile_name(prof);
    EXPECT_EQ(round_trip(0.0f, pos), 0.0f);
    const auto neg = qmath::choose_qparams<std::uint8_t>(-5.0f, -2.0f, {scheme::affine, prof});
    EXPECT_EQ(neg.zero_point[0], 255) << qmath::profile_name(prof);
    EXPECT_EQ(round_trip(0.0f, neg), 0.0f);
  }
}

// TFLite nudges the zero point from whichever end has the smaller error, in double.
TEST(ChooseQParams, TfliteNudgedZeroPoint) {
  const float min = -1.23f, max = 4.56f;
  const auto p = qmath::choose_qparams<std::uint8_t>(min, max, {scheme::affine, profile::tflite});
  const double s = (static_cast<double>(max) - min) / 255.0;
  const double from_min = 0 - min / s, from_max = 255 - max / s;
  const double zp = (std::abs(0.0) + std::abs(min / s)) < (std::abs(255.0) + std::abs(max / s)) ? from_min : from_max;
  EXPECT_EQ(p.zero_point[0], static_cast<std::int32_t>(std::round(zp)));
  EXPECT_EQ(p.scale[0], static_cast<float>(s));
}

TEST(ChooseQParams, FloatZeroPoints) {
  const auto p = qmath::choose_qparams<std::uint8_t>(std::vector<float>{0.5f, -2.0f}, std::vector<float>{1.5f, 2.0f},
                                                     qmath::per_channel(0), {scheme::affine, profile::pytorch, false,
                                                                             false, true});
  ASSERT_TRUE(p.has_float_zero_point());
  EXPECT_EQ(p.scale[0], 1.0f / 255.0f);
  EXPECT_EQ(p.float_zero_point[0], -0.5f / (1.0f / 255.0f));  // not widened to contain 0
  EXPECT_EQ(p.scale[1], 4.0f / 255.0f);
  std::vector<float> x = {0.5f, 1.5f, -2.0f, 2.0f};
  std::vector<std::uint8_t> q(4);
  qmath::quantize(x.data(), qmath::TensorShape{{2, 2}}, p, q.data());
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[1], 255);
  EXPECT_EQ(q[2], 0);
  EXPECT_EQ(q[3], 255);
}

TEST(ChooseQParams, PerChannelFromData) {
  // Row-major [2, 3]: channel 0 = row 0, channel 1 = row 1 on axis 0; columns on axis 1 (or -1).
  const std::vector<float> x = {-1.0f, 2.0f, 3.0f, 0.5f, -4.0f, 1.0f};
  const auto rows = qmath::minmax_ranges(x.data(), qmath::TensorShape{{2, 3}}, qmath::per_channel(0));
  EXPECT_EQ(rows.min, (std::vector<float>{-1.0f, -4.0f}));
  EXPECT_EQ(rows.max, (std::vector<float>{3.0f, 1.0f}));
  const auto cols = qmath::minmax_ranges(x.data(), qmath::TensorShape{{2, 3}}, qmath::per_channel(-1));
  EXPECT_EQ(cols.min, (std::vector<float>{-1.0f, -4.0f, 1.0f}));
  EXPECT_EQ(cols.max, (std::vector<float>{0.5f, 2.0f, 3.0f}));
  // The same memory read column-major is the [3, 2] transpose... as a [2, 3] col-major tensor, rows differ.
  const auto colmajor = qmath::minmax_ranges(x.data(), qmath::TensorShape{{2, 3}, qmath::storage_order::col_major},
                                             qmath::per_channel(0));
  EXPECT_EQ(colmajor.min, (std::vector<float>{-4.0f, 0.5f}));
  EXPECT_EQ(colmajor.max, (std::vector<float>{3.0f, 2.0f}));
  // NaN is ignored.
  const std::vector<float> with_nan = {NAN, 1.0f};
  const auto r = qmath::minmax_ranges(with_nan.data(), qmath::TensorShape{{2}}, qmath::per_tensor());
  EXPECT_EQ(r.min[0], 1.0f);
}

}  // namespace
