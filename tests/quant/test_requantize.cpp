// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_requantize.cpp: gemmlowp / TFLite fixed-point arithmetic (QuantizeMultiplier,
// SaturatingRoundingDoublingHighMul, RoundingDivideByPOT) on hand-checked values and against exact rational
// arithmetic, and the requantize API (float and fixed-point multipliers, per channel, clamps).
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/ref/fixed_point.hpp"
#include "qmath/quant/requantize.hpp"

namespace {

using qmath::kernels::ref::multiply_by_quantized_multiplier;
using qmath::kernels::ref::rounding_divide_by_pot;
using qmath::kernels::ref::saturating_rounding_doubling_high_mul;

constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();

TEST(FixedPoint, HandChecked) {
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kMin), kMax);  // the one overflow
  EXPECT_EQ(saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);  // 0.5 * 0.5 = 0.25
  EXPECT_EQ(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);              // 1.5 -> 2
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);            // -1.5 -> -1: gemmlowp ties go up
  EXPECT_EQ(rounding_divide_by_pot(5, 1), 3);    // 2.5 -> 3
  EXPECT_EQ(rounding_divide_by_pot(-5, 1), -3);  // -2.5 -> -3
  EXPECT_EQ(rounding_divide_by_pot(7, 2), 2);    // 1.75 -> 2
  EXPECT_EQ(rounding_divide_by_pot(-6, 2), -2);  // -1.5 -> -2
  EXPECT_EQ(rounding_divide_by_pot(kMax, 31), 1);
  EXPECT_EQ(rounding_divide_by_pot(kMin, 31), -1);
  const auto half = qmath::quantize_multiplier(0.5);
  EXPECT_EQ(half.multiplier, 1 << 30);
  EXPECT_EQ(half.shift, 0);
  const auto one = qmath::quantize_multiplier(1.0);
  EXPECT_EQ(one.multiplier, 1 << 30);
  EXPECT_EQ(one.shift, 1);
  const auto tiny = qmath::quantize_multiplier(1e-12);
  EXPECT_EQ(tiny.multiplier, 0);
  const auto huge = qmath::quantize_multiplier(1e12);
  EXPECT_EQ(huge.multiplier, kMax);
  EXPECT_EQ(huge.shift, 30);
  // Mantissas that round up to 2^31 renormalise.
  const auto almost_one = qmath::quantize_multiplier(std::nextafter(1.0, 0.0));
  EXPECT_EQ(almost_one.multiplier, 1 << 30);
  EXPECT_EQ(almost_one.shift, 1);
  // Left shifts saturate instead of overflowing.
  EXPECT_EQ(multiply_by_quantized_multiplier(kMax, 1 << 30, 4), (kMax >> 1) + 1);
}

// x * M within one unit of the exact product, for random x and multipliers across [2^-30, 2^10].
TEST(FixedPoint, CloseToExactProduct) {
  std::mt19937 rng(5);
  for (int i = 0; i < 200000; ++i) {
    const double m = std::ldexp(0.5 + static_cast<double>(rng()) / 8589934592.0, static_cast<int>(rng() % 30) - 29);
    const auto fm = qmath::quantize_multiplier(m);
    const std::int32_t x = static_cast<std::int32_t>(rng()) >> (rng() % 31);
    const double exact = static_cast<double>(x) * fm.multiplier * std::ldexp(1.0, fm.shift - 31);
    if (std::abs(exact) >= 2147483647.0) continue;
    EXPECT_LE(std::abs(multiply_by_quantized_multiplier(x, fm.multiplier, fm.shift) - exact), 1.0)
        << "x=" << x << " m=" << m;
    if (HasFailure()) return;
  }
}

TEST(Requantize, FloatAndFixedPointPerChannel) {
  // [2, 3] accumulators, per_channel(1): three multipliers and zero points.
  const std::vector<std::int32_t> acc = {1000, -2000, 30000, 7, kMax, kMin};
  qmath::RequantizeParams<std::int8_t> p;
  p.granularity = qmath::per_channel(1);
  p.multiplier = {0.01f, 0.002f, 0.0001f};
  p.zero_point = {0, 10, -128};
  std::vector<std::int8_t> y(6);
  qmath::requantize(acc.data(), qmath::TensorShape{{2, 3}}, p, y.data());
  EXPECT_EQ(y[0], 10);                   // 1000 * 0.01
  EXPECT_EQ(y[1], 6);                    // -4 + 10
  EXPECT_EQ(y[2], -125);                 // 3 - 128
  EXPECT_EQ(y[3], 0);                    // 0.07 -> 0
  EXPECT_EQ(y[4], 127);                  // saturates
  EXPECT_EQ(y[5], -128);
  qmath::RequantizeParams<std::int8_t> f;
  f.granularity = p.granularity;
  f.zero_point = p.zero_point;
  for (float m : p.multiplier) f.fixed_point.push_back(qmath::quantize_multiplier(m));
  std::vector<std::int8_t> z(6);
  qmath::requantize(acc.data(), qmath::TensorShape{{2, 3}}, f, z.data());
  EXPECT_EQ(z, y);
  // ReLU-style clamp through qmin.
  p.qmin = 0;
  qmath::requantize(acc.data(), qmath::TensorShape{{2, 3}}, p, y.data());
  EXPECT_EQ(y[1], 6);
  EXPECT_EQ(y[2], 0);
}

}  // namespace
