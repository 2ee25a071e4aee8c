// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_gemm.cpp: every compiled int8 GEMM path against the scalar reference on the unpacked
// operands, bit for bit: shapes around the path's tile (mr x nr, kr from its layout), K sweeps, powers of two +-1,
// primes, deep K and K at the int32 bound, every output stage and operand type, zero points and values at the
// ends of their ranges, thousands of random shapes, and results independent of the thread count.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/gemm.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::gemm_b_order;
using qmath_test::GemmFill;
using qmath_test::GemmStage;
using qmath_test::GemmTester;

/// "[qmath] GEMM paths: scalar=tested avx2=tested ... neon=SKIPPED(cpu lacks it)", once per test binary.
class GemmPathsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::printf("[qmath] GEMM paths:");
    for (qmath::isa path : qmath_test::compiled_gemm_isa_list())
      std::printf(" %s=%s", qmath::isa_name(path),
                  qmath::has(qmath::supported_isas(), path) ? "tested" : "SKIPPED(cpu lacks it)");
    std::printf("\n");
    std::fflush(stdout);
  }
};
const auto* const kGemmEnvironment = ::testing::AddGlobalTestEnvironment(new GemmPathsEnvironment);

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

/// Random shapes per path: QMATH_GEMM_RANDOM_SHAPES=n, else 4000 (1000 under AddressSanitizer, ~20x slower).
std::size_t random_shape_count() {
  const char* text = std::getenv("QMATH_GEMM_RANDOM_SHAPES");
  if (text && std::atoll(text) > 0) return static_cast<std::size_t>(std::atoll(text));
  return kSanitized ? 1000 : 4000;
}

constexpr std::int32_t out_min(GemmStage s) {
  return (s == GemmStage::requantize_s8 || s == GemmStage::fixed_s8) ? -128 : 0;
}
constexpr std::int32_t out_max(GemmStage s) {
  return (s == GemmStage::requantize_s8 || s == GemmStage::fixed_s8) ? 127 : 255;
}
constexpr bool is_requantize(GemmStage s) { return s != GemmStage::int32 && s != GemmStage::dequantize; }

class GemmPath : public ::testing::TestWithParam<qmath::isa> {
 protected:
  void SetUp() override {
    QMATH_SKIP_IF_UNSUPPORTED(GetParam());
    const qmath::kernels::GemmKernels* table = qmath::kernels::gemm_kernels(GetParam());
    ASSERT_NE(table, nullptr) << qmath::isa_name(GetParam()) << " is in compiled_gemm_isas() but has no table";
    layout_ = table->layout;
  }
  qmath::isa path() const { return GetParam(); }

  qmath::kernels::GemmLayout layout_{};
};

TEST_P(GemmPath, TableDescribesThePath) {
  const qmath::kernels::GemmKernels* table = qmath::kernels::gemm_kernels(path());
  EXPECT_EQ(table->path, path());
  EXPECT_NE(table->compute, nullptr);
  EXPECT_GE(layout_.mr, 1);
  EXPECT_GE(layout_.nr, 1);
  EXPECT_GE(layout_.kr, 1);
  EXPECT_TRUE(layout_.a_bytes == 1 || layout_.a_bytes == 2);
  EXPECT_TRUE(layout_.b_bytes == 1 || layout_.b_bytes == 2);
  // With only this path (and scalar) allowed, new packings pick it.
  const qmath::ScopedIsaOverride only(path());
  EXPECT_EQ(qmath::active_gemm_isa(), path());
  std::printf("[qmath] %s GEMM tile: mr=%d nr=%d kr=%d\n", qmath::isa_name(path()), layout_.mr, layout_.nr, layout_.kr);
}

// Every M and N through two tiles and one, at shallow K; the stage, types and B order cycle with the index.
TEST_P(GemmPath, AllSmallMAndN) {
  std::uint64_t index = 0;
  for (std::ptrdiff_t k : {std::ptrdiff_t{1}, std::ptrdiff_t{layout_.kr}, std::ptrdiff_t{2 * layout_.kr + 1}})
    for (std::ptrdiff_t m = 1; m <= 2 * layout_.mr + 1; ++m)
      for (std::ptrdiff_t n = 1; n <= 2 * layout_.nr + 1; ++n, ++index) {
        GemmTester t;
        t.m(m)
            .n(n)
            .k(k)
            .output(qmath_test::kAllGemmStages[index % 6])
            .a_signed(index / 6 % 2)
            .b_unsigned(index / 12 % 2)
            .b_order(index / 24 % 2 ? gemm_b_order::n_by_k : gemm_b_order::k_by_n)
            .per_channel_b(index % 5 == 0)
            .per_row_a_zero_points(index % 7 == 0)
            .per_channel_scale(index % 3 == 0)
            .bias(index % 2 == 0)
            .seed(index);
        ASSERT_NO_FATAL_FAILURE(t.run(path()));
      }
}

// K from 1 through 16 groups of kr (at least 33) on shapes with and without partial tiles; then the special K.
TEST_P(GemmPath, KSweep) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr;
  const std::ptrdiff_t k_end = std::max<std::ptrdiff_t>(32, 16 * layout_.kr) + 1;
  const std::ptrdiff_t shapes[][2] = {{1, 1}, {mr, nr}, {mr + 1, nr + 1}, {2 * mr + 1, 2 * nr - 1}};
  std::uint64_t index = 0;
  for (const auto& shape : shapes)
    for (std::ptrdiff_t k = 1; k <= k_end; ++k, ++index) {
      GemmTester t;
      t.m(shape[0])
          .n(shape[1])
          .k(k)
          .lda(index % 3 == 0 ? k + 5 : 0)
          .a_signed(index % 2)
          .b_unsigned(index / 2 % 2)
          .b_order(index % 5 < 2 ? gemm_b_order::n_by_k : gemm_b_order::k_by_n)
          .output(index % 4 == 0 ? GemmStage::fixed_u8 : GemmStage::int32)
          .per_channel_b(index % 3 == 1)
          .seed(1000 + index);
      ASSERT_NO_FATAL_FAILURE(t.run(path()));
    }
}

TEST_P(GemmPath, PowersOfTwoAndPrimesInK) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr;
  const std::ptrdiff_t ks[] = {15,  16,  17,  31,  32, 33, 63, 64,  65,  127, 128,
                               129, 255, 256, 257, 37, 61, 97, 101, 211, 509, 1021};
  const std::ptrdiff_t shapes[][2] = {{mr + 1, nr + 1}, {2 * mr + 1, 2 * nr + 1}, {3, 2 * nr}};
  std::uint64_t index = 0;
  for (std::ptrdiff_t k : ks)
    for (const auto& shape : shapes)
      for (GemmStage stage : {GemmStage::int32, GemmStage::requantize_s8, GemmStage::dequantize}) {
        const std::uint64_t case_seed = index++;
        GemmTester t;
        t.m(shape[0])
            .n(shape[1])
            .k(k)
            .lda(k + static_cast<std::ptrdiff_t>(case_seed % 4))
            .output(stage)
            .a_signed(case_seed % 2)
            .b_unsigned(case_seed / 2 % 2)
            .b_order(case_seed % 3 ? gemm_b_order::k_by_n : gemm_b_order::n_by_k)
            .per_row_a_zero_points(case_seed % 2)
            .per_channel_b(case_seed % 3 == 0)
            .per_channel_scale(true)
            .bias(true)
            .seed(2000 + case_seed);
        ASSERT_NO_FATAL_FAILURE(t.run(path()));
      }
}

TEST_P(GemmPath, DeepK) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr;
  std::uint64_t index = 0;
  for (bool a_signed : {false, true})
    for (bool b_unsigned : {false, true})
      for (GemmStage stage : {GemmStage::int32, GemmStage::fixed_s8}) {
        const std::uint64_t case_seed = index++;
        GemmTester t;
        t.m(mr + 1)
            .n(nr + 1)
            .k(4099)
            .a_signed(a_signed)
            .b_unsigned(b_unsigned)
            .output(stage)
            .per_channel_b(case_seed % 2)
            .per_row_a_zero_points(true)
            .per_channel_scale(true)
            .seed(3000 + case_seed);
        ASSERT_NO_FATAL_FAILURE(t.run(path()));
      }
}

// The vector kernels cut K into slices of at most k_slice_groups groups of kr and carry int32 partial sums between
// slices for blocks of at most partial_rows rows (GemmLayout): K one less, equal and one more than a slice and than
// two slices, and shapes with more rows than a block holds, on both sides of a block edge.
TEST_P(GemmPath, KSlicesAndBlocks) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr, kr = layout_.kr;
  if (layout_.k_slice_groups == 0) GTEST_SKIP() << isa_name(path()) << " never cuts K (the scalar path)";
  const std::ptrdiff_t slice = layout_.k_slice_groups * kr;
  std::uint64_t seed = 3500;
  for (std::ptrdiff_t k : {slice - 1, slice, slice + 1, 2 * slice - 1, 2 * slice, 2 * slice + kr + 1})
    for (GemmStage stage : {GemmStage::int32, GemmStage::requantize_s8, GemmStage::dequantize}) {
      GemmTester t;
      t.m(2 * mr + 1)
          .n(nr + 1)
          .k(k)
          .output(stage)
          .per_row_a_zero_points(stage != GemmStage::int32)
          .per_channel_b(true)
          .bias(true)
          .seed(seed++);
      ASSERT_NO_FATAL_FAILURE(t.run(path()));
    }
  for (std::ptrdiff_t m : {std::ptrdiff_t{layout_.partial_rows}, std::ptrdiff_t{layout_.partial_rows} + 1,
                           2 * std::ptrdiff_t{layout_.partial_rows} + mr + 3}) {
    GemmTester big;
    big.m(m)
        .n(3 * nr + 5)
        .k(slice + kr + 1)
        .output(GemmStage::fixed_u8)
        .per_channel_scale(true)
        .per_channel_b(true)
        .a_signed(true)
        .seed(seed++);
    ASSERT_NO_FATAL_FAILURE(big.run(path()));
    ASSERT_NO_FATAL_FAILURE(big.threads(2).run(path()));
  }
}

/// Zero points at the ends of the types' ranges and every value at the far end from them: each product is
/// +-255 * 255 (or 255 * 128 with a centred weight zero point), and K = the bound gives |C| within 2^15 of
/// INT32_MAX. K = bound + 1 must throw (the tester checks both, and that gemm_max_k says the bound).
template <class TA, class TB>
void check_k_bound(qmath::isa path, std::ptrdiff_t m, std::ptrdiff_t n, std::uint64_t& seed) {
  const std::int32_t a_ends[] = {static_cast<std::int32_t>(qmath::int_traits<TA>::kMin),
                                 static_cast<std::int32_t>(qmath::int_traits<TA>::kMax)};
  const std::int32_t b_ends[] = {static_cast<std::int32_t>(qmath::int_traits<TB>::kMin),
                                 static_cast<std::int32_t>(qmath::int_traits<TB>::kMax)};
  for (std::int32_t za : a_ends)
    for (std::int32_t zb : b_ends)
      for (std::ptrdiff_t k : {std::ptrdiff_t{33025}, std::ptrdiff_t{33026}}) {
        const std::uint64_t case_seed = seed++;
        GemmTester t;
        t.m(m)
            .n(n)
            .k(k)
            .a_signed(std::is_signed<TA>::value)
            .b_unsigned(std::is_unsigned<TB>::value)
            .a_zero_point(za)
            .b_zero_point(zb)
            .a_fill(za == a_ends[0] ? GemmFill::max : GemmFill::min)
            .b_fill(zb == b_ends[0] ? GemmFill::max : GemmFill::min)
            .b_order(case_seed % 2 ? gemm_b_order::n_by_k : gemm_b_order::k_by_n)
            .output(k == 33025 && case_seed % 3 == 0 ? GemmStage::dequantize : GemmStage::int32)
            .seed(case_seed);
        ASSERT_NO_FATAL_FAILURE(t.run(path));
        EXPECT_EQ(t.threw(), k == 33026) << t.describe(path);
      }
  // A centred weight zero point halves db: 255 * 128 per term, bound 65793.
  const std::int32_t zb_centre = std::is_signed<TB>::value ? 0 : 128;
  for (std::int32_t za : a_ends)
    for (GemmFill b_fill : {GemmFill::min, GemmFill::max})
      for (std::ptrdiff_t k : {std::ptrdiff_t{65793}, std::ptrdiff_t{65794}}) {
        const std::uint64_t case_seed = seed++;
        GemmTester t;
        t.m(m)
            .n(n)
            .k(k)
            .a_signed(std::is_signed<TA>::value)
            .b_unsigned(std::is_unsigned<TB>::value)
            .a_zero_point(za)
            .b_zero_point(zb_centre)
            .a_fill(za == a_ends[0] ? GemmFill::max : GemmFill::min)
            .b_fill(b_fill)
            .seed(case_seed);
        ASSERT_NO_FATAL_FAILURE(t.run(path));
        // uint8 B at 128 is 128 below and 127 above: min is the far end; int8 B at 0 likewise.
        EXPECT_EQ(t.threw(), k == 65794) << t.describe(path);
      }
}

TEST_P(GemmPath, KAtTheInt32Bound) {
  const std::ptrdiff_t m = 2, n = layout_.nr + 1;  // small M, N: K is 33025 or 65793 here
  std::uint64_t seed = 4000;
  ASSERT_NO_FATAL_FAILURE((check_k_bound<std::uint8_t, std::int8_t>(path(), m, n, seed)));
  ASSERT_NO_FATAL_FAILURE((check_k_bound<std::int8_t, std::int8_t>(path(), m, n, seed)));
  ASSERT_NO_FATAL_FAILURE((check_k_bound<std::uint8_t, std::uint8_t>(path(), m, n, seed)));
  ASSERT_NO_FATAL_FAILURE((check_k_bound<std::int8_t, std::uint8_t>(path(), m, n, seed)));
}

// Every stage with every option: per-tensor / per-channel multipliers or scales, with and without bias, output
// zero points at both ends and in between, full range, ReLU (min = zero point), ReLU6-like (max a little above
// the zero point) and narrow clamps; all four operand type pairs.
TEST_P(GemmPath, EveryOutputStage) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr;
  const std::ptrdiff_t shapes[][3] = {{mr + 1, 2 * nr + 1, 37}, {2 * mr - 1, std::max<std::ptrdiff_t>(1, nr - 1), 300}};
  std::uint64_t seed = 5000;
  for (GemmStage stage : qmath_test::kAllGemmStages)
    for (bool per_channel : {false, true})
      for (bool bias : {false, true})
        for (int types = 0; types < 4; ++types)
          for (int range = 0; range < (is_requantize(stage) ? 6 : 2); ++range)
            for (const auto& shape : shapes) {
              const std::uint64_t case_seed = seed++;
              GemmTester t;
              t.m(shape[0])
                  .n(shape[1])
                  .k(shape[2])
                  .a_signed(types & 1)
                  .b_unsigned(types & 2)
                  .output(stage)
                  .per_channel_scale(per_channel)
                  .per_row_a_scale(range % 2)
                  .bias(bias)
                  .per_channel_b(case_seed % 3 == 0)
                  .seed(case_seed);
              const std::int32_t lo = out_min(stage), hi = out_max(stage);
              switch (range) {
                case 0:
                  break;  // random output zero point, full range
                case 1:
                  t.output_zero_point(lo);
                  break;
                case 2:
                  t.output_zero_point(hi);
                  break;
                case 3:
                  t.output_zero_point(lo + 3).clamp(lo + 3, hi);
                  break;  // ReLU
                case 4:
                  t.output_zero_point(lo + 100).clamp(lo + 100, lo + 100 + 42);
                  break;  // ReLU6-like
                case 5:
                  t.output_zero_point((lo + hi) / 2).clamp(lo + 1, hi - 1);
                  break;  // narrow
              }
              ASSERT_NO_FATAL_FAILURE(t.run(path()));
            }
}

// Float multipliers that make ties (powers of two on odd C), saturate everything, or shrink C to nothing.
TEST_P(GemmPath, FloatMultiplierTiesAndExtremes) {
  std::uint64_t seed = 6000;
  for (float multiplier : {0.5f, 0.25f, 0.125f, 1.0f, 2.0f, 3.0f, 1e-9f, 1e6f, 0.1f})
    for (GemmStage stage : {GemmStage::requantize_s8, GemmStage::requantize_u8})
      for (std::ptrdiff_t k : {1, 2, 9}) {
        const std::uint64_t case_seed = seed++;
        GemmTester t;
        t.m(layout_.mr + 1)
            .n(layout_.nr + 3)
            .k(k)
            .output(stage)
            .multiplier(multiplier)
            .bias(case_seed % 2)
            .per_channel_scale(case_seed % 3 == 0)
            .a_signed(case_seed % 4 == 1)
            .seed(case_seed);
        ASSERT_NO_FATAL_FAILURE(t.run(path()));
      }
}

// Fixed-point multiplier and shift over the whole domain: shifts from -31 to 30, multipliers 0 to 2^31 - 1.
TEST_P(GemmPath, FixedPointShifts) {
  std::uint64_t seed = 7000;
  const std::int32_t multipliers[] = {0, 1, 1 << 30, 1518500250, 1999999999, std::numeric_limits<std::int32_t>::max()};
  for (int shift : {-31, -24, -13, -5, -1, 0, 1, 2, 7, 30})
    for (std::int32_t multiplier : multipliers)
      for (GemmStage stage : {GemmStage::fixed_s8, GemmStage::fixed_u8}) {
        const std::uint64_t case_seed = seed++;
        GemmTester t;
        t.m(layout_.mr + 1)
            .n(layout_.nr + 1)
            .k(shift > 0 ? 2 : 50)
            .output(stage)
            .fixed_point(multiplier, shift)
            .bias(case_seed % 2)
            .per_channel_scale(case_seed % 3 == 0)
            .a_signed(case_seed % 4 == 1)
            .b_unsigned(case_seed % 5 == 2)
            .seed(case_seed);
        ASSERT_NO_FATAL_FAILURE(t.run(path()));
      }
  // Per channel, with quantize_multiplier's values plus corner columns (see the tester).
  for (GemmStage stage : {GemmStage::fixed_s8, GemmStage::fixed_u8})
    for (bool bias : {false, true}) {
      const std::uint64_t case_seed = seed++;
      GemmTester t;
      t.m(layout_.mr * 2 + 1)
          .n(3 * layout_.nr + 5)
          .k(77)
          .output(stage)
          .per_channel_scale(true)
          .bias(bias)
          .seed(case_seed);
      ASSERT_NO_FATAL_FAILURE(t.run(path()));
    }
}

// All A at one end (or each element at one end) against all B at one end, zero points at the ends or random.
TEST_P(GemmPath, ExtremeValuesAndZeroPoints) {
  const GemmFill fills[] = {GemmFill::min, GemmFill::max, GemmFill::extremes, GemmFill::random};
  std::uint64_t seed = 8000;
  for (int types = 0; types < 4; ++types) {
    const bool a_signed = types & 1, b_unsigned = types & 2;
    const std::int32_t a_ends[] = {a_signed ? -128 : 0, a_signed ? 127 : 255};
    const std::int32_t b_ends[] = {b_unsigned ? 0 : -128, b_unsigned ? 255 : 127};
    for (GemmFill a_fill : fills)
      for (GemmFill b_fill : fills)
        for (int zp = 0; zp < 5; ++zp) {
          const std::uint64_t case_seed = seed++;
          GemmTester t;
          t.m(layout_.mr + 1)
              .n(layout_.nr + 1)
              .k(129)
              .a_signed(a_signed)
              .b_unsigned(b_unsigned)
              .a_fill(a_fill)
              .b_fill(b_fill)
              .output(case_seed % 3 == 0 ? GemmStage::requantize_u8 : GemmStage::int32)
              .seed(case_seed);
          if (zp < 4)
            t.a_zero_point(a_ends[zp % 2]).b_zero_point(b_ends[zp / 2]);
          else
            t.per_row_a_zero_points(true).per_channel_b(true);  // a mix of both ends and random, per entry
          ASSERT_NO_FATAL_FAILURE(t.run(path()));
        }
  }
}

/// A random case around `l`'s tile: sizes, strides, types, order, zero points, values, stage and its options.
GemmTester random_case(std::mt19937_64& rng, const qmath::kernels::GemmLayout& l, std::uint64_t seed) {
  auto pick = [&rng](std::ptrdiff_t lo, std::ptrdiff_t hi) {
    return lo + static_cast<std::ptrdiff_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  const std::ptrdiff_t mr = std::max(l.mr, 4), nr = std::max(l.nr, 8);  // the scalar tile is 1 x 1
  GemmTester t;
  const std::ptrdiff_t m = rng() % 8 == 0 ? pick(1, 8 * mr + 3) : pick(1, 3 * mr + 2);
  const std::ptrdiff_t n = rng() % 8 == 0 ? pick(1, 6 * nr + 3) : pick(1, 3 * nr + 2);
  const std::uint64_t k_kind = rng() % 10;
  const std::ptrdiff_t k = k_kind < 5 ? pick(1, 16 * l.kr + 1) : k_kind < 9 ? pick(1, 320) : pick(321, 1200);
  const gemm_b_order order = (rng() & 1) ? gemm_b_order::n_by_k : gemm_b_order::k_by_n;
  const bool a_signed = rng() & 1, b_unsigned = rng() % 3 == 0;
  t.m(m).n(n).k(k).b_order(order).a_signed(a_signed).b_unsigned(b_unsigned);
  if (rng() % 3 == 0) t.lda(k + pick(1, 9));
  if (rng() % 3 == 0) t.ldb((order == gemm_b_order::k_by_n ? n : k) + pick(1, 7));
  const std::uint64_t ldc_kind = rng() % 3;
  if (ldc_kind == 0)
    t.ldc(n);
  else if (ldc_kind == 1)
    t.ldc(n + pick(1, 9));
  t.per_row_a_zero_points(rng() % 4 == 0).per_channel_b(rng() % 4 == 0);
  // Otherwise drawn by the tester (per tensor: random; per entry: a mix of the ends and random values).
  if (rng() % 4 == 0) t.a_zero_point((rng() & 1) ? (a_signed ? -128 : 0) : (a_signed ? 127 : 255));
  if (rng() % 4 == 0) t.b_zero_point((rng() & 1) ? (b_unsigned ? 0 : -128) : (b_unsigned ? 255 : 127));
  const GemmFill fills[] = {GemmFill::min, GemmFill::max, GemmFill::extremes};
  if (rng() % 8 == 0) t.a_fill(fills[rng() % 3]);
  if (rng() % 8 == 0) t.b_fill(fills[rng() % 3]);
  const GemmStage stage = qmath_test::kAllGemmStages[rng() % 6];
  t.output(stage).per_channel_scale(rng() & 1).per_row_a_scale(rng() & 1).bias(rng() & 1);
  if (is_requantize(stage)) {
    const std::int32_t lo = out_min(stage), hi = out_max(stage);
    const std::int32_t zo = static_cast<std::int32_t>(pick(lo, hi));
    switch (rng() % 4) {
      case 0:
        break;
      case 1:
        t.output_zero_point(zo).clamp(zo, hi);
        break;
      case 2:
        t.output_zero_point(zo).clamp(zo, static_cast<std::int32_t>(std::min<std::ptrdiff_t>(hi, zo + pick(0, 100))));
        break;
      default: {
        const auto a = static_cast<std::int32_t>(pick(lo, hi)), b = static_cast<std::int32_t>(pick(lo, hi));
        t.output_zero_point(zo).clamp(std::min(a, b), std::max(a, b));
      }
    }
  }
  t.seed(seed);
  return t;
}

TEST_P(GemmPath, RandomShapes) {
  const std::size_t count = random_shape_count();
  std::printf("[qmath] %s: %zu random GEMM cases (QMATH_GEMM_RANDOM_SHAPES sets the count)\n", qmath::isa_name(path()),
              count);
  std::mt19937_64 rng(0x51ED + static_cast<std::uint64_t>(path()));
  for (std::size_t i = 0; i < count; ++i) {
    GemmTester t = random_case(rng, layout_, 100000 + i);
    ASSERT_NO_FATAL_FAILURE(t.run(path()));
  }
}

/// Runs `t` with 1, 2, 3 and 0 (default) threads: each must match the reference, and all the same bytes.
void check_thread_counts(GemmTester t, qmath::isa path) {
  ASSERT_GE(static_cast<double>(t.m()) * static_cast<double>(t.n()) * static_cast<double>(t.k()), 2.0e6)
      << "too small for gemm to split the work";
  ASSERT_NO_FATAL_FAILURE(t.threads(1).run(path));
  const std::vector<unsigned char> one = t.result();
  ASSERT_FALSE(one.empty());
  for (int threads : {2, 3, 0}) {
    ASSERT_NO_FATAL_FAILURE(t.threads(threads).run(path));
    ASSERT_TRUE(t.result() == one) << "the result depends on the thread count: " << t.describe(path);
  }
}

TEST_P(GemmPath, ThreadCountDoesNotChangeTheResult) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr;
  std::uint64_t seed = 9000;
  for (GemmStage stage : {GemmStage::int32, GemmStage::requantize_u8, GemmStage::dequantize}) {
    // Column split: many column panels.
    GemmTester columns;
    columns.m(2 * mr + 3)
        .n(40 * nr + 7)
        .k(static_cast<std::ptrdiff_t>(2.1e6 / static_cast<double>((2 * mr + 3) * (40 * nr + 7))) + 1)
        .output(stage)
        .per_channel_scale(true)
        .bias(true)
        .per_row_a_zero_points(true)
        .seed(seed++);
    ASSERT_NO_FATAL_FAILURE(check_thread_counts(columns, path()));
    // Row split: two column panels, many row panels.
    GemmTester rows;
    const std::ptrdiff_t m = 100 * mr + 1, n = nr + 1;
    rows.m(m)
        .n(n)
        .k(static_cast<std::ptrdiff_t>(2.1e6 / static_cast<double>(m * n)) + 1)
        .output(stage)
        .per_channel_b(true)
        .a_signed(true)
        .seed(seed++);
    ASSERT_NO_FATAL_FAILURE(check_thread_counts(rows, path()));
  }
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmPath, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

}  // namespace
