// SPDX-License-Identifier: Apache-2.0
// The scalar format conversions: the articles' worked examples, golden codes at every boundary, every code of
// every 16/8-bit format decoded against an independent formulation, and fp32 inputs encoded against it (every
// tie and boundary pattern, plus a dense stride of all 2^32).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/format/bf16.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"
#include "support/independent_formats.hpp"

namespace {

using qmath::f32_from_bits;
using qmath::overflow_mode;
constexpr overflow_mode kSat = overflow_mode::saturate;
constexpr overflow_mode kInf = overflow_mode::to_infinity;

TEST(ArticleExamples, BitLayoutsOf625) {
  EXPECT_EQ(qmath::bit_string(qmath::f32_bits(6.25f), qmath::kFloat32Layout), "0|10000001|10010000000000000000000");
  EXPECT_EQ(qmath::bit_string(qmath::f32_to_f16_bits(6.25f), qmath::kFloat16Layout), "0|10001|1001000000");
  EXPECT_EQ(qmath::bit_string(qmath::f32_to_bf16_bits(6.25f), qmath::kBFloat16Layout), "0|10000001|1001000");
  EXPECT_EQ(qmath::bit_string(qmath::f32_to_e5m2(6.25f), qmath::kE5M2Layout), "0|10001|10");  // 6.0: 6.25 rounds down
  EXPECT_EQ(qmath::bit_string(qmath::f32_to_e4m3fn(6.25f), qmath::kE4M3FNLayout), "0|1001|100");  // tie: to 6.0
}

TEST(ArticleExamples, Int8Of123) { EXPECT_EQ(qmath::integer_bit_string<std::int8_t>(123), "01111011"); }

TEST(ArticleExamples, FieldsOf625) {
  const qmath::BitFields f = qmath::split_bits(qmath::f32_bits(6.25f), qmath::kFloat32Layout);
  EXPECT_EQ(f.sign, 0u);
  EXPECT_EQ(f.exponent, 129u);  // 2 + 127
  EXPECT_EQ(f.mantissa, 0x480000u);
  const qmath::BitFields h = qmath::split_bits(qmath::f32_to_f16_bits(6.25f), qmath::kFloat16Layout);
  EXPECT_EQ(h.exponent, 17u);  // 2 + 15
  EXPECT_EQ(h.mantissa, 0x240u);
}

TEST(Fp16, GoldenCodes) {
  EXPECT_EQ(qmath::f32_to_f16_bits(1.0f), 0x3c00);
  EXPECT_EQ(qmath::f32_to_f16_bits(-2.0f), 0xc000);
  EXPECT_EQ(qmath::f32_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(qmath::f32_to_f16_bits(65519.996f), 0x7bff);      // below the midpoint to 65536
  EXPECT_EQ(qmath::f32_to_f16_bits(65520.0f), 0x7c00);        // the midpoint rounds to even: infinity
  EXPECT_EQ(qmath::f32_to_f16_bits(65520.0f, kSat), 0x7bff);
  EXPECT_EQ(qmath::f32_to_f16_bits(-INFINITY, kSat), 0xfbff);
  EXPECT_EQ(qmath::f32_to_f16_bits(INFINITY), 0x7c00);
  EXPECT_EQ(qmath::f32_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);   // smallest subnormal
  EXPECT_EQ(qmath::f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);   // half of it: tie to even (0)
  EXPECT_EQ(qmath::f32_to_f16_bits(std::ldexp(3.0f, -25)), 0x0002);   // 1.5 units: tie to even (2)
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x33000001u)), 0x0001);  // just above half a unit
  EXPECT_EQ(qmath::f32_to_f16_bits(std::ldexp(1.0f, -14)), 0x0400);   // smallest normal
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x387fc000u)), 0x03ff);  // largest subnormal, 1023 units
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x387fe000u)), 0x0400);  // 1023.5 units: to even, a normal
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x387fdfffu)), 0x03ff);
  EXPECT_EQ(qmath::f32_to_f16_bits(-0.0f), 0x8000);
  EXPECT_EQ(qmath::f32_to_f16_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  // NaN: sign kept, top 10 payload bits kept, quiet bit set.
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x7fc00000u)), 0x7e00);
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0xffc00000u)), 0xfe00);
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x7f800001u)), 0x7e00);  // payload below the kept bits
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x7fa00000u)), 0x7f00);
  EXPECT_EQ(qmath::f32_to_f16_bits(f32_from_bits(0x7f802000u), kSat), 0x7e01);
  EXPECT_EQ(qmath::f16_bits_to_f32(0x7c01) != qmath::f16_bits_to_f32(0x7c01), true);
  EXPECT_EQ(qmath::f32_bits(qmath::f16_bits_to_f32(0x7c01)), 0x7fc02000u);  // quieted, payload kept
  EXPECT_EQ(qmath::f32_bits(qmath::f16_bits_to_f32(0xfc00)), 0xff800000u);
  EXPECT_EQ(qmath::f16_bits_to_f32(0x0001), std::ldexp(1.0f, -24));
}

TEST(Bf16, GoldenCodes) {
  using qmath::bf16_rounding;
  EXPECT_EQ(qmath::f32_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x3f81ffffu), bf16_rounding::truncate), 0x3f81);
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x00018000u)), 0x0002);  // subnormals are rounded, not flushed
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x80007fffu)), 0x8000);
  EXPECT_EQ(qmath::f32_to_bf16_bits(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(qmath::f32_to_bf16_bits(std::numeric_limits<float>::max(), bf16_rounding::nearest_even, kSat), 0x7f7f);
  EXPECT_EQ(qmath::f32_to_bf16_bits(-INFINITY, bf16_rounding::nearest_even, kSat), 0xff7f);
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x7f800001u)), 0x7fc0);
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0x7f800001u), bf16_rounding::truncate), 0x7fc0);  // not inf
  EXPECT_EQ(qmath::f32_to_bf16_bits(f32_from_bits(0xffffffffu)), 0xffff);
  EXPECT_EQ(qmath::f32_bits(qmath::bf16_bits_to_f32(0x7f81)), 0x7f810000u);  // widening keeps the bits
}

TEST(Fp8, GoldenCodes) {
  EXPECT_EQ(qmath::f32_to_e4m3fn(448.0f), 0x7e);
  EXPECT_EQ(qmath::f32_to_e4m3fn(464.0f, kInf), 0x7e);        // midpoint 448 | 480: to even (448)
  EXPECT_EQ(qmath::f32_to_e4m3fn(464.0001f, kInf), 0x7f);     // rounds to 480: NaN without saturation
  EXPECT_EQ(qmath::f32_to_e4m3fn(464.0001f), 0x7e);
  EXPECT_EQ(qmath::f32_to_e4m3fn(1e6f), 0x7e);
  EXPECT_EQ(qmath::f32_to_e4m3fn(-1e6f), 0xfe);
  EXPECT_EQ(qmath::f32_to_e4m3fn(INFINITY), 0x7e);
  EXPECT_EQ(qmath::f32_to_e4m3fn(-INFINITY, kInf), 0xff);
  EXPECT_EQ(qmath::f32_to_e4m3fn(NAN), 0x7f);
  EXPECT_EQ(qmath::f32_to_e4m3fn(-NAN), 0xff);
  EXPECT_EQ(qmath::f32_to_e4m3fn(std::ldexp(1.0f, -9)), 0x01);
  EXPECT_EQ(qmath::f32_to_e4m3fn(std::ldexp(1.0f, -10)), 0x00);
  EXPECT_EQ(qmath::f32_to_e4m3fn(std::ldexp(3.0f, -10)), 0x02);
  EXPECT_EQ(qmath::f32_to_e4m3fn(6.25f), 0x4c);  // 1.5625 * 4 is the midpoint of 1.5 and 1.625: to even
  EXPECT_EQ(qmath::f32_to_e5m2(57344.0f), 0x7b);
  EXPECT_EQ(qmath::f32_to_e5m2(61440.0f, kInf), 0x7c);         // midpoint 57344 | 65536: to even (infinity)
  EXPECT_EQ(qmath::f32_to_e5m2(61439.996f, kInf), 0x7b);
  EXPECT_EQ(qmath::f32_to_e5m2(61440.0f), 0x7b);
  EXPECT_EQ(qmath::f32_to_e5m2(-INFINITY), 0xfb);
  EXPECT_EQ(qmath::f32_to_e5m2(-INFINITY, kInf), 0xfc);
  EXPECT_EQ(qmath::f32_to_e5m2(f32_from_bits(0x7fc00000u)), 0x7e);
  EXPECT_EQ(qmath::f32_to_e5m2(f32_from_bits(0xff800001u)), 0xfe);
  EXPECT_EQ(qmath::f32_to_e5m2(std::ldexp(1.0f, -16)), 0x01);
  EXPECT_EQ(qmath::e4m3fn_to_f32(0x7e), 448.0f);
  EXPECT_EQ(qmath::f32_bits(qmath::e4m3fn_to_f32(0xff)), 0xffc00000u);
  EXPECT_EQ(qmath::e4m3fn_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(qmath::e5m2_to_f32(0x7c), INFINITY);
  EXPECT_EQ(qmath::f32_bits(qmath::e5m2_to_f32(0x7d)), 0x7fe00000u);
}

// E5M2 is the high byte of fp16: decoding must agree exactly, for every code.
TEST(Fp8, E5M2IsTheHighByteOfFp16) {
  for (unsigned code = 0; code < 256; ++code)
    EXPECT_EQ(qmath::f32_bits(qmath::e5m2_to_f32(static_cast<std::uint8_t>(code))),
              qmath::f32_bits(qmath::f16_bits_to_f32(static_cast<std::uint16_t>(code << 8))))
        << "code 0x" << std::hex << code;
}

// ---- every code decoded, against the independent formulation ---------------------------------------------------

template <class Decode>
void check_all_decodes(const qmath_test::IndependentFormat& f, std::uint32_t codes, Decode&& decode) {
  const std::uint32_t top = ((1u << f.exponent_bits) - 1u) << f.mantissa_bits;
  const std::uint32_t man_mask = (1u << f.mantissa_bits) - 1u;
  for (std::uint32_t code = 0; code < codes; ++code) {
    const float got = decode(code);
    const std::uint32_t magnitude = code & (top | man_mask);
    const bool special = f.has_infinity ? (magnitude & top) == top : magnitude == (top | man_mask);
    if (special) {
      const bool is_inf = f.has_infinity && (magnitude & man_mask) == 0;
      ASSERT_TRUE(is_inf ? std::isinf(got) : std::isnan(got)) << std::hex << "code 0x" << code;
      ASSERT_EQ(std::signbit(got), ((code >> (f.exponent_bits + f.mantissa_bits)) & 1u) != 0) << std::hex << code;
    } else {
      ASSERT_EQ(static_cast<double>(got), qmath_test::independent_decode(code, f)) << std::hex << "code 0x" << code;
    }
  }
}

TEST(AllCodes, DecodeMatchesIndependentFormulation) {
  check_all_decodes(qmath_test::kIndependentF16, 1u << 16,
                    [](std::uint32_t c) { return qmath::f16_bits_to_f32(static_cast<std::uint16_t>(c)); });
  check_all_decodes(qmath_test::kIndependentBf16, 1u << 16,
                    [](std::uint32_t c) { return qmath::bf16_bits_to_f32(static_cast<std::uint16_t>(c)); });
  check_all_decodes(qmath_test::kIndependentE5M2, 1u << 8,
                    [](std::uint32_t c) { return qmath::e5m2_to_f32(static_cast<std::uint8_t>(c)); });
  check_all_decodes(qmath_test::kIndependentE4M3FN, 1u << 8,
                    [](std::uint32_t c) { return qmath::e4m3fn_to_f32(static_cast<std::uint8_t>(c)); });
}

// Every code that is not NaN survives encode(decode(code)) unchanged (in both overflow modes: no code overflows).
TEST(AllCodes, RoundTripThroughFp32) {
  for (std::uint32_t c = 0; c < (1u << 16); ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    const float h = qmath::f16_bits_to_f32(code);
    if (!std::isnan(h)) {
      ASSERT_EQ(qmath::f32_to_f16_bits(h), code);
    }
    const float b = qmath::bf16_bits_to_f32(code);
    if (!std::isnan(b)) {
      ASSERT_EQ(qmath::f32_to_bf16_bits(b), code);
    }
  }
  for (std::uint32_t c = 0; c < 256u; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    const float e4 = qmath::e4m3fn_to_f32(code), e5 = qmath::e5m2_to_f32(code);
    if (!std::isnan(e4)) {
      ASSERT_EQ(qmath::f32_to_e4m3fn(e4, kInf), code);
    }
    if (!std::isnan(e5)) {
      ASSERT_EQ(qmath::f32_to_e5m2(e5, kInf), code);
    }
  }
}

// ---- fp32 inputs encoded, against the independent formulation ------------------------------------------------

/// The code the independent formulation expects for a non-NaN x under `mode`.
std::uint32_t independent_code(float x, const qmath_test::IndependentFormat& f, overflow_mode mode) {
  const std::uint32_t top = ((1u << f.exponent_bits) - 1u) << f.mantissa_bits;
  const std::uint32_t man_mask = (1u << f.mantissa_bits) - 1u;
  const std::uint32_t max_code = f.has_infinity ? top - 1u : (top | man_mask) - 1u;
  bool overflowed = false;
  std::uint32_t code = std::isinf(x) ? (std::signbit(x) ? 1u << (f.exponent_bits + f.mantissa_bits) : 0u)
                                     : qmath_test::independent_encode(x, f, overflowed);
  if (std::isinf(x) || overflowed)
    code |= mode == overflow_mode::saturate ? max_code : (f.has_infinity ? top : (top | man_mask));
  return code;
}

/// Inputs around every rounding decision of a format dropping `dropped` mantissa bits: for every sign, fp32
/// exponent and kept mantissa, the dropped bits at 0, 1, half-1, half, half+1 and all-ones; plus a dense stride.
template <class Check>
void for_boundary_and_strided_inputs(int dropped, Check&& check) {
  const std::uint32_t half = 1u << (dropped - 1), all = (1u << dropped) - 1u;
  const std::uint32_t offsets[] = {0u, 1u, half - 1u, half, half + 1u, all};
  for (std::uint32_t high = 0; high < (1u << (32 - dropped)); ++high)
    for (std::uint32_t low : offsets) check((high << dropped) | low);
  for (std::uint64_t bits = 0; bits < (1ull << 32); bits += 65521) check(static_cast<std::uint32_t>(bits));
}

template <class Encode>
void check_encodes(const qmath_test::IndependentFormat& f, overflow_mode mode, Encode&& encode) {
  std::uint64_t failures = 0;
  for_boundary_and_strided_inputs(23 - f.mantissa_bits, [&](std::uint32_t bits) {
    const float x = f32_from_bits(bits);
    if (std::isnan(x) || failures > 5) return;
    const std::uint32_t want = independent_code(x, f, mode), got = encode(x, mode);
    if (want != got) {
      ++failures;
      ADD_FAILURE() << "input 0x" << std::hex << bits << ": independent 0x" << want << ", reference 0x" << got;
    }
  });
}

TEST(Encode, Fp16MatchesIndependentFormulation) {
  for (overflow_mode mode : {kInf, kSat})
    check_encodes(qmath_test::kIndependentF16, mode, [](float x, overflow_mode m) { return qmath::f32_to_f16_bits(x, m); });
}
TEST(Encode, Bf16MatchesIndependentFormulation) {
  for (overflow_mode mode : {kInf, kSat})
    check_encodes(qmath_test::kIndependentBf16, mode, [](float x, overflow_mode m) {
      return qmath::f32_to_bf16_bits(x, qmath::bf16_rounding::nearest_even, m);
    });
}
TEST(Encode, E5M2MatchesIndependentFormulation) {
  for (overflow_mode mode : {kInf, kSat})
    check_encodes(qmath_test::kIndependentE5M2, mode, [](float x, overflow_mode m) { return qmath::f32_to_e5m2(x, m); });
}
TEST(Encode, E4M3FNMatchesIndependentFormulation) {
  for (overflow_mode mode : {kInf, kSat})
    check_encodes(qmath_test::kIndependentE4M3FN, mode, [](float x, overflow_mode m) { return qmath::f32_to_e4m3fn(x, m); });
}

// NaN inputs: one rule, checked for a spread of payloads and both signs.
TEST(Encode, NaNRules) {
  for (std::uint32_t payload = 1; payload < 0x800000u; payload = payload * 3 + 1) {
    for (std::uint32_t sign : {0u, 0x80000000u}) {
      const float x = f32_from_bits(sign | 0x7f800000u | payload);
      const std::uint32_t s16 = sign >> 16;
      EXPECT_EQ(qmath::f32_to_f16_bits(x), s16 | 0x7e00u | (payload >> 13));
      EXPECT_EQ(qmath::f32_to_bf16_bits(x), s16 | 0x7fc0u | (payload >> 16));
      EXPECT_EQ(qmath::f32_to_e5m2(x), (s16 >> 8) | 0x7eu | (payload >> 21));
      EXPECT_EQ(qmath::f32_to_e4m3fn(x), (s16 >> 8) | 0x7fu);
    }
  }
}

}  // namespace
