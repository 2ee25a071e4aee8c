// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_quantize_paths.cpp: every compiled ISA path of the bulk quantize / dequantize / requantize
// kernels against the scalar reference, bit for bit: all sizes through two vector widths plus long odd ones
// (tails), unaligned pointers, guard elements that must stay untouched, broadcast and per-element parameters,
// every code type and rounding convention, zero points at the ends of the range, ties, NaN, +-Inf, huge values.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/format/bits.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::Numerics;
using qmath::rounding;
using qmath::scale_op;
using qmath::kernels::DequantizeRun;
using qmath::kernels::QuantizeKernels;
using qmath::kernels::QuantizeRun;

constexpr std::size_t kGuard = 7;
const std::vector<std::size_t> kSizes = [] {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 2 * 16 + 1; ++n) sizes.push_back(n);  // 16 float lanes on AVX-512
  for (std::size_t n : {63u, 64u, 65u, 127u, 129u, 1000u, 4099u}) sizes.push_back(n);
  return sizes;
}();
const Numerics kNumerics[] = {{scale_op::multiply_reciprocal, rounding::half_even},
                              {scale_op::divide, rounding::half_even},
                              {scale_op::divide, rounding::half_away},
                              {scale_op::multiply_reciprocal, rounding::half_away}};

/// Scale/zero-point pairs: ordinary, tiny and huge scales, zero points at both ends of the code range.
template <class Q>
std::vector<std::pair<float, std::int32_t>> parameter_cases() {
  const auto lo = static_cast<std::int32_t>(qmath::int_traits<Q>::kMin);
  const auto hi = static_cast<std::int32_t>(qmath::int_traits<Q>::kMax);
  return {{0.0173f, 0}, {0.1f, lo}, {0.1f, hi}, {3.0f, (lo + hi) / 2}, {1e-6f, lo + 1}, {1234.5f, hi - 1},
          {1.0f, 0}, {0.5f, 3}};
}

/// Inputs: random, exact ties after scaling, range ends +-1 ulp, NaN, +-Inf, huge, +-0, subnormals.
std::vector<float> quantize_inputs(std::size_t n, float scale, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> units(-300.0f, 300.0f);
  const float special[] = {0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
                           -std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                           -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                           -std::numeric_limits<float>::min(), 1e30f, -1e30f, 2147483648.0f, -2147483904.0f};
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (rng() % 5) {
      case 0: v[i] = units(rng) * scale; break;
      case 1: v[i] = (std::floor(units(rng)) + 0.5f) * scale; break;  // a tie for exact scales
      case 2: v[i] = special[rng() % (sizeof(special) / sizeof(special[0]))]; break;
      case 3: v[i] = std::nextafter(std::floor(units(rng) * 200.0f) * scale, (rng() & 1) ? 1e38f : -1e38f); break;
      default: v[i] = qmath::f32_from_bits(static_cast<std::uint32_t>(rng())); break;
    }
  }
  return v;
}

class QuantizePaths : public ::testing::TestWithParam<qmath::isa> {
 protected:
  const QuantizeKernels& table() {
    const QuantizeKernels* t = qmath::kernels::quantize_kernels(GetParam());
    EXPECT_NE(t, nullptr);
    return *t;
  }

  template <class Q>
  void check_quantize(const QuantizeKernels& candidate) {
    const QuantizeKernels& ref = qmath::kernels::kScalarQuantizeKernels;
    std::uint32_t seed = 1;
    for (const auto& [scale, zp] : parameter_cases<Q>())
      for (const Numerics& numerics : kNumerics)
        for (bool per_element : {false, true})
          for (std::size_t n : kSizes) {
            ++seed;
            // +1 misaligns the input; parameters per element vary around the case's pair.
            std::vector<float> x = quantize_inputs(n + 1, scale, seed);
            std::vector<float> factors(per_element ? n + 1 : 1);
            std::vector<std::int32_t> zero_points(factors.size());
            std::mt19937 rng(seed);
            for (std::size_t i = 0; i < factors.size(); ++i) {
              const float s = per_element ? scale * (1.0f + static_cast<float>(rng() % 7) / 8.0f) : scale;
              factors[i] = numerics.op == scale_op::multiply_reciprocal ? 1.0f / s : s;
              zero_points[i] = (per_element && (rng() & 1))
                                   ? static_cast<std::int32_t>(qmath::int_traits<Q>::kMin +
                                                               rng() % (qmath::int_traits<Q>::kMax -
                                                                        qmath::int_traits<Q>::kMin + 1))
                                   : zp;
            }
            const auto qmin = static_cast<std::int32_t>(qmath::int_traits<Q>::kMin) + ((seed % 3 == 0) ? 1 : 0);
            const auto qmax = static_cast<std::int32_t>(qmath::int_traits<Q>::kMax);
            const std::size_t p0 = per_element ? 1 : 0;
            const QuantizeRun run{factors.data() + p0, zero_points.data() + p0, per_element, qmin, qmax, numerics};
            std::vector<Q> expected(n), got(n + 2 * kGuard, Q(0x5A));
            ref.quantize.get<Q>()(x.data() + 1, expected.data(), n, run);
            candidate.quantize.get<Q>()(x.data() + 1, got.data() + kGuard, n, run);
            for (std::size_t i = 0; i < n; ++i)
              ASSERT_EQ(+expected[i], +got[kGuard + i])
                  << "quantize to " << qmath::int_traits<Q>::kName << " n=" << n << " i=" << i << " x=" << x[1 + i]
                  << " (bits 0x" << std::hex << qmath::f32_bits(x[1 + i]) << std::dec << ") factor="
                  << run.factor[per_element ? i : 0] << " zp=" << run.zero_point[per_element ? i : 0]
                  << " op=" << static_cast<int>(numerics.op) << " round=" << static_cast<int>(numerics.round)
                  << " per_element=" << per_element;
            for (std::size_t g = 0; g < kGuard; ++g) {
              ASSERT_EQ(+got[g], +Q(0x5A)) << "wrote before the output, n=" << n;
              ASSERT_EQ(+got[kGuard + n + g], +Q(0x5A)) << "wrote past the output, n=" << n;
            }
          }
  }

  template <class Q>
  void check_dequantize(const QuantizeKernels& candidate) {
    const QuantizeKernels& ref = qmath::kernels::kScalarQuantizeKernels;
    std::mt19937 rng(7);
    for (const auto& [scale, zp] : parameter_cases<Q>())
      for (bool per_element : {false, true})
        for (std::size_t n : kSizes) {
          std::vector<Q> q(n + 1);
          for (auto& c : q)
            c = static_cast<Q>(qmath::int_traits<Q>::kMin +
                               rng() % (qmath::int_traits<Q>::kMax - qmath::int_traits<Q>::kMin + 1));
          if (n > 0) q[1] = static_cast<Q>(qmath::int_traits<Q>::kMin);
          if (n > 1) q[n] = static_cast<Q>(qmath::int_traits<Q>::kMax);
          std::vector<float> scales(per_element ? n + 1 : 1, scale);
          std::vector<std::int32_t> zero_points(scales.size(), zp);
          for (std::size_t i = 0; per_element && i < scales.size(); ++i) {
            scales[i] = scale * static_cast<float>(1 + rng() % 13) / 7.0f;
            if (rng() & 1) zero_points[i] = static_cast<std::int32_t>(qmath::int_traits<Q>::kMax);
          }
          const std::size_t p0 = per_element ? 1 : 0;
          const DequantizeRun run{scales.data() + p0, zero_points.data() + p0, per_element};
          std::vector<float> expected(n), got(n + 2 * kGuard, -7.0f);
          ref.dequantize.get<Q>()(q.data() + 1, expected.data(), n, run);
          candidate.dequantize.get<Q>()(q.data() + 1, got.data() + kGuard, n, run);
          for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(qmath::f32_bits(expected[i]), qmath::f32_bits(got[kGuard + i]))
                << "dequantize " << qmath::int_traits<Q>::kName << " n=" << n << " i=" << i << " q=" << +q[1 + i];
          for (std::size_t g = 0; g < kGuard; ++g) {
            ASSERT_EQ(got[g], -7.0f);
            ASSERT_EQ(got[kGuard + n + g], -7.0f);
          }
        }
  }

  template <class Q>
  void check_requantize(const QuantizeKernels& candidate) {
    const QuantizeKernels& ref = qmath::kernels::kScalarQuantizeKernels;
    std::mt19937 rng(11);
    const std::int32_t edges[] = {0, 1, -1, std::numeric_limits<std::int32_t>::max(),
                                  std::numeric_limits<std::int32_t>::min(), (1 << 24) + 1, -(1 << 24) - 3,
                                  64770, -64770, 2147483520};
    for (float m : {1.0f / 3.0f, 0.0007f, 1e-9f, 2.5f, 1.0f})
      for (std::int32_t zp : {0, static_cast<std::int32_t>(qmath::int_traits<Q>::kMin),
                              static_cast<std::int32_t>(qmath::int_traits<Q>::kMax)})
        for (bool per_element : {false, true})
          for (std::size_t n : kSizes) {
            std::vector<std::int32_t> acc(n);
            for (auto& a : acc) {
              const auto r = static_cast<std::int32_t>(rng());
              a = (rng() % 4 == 0) ? edges[rng() % 10] : (rng() & 1) ? r : r % 100000;
            }
            std::vector<float> mult(per_element ? n : 1, m);
            std::vector<std::int32_t> zero_points(mult.size(), zp);
            for (std::size_t i = 0; per_element && i < n; ++i) mult[i] = m * static_cast<float>(1 + rng() % 5);
            if (n == 0) mult.assign(1, m), zero_points.assign(1, zp);
            const QuantizeRun run{mult.data(), zero_points.data(), per_element,
                                  static_cast<std::int32_t>(qmath::int_traits<Q>::kMin),
                                  static_cast<std::int32_t>(qmath::int_traits<Q>::kMax),
                                  {scale_op::multiply_reciprocal, rounding::half_even}};
            std::vector<Q> expected(n), got(n + 2 * kGuard, Q(0x33));
            ref.requantize.get<Q>()(acc.data(), expected.data(), n, run);
            candidate.requantize.get<Q>()(acc.data(), got.data() + kGuard, n, run);
            for (std::size_t i = 0; i < n; ++i)
              ASSERT_EQ(+expected[i], +got[kGuard + i])
                  << "requantize to " << qmath::int_traits<Q>::kName << " n=" << n << " acc=" << acc[i];
            for (std::size_t g = 0; g < kGuard; ++g) {
              ASSERT_EQ(+got[g], +Q(0x33));
              ASSERT_EQ(+got[kGuard + n + g], +Q(0x33));
            }
          }
  }
};

TEST_P(QuantizePaths, QuantizeMatchesReference) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const QuantizeKernels& t = table();
  check_quantize<std::int8_t>(t);
  check_quantize<std::uint8_t>(t);
  check_quantize<std::int16_t>(t);
  check_quantize<std::uint16_t>(t);
}

TEST_P(QuantizePaths, DequantizeMatchesReference) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const QuantizeKernels& t = table();
  check_dequantize<std::int8_t>(t);
  check_dequantize<std::uint8_t>(t);
  check_dequantize<std::int16_t>(t);
  check_dequantize<std::uint16_t>(t);
}

TEST_P(QuantizePaths, RequantizeMatchesReference) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const QuantizeKernels& t = table();
  check_requantize<std::int8_t>(t);
  check_requantize<std::uint8_t>(t);
  check_requantize<std::int16_t>(t);
  check_requantize<std::uint16_t>(t);
}

TEST_P(QuantizePaths, TableReportsItsPath) {
  EXPECT_EQ(table().path, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Isa, QuantizePaths, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

// The reference itself on values whose codes are known by hand, so the SIMD comparison above compares against
// something right: ties, both rounding rules, NaN, infinities, the clamp, and int32 codes beyond float's 2^24.
TEST(QuantizeReference, HandChecked) {
  using qmath::kernels::ref::quantize_value;
  const Numerics even{scale_op::divide, rounding::half_even}, away{scale_op::divide, rounding::half_away};
  EXPECT_EQ(quantize_value(2.5f, 1.0f, 0, -128, 127, even), 2);
  EXPECT_EQ(quantize_value(2.5f, 1.0f, 0, -128, 127, away), 3);
  EXPECT_EQ(quantize_value(-2.5f, 1.0f, 0, -128, 127, away), -3);
  EXPECT_EQ(quantize_value(-3.5f, 1.0f, 0, -128, 127, even), -4);
  EXPECT_EQ(quantize_value(0.49999997f, 1.0f, 0, -128, 127, away), 0);
  EXPECT_EQ(quantize_value(std::nanf(""), 0.1f, 17, -128, 127, even), 17);
  EXPECT_EQ(quantize_value(std::nanf(""), 0.1f, 200, 0, 127, even), 127);  // the zero point, clamped
  EXPECT_EQ(quantize_value(INFINITY, 0.1f, 3, -128, 127, even), 127);
  EXPECT_EQ(quantize_value(-INFINITY, 0.1f, 3, -128, 127, even), -128);
  EXPECT_EQ(quantize_value(1e30f, 1e-30f, 0, -2147483647 - 1, 2147483647, even), 2147483647);
  EXPECT_EQ(quantize_value(-3e9f, 1.0f, 5, -2147483647 - 1, 2147483647, even), -2147483647 - 1);
  EXPECT_EQ(quantize_value(100.0f, 1.0f, -50, -128, 127, even), 50);
  EXPECT_EQ(quantize_value(1000.0f, 1.0f, -50, -128, 127, even), 127);
  // PyTorch multiplies by the float reciprocal: -2.35f * (1/0.1f) is the tie -23.5, -2.35f / 0.1f is not.
  const float x = -2.35f, s = 0.1f;
  const std::int32_t by_reciprocal = quantize_value(x, 1.0f / s, 0, -128, 127, {scale_op::multiply_reciprocal,
                                                                                  rounding::half_even});
  EXPECT_EQ(by_reciprocal, -24);
  EXPECT_EQ(quantize_value(x, s, 0, -128, 127, even), -23);
}

}  // namespace
