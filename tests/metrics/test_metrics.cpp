// SPDX-License-Identifier: Apache-2.0
// metrics.hpp against values worked out by hand in the comments.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/metrics.hpp"
#include "qmath/quant/choose.hpp"

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(ErrorStats, HandComputedPair) {
  const std::vector<float> x{1, 2, 3, 4}, y{1, 2, 3, 5};
  const qmath::ErrorStats e = qmath::error_stats(x.data(), y.data(), x.size());
  EXPECT_EQ(e.count, 4u);
  EXPECT_DOUBLE_EQ(e.mse, 0.25);                               // one error of 1 over 4 elements
  EXPECT_DOUBLE_EQ(e.sqnr_db, 10.0 * std::log10(30.0 / 1.0));  // sum x^2 = 30, sum e^2 = 1
  EXPECT_DOUBLE_EQ(e.max_abs_error, 1.0);
  EXPECT_DOUBLE_EQ(e.max_rel_error, 0.25);
  EXPECT_DOUBLE_EQ(e.cosine, 34.0 / std::sqrt(30.0 * 39.0));  // x.y = 1+4+9+20, |y|^2 = 39
  EXPECT_EQ(e.clipped, 0u);
}

TEST(ErrorStats, ExactCopyHasInfiniteSqnrAndUnitCosine) {
  const std::vector<float> x{-1.5f, 0.0f, 2.0f};
  const qmath::ErrorStats e = qmath::error_stats(x.data(), x.data(), x.size());
  EXPECT_EQ(e.mse, 0.0);
  EXPECT_EQ(e.sqnr_db, kInf);
  EXPECT_DOUBLE_EQ(e.cosine, 1.0);
}

TEST(ErrorStats, ZeroTensors) {
  const std::vector<float> zero(5, 0.0f), one(5, 1.0f);
  EXPECT_DOUBLE_EQ(qmath::error_stats(zero.data(), zero.data(), 5).cosine, 1.0);
  const qmath::ErrorStats e = qmath::error_stats(zero.data(), one.data(), 5);
  EXPECT_DOUBLE_EQ(e.cosine, 0.0);
  EXPECT_EQ(e.sqnr_db, -kInf);  // no signal, some noise
  EXPECT_DOUBLE_EQ(e.max_rel_error, 0.0);  // undefined for x == 0: not counted
}

TEST(ErrorStats, NonFiniteReferenceIsSkippedNonFiniteApproximationIsInfiniteError) {
  const std::vector<float> x{kNaN, std::numeric_limits<float>::infinity(), 2.0f}, y{0.0f, 0.0f, 2.0f};
  const qmath::ErrorStats skipped = qmath::error_stats(x.data(), y.data(), 3);
  EXPECT_EQ(skipped.count, 1u);
  EXPECT_EQ(skipped.skipped, 2u);
  EXPECT_EQ(skipped.mse, 0.0);

  const std::vector<float> a{1.0f, 2.0f}, b{1.0f, kNaN};
  const qmath::ErrorStats bad = qmath::error_stats(a.data(), b.data(), 2);
  EXPECT_EQ(bad.mse, kInf);
  EXPECT_EQ(bad.max_abs_error, kInf);
  EXPECT_EQ(bad.sqnr_db, -kInf);
}

TEST(ErrorStats, MergeEqualsOneAccumulator) {
  const std::vector<float> x{0.5f, -3.0f, 7.25f, 1e-3f, -2.0f}, y{0.4f, -3.5f, 7.0f, 0.0f, -2.0f};
  qmath::ErrorAccumulator all, first, second;
  for (std::size_t i = 0; i < x.size(); ++i) {
    all.add(x[i], y[i]);
    (i < 2 ? first : second).add(x[i], y[i]);
  }
  first.merge(second);
  const qmath::ErrorStats a = all.stats(), m = first.stats();
  EXPECT_EQ(a.count, m.count);
  EXPECT_DOUBLE_EQ(a.mse, m.mse);
  EXPECT_DOUBLE_EQ(a.sqnr_db, m.sqnr_db);
  EXPECT_DOUBLE_EQ(a.max_rel_error, m.max_rel_error);  // 1e-3 -> 0: relative error 1
  EXPECT_DOUBLE_EQ(a.max_rel_error, 1.0);
  EXPECT_DOUBLE_EQ(a.cosine, m.cosine);
}

TEST(ErrorStats, PoolingEqualsOneAccumulatorAndEmptyIsNaN) {
  const std::vector<float> x{0.5f, -3.0f, 7.25f, 1e-3f, -2.0f}, y{0.4f, -3.5f, 7.0f, 0.0f, -2.0f};
  const qmath::ErrorStats all = qmath::error_stats(x.data(), y.data(), 5);
  const qmath::ErrorStats pooled = qmath::pool_error_stats(
      {qmath::error_stats(x.data(), y.data(), 2), qmath::error_stats(x.data() + 2, y.data() + 2, 3)});
  EXPECT_EQ(pooled.count, 5u);
  EXPECT_DOUBLE_EQ(pooled.mse, all.mse);
  EXPECT_DOUBLE_EQ(pooled.sqnr_db, all.sqnr_db);
  EXPECT_DOUBLE_EQ(pooled.cosine, all.cosine);
  EXPECT_DOUBLE_EQ(pooled.max_rel_error, all.max_rel_error);
  const std::vector<float> nan_only{kNaN, kNaN};
  const qmath::ErrorStats empty = qmath::error_stats(nan_only.data(), nan_only.data(), 2);
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.skipped, 2u);
  EXPECT_TRUE(std::isnan(empty.mse) && std::isnan(empty.sqnr_db) && std::isnan(empty.cosine));
}

TEST(ErrorStats, PerChannelSlotsFollowTheAxis) {
  // [[1, 2, 3], [4, 5, 6]] row-major; the approximation is off by 1 at (0, 2) and by 2 at (1, 0).
  const std::vector<float> x{1, 2, 3, 4, 5, 6}, y{1, 2, 4, 6, 5, 6};
  const qmath::TensorShape shape{{2, 3}};
  const auto rows = qmath::error_stats(x.data(), y.data(), shape, qmath::per_channel(0));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].mse, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(rows[1].mse, 4.0 / 3.0);
  const auto cols = qmath::error_stats(x.data(), y.data(), shape, qmath::per_channel(-1));
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_DOUBLE_EQ(cols[0].mse, 2.0);  // (0 + 4) / 2
  EXPECT_DOUBLE_EQ(cols[1].mse, 0.0);
  EXPECT_DOUBLE_EQ(cols[2].mse, 0.5);
  EXPECT_DOUBLE_EQ(cols[0].max_rel_error, 0.5);  // |6 - 4| / 4
  // Column-major storage of the same logical matrix: element (r, c) sits at r + 2 c.
  const std::vector<float> xc{1, 4, 2, 5, 3, 6}, yc{1, 6, 2, 5, 4, 6};
  const auto rows_c = qmath::error_stats(xc.data(), yc.data(), {{2, 3}, qmath::storage_order::col_major},
                                         qmath::per_channel(0));
  EXPECT_DOUBLE_EQ(rows_c[0].mse, rows[0].mse);
  EXPECT_DOUBLE_EQ(rows_c[1].mse, rows[1].mse);
  const auto groups = qmath::error_stats(x.data(), y.data(), shape, qmath::per_group(1, 2));
  ASSERT_EQ(groups.size(), 4u);  // per row: {c0, c1}, {c2}
  EXPECT_DOUBLE_EQ(groups[1].mse, 1.0);
  EXPECT_DOUBLE_EQ(groups[2].mse, 2.0);
  EXPECT_THROW(qmath::error_stats(x.data(), y.data(), shape, qmath::per_channel(2)), qmath::error);
}

TEST(QuantizationError, Int8HandComputed) {
  // S = 0.5, Z = 0, codes [-128, 127]: values in [-64.25, 63.75] round into the code range.
  const auto p = qmath::make_qparams<std::int8_t>(0.5f, 0);
  const std::vector<float> x{1.0f, 1.25f, 100.0f, -64.25f, -64.5f};
  std::vector<float> back;
  const qmath::ErrorStats e = qmath::quantization_error(x.data(), qmath::TensorShape{{5}}, p, nullptr, &back);
  // 1.25 / 0.5 = 2.5 -> 2 (half even) -> 1.0; 100 -> 127 -> 63.5 (clipped); -64.25 -> -128.5 -> -128 (the tie
  // rounds to even: not clipped); -64.5 -> -129 -> clamp -128 (clipped).
  ASSERT_EQ(back, (std::vector<float>{1.0f, 1.0f, 63.5f, -64.0f, -64.0f}));
  EXPECT_EQ(e.clipped, 2u);
  EXPECT_DOUBLE_EQ(e.clip_rate, 0.4);
  EXPECT_DOUBLE_EQ(e.max_abs_error, 36.5);
  EXPECT_DOUBLE_EQ(e.mse, (0.0625 + 36.5 * 36.5 + 0.0625 + 0.25) / 5.0);
}

TEST(QuantizationError, PerSlotAndInt4Groups) {
  // Two groups of two along the last axis, int4 symmetric: [-8, 7].
  const std::vector<float> x{0.5f, -1.0f, 10.0f, 3.0f};
  qmath::QParams<qmath::int4> p;
  p.granularity = qmath::per_group(0, 2);
  p.scale = {0.125f, 1.0f};
  p.zero_point = {0, 0};
  p.qmin = -8;
  p.qmax = 7;
  std::vector<qmath::ErrorStats> slots;
  const qmath::ErrorStats e = qmath::quantization_error(x.data(), qmath::TensorShape{{4}}, p, &slots);
  ASSERT_EQ(slots.size(), 2u);
  // group 0: 0.5 / 0.125 = 4 (exact), -1 / 0.125 = -8 (exact, qmin): no error, nothing outside [-1, 0.875].
  EXPECT_EQ(slots[0].mse, 0.0);
  EXPECT_EQ(slots[0].clipped, 0u);
  // group 1: 10 -> 7 (clipped, error 3), 3 -> 3.
  EXPECT_EQ(slots[1].clipped, 1u);
  EXPECT_DOUBLE_EQ(slots[1].mse, 4.5);
  EXPECT_DOUBLE_EQ(e.mse, 9.0 / 4.0);
  EXPECT_EQ(e.clipped, 1u);
}

TEST(FloatFormatError, Fp16RoundingAndSaturation) {
  const std::vector<float> x{1.0f, 1.0f + 0x1p-11f, 70000.0f, -1.0f - 0x1p-10f};
  std::vector<float> y;
  const qmath::ErrorStats e = qmath::float_format_error(x.data(), x.size(), qmath::float_format::f16,
                                                        qmath::overflow_mode::saturate, &y);
  // 1 + 2^-11 is the tie between 1 and 1 + 2^-10: even mantissa wins (1). 70000 saturates to 65504.
  EXPECT_EQ(y, (std::vector<float>{1.0f, 1.0f, 65504.0f, -1.0f - 0x1p-10f}));
  EXPECT_EQ(e.clipped, 1u);
  // Clipped means "rounds past the largest finite value": 65519 rounds to 65504 (not clipped); 65520 is the tie
  // between 65504 (odd mantissa) and 65536, which rounds to even, past the top: clipped.
  const std::vector<float> edge{65519.0f, -65520.0f};
  EXPECT_EQ(qmath::float_format_error(edge.data(), 2, qmath::float_format::f16).clipped, 1u);
  // E4M3FN's top, 448, has an even mantissa (1.110b): the tie at 464 rounds down to it, 465 does not.
  const std::vector<float> e4{464.0f, 465.0f};
  EXPECT_EQ(qmath::float_format_error(e4.data(), 2, qmath::float_format::e4m3fn).clipped, 1u);
  EXPECT_DOUBLE_EQ(e.max_abs_error, 70000.0 - 65504.0);
  const qmath::ErrorStats inf = qmath::float_format_error(x.data(), x.size(), qmath::float_format::f16,
                                                          qmath::overflow_mode::to_infinity);
  EXPECT_EQ(inf.mse, kInf);
}

TEST(FloatFormatError, EveryFormatKnowsItsLimits) {
  EXPECT_EQ(qmath::float_format_max(qmath::float_format::bf16), 3.3895313892515355e38f);
  for (auto f : {qmath::float_format::f16, qmath::float_format::bf16, qmath::float_format::e4m3fn,
                 qmath::float_format::e5m2}) {
    const float top = qmath::float_format_max(f);
    std::vector<float> x{top, -top, 0.0f}, y;
    const qmath::ErrorStats e = qmath::float_format_error(x.data(), 3, f, qmath::overflow_mode::saturate, &y);
    EXPECT_EQ(y, x) << qmath::float_format_name(f);  // the largest finite value is stored exactly
    EXPECT_EQ(e.clipped, 0u);
  }
  // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie and rounds to 1, 1 + 3 * 2^-9 rounds up to 1 + 2^-7.
  const std::vector<float> x{1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-9f};
  std::vector<float> y(2);
  qmath::float_format_roundtrip(x.data(), 2, qmath::float_format::bf16, y.data());
  EXPECT_EQ(y, (std::vector<float>{1.0f, 1.0f + 0x1p-7f}));
}

}  // namespace
