// SPDX-License-Identifier: Apache-2.0
// Every compiled ISA path of the bulk conversions against the scalar reference, bit for bit: all sizes through
// two vector widths plus long odd ones (tails), unaligned base pointers, guard elements around the output that
// must stay untouched, random bit patterns (NaNs of every payload, subnormals, infinities) and edge values.
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/dispatch.hpp"
#include "qmath/kernels/simd/convert.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::bf16_rounding;
using qmath::fp8_format;
using qmath::overflow_mode;
using qmath::kernels::ConvertKernels;

constexpr std::size_t kGuard = 7;   // elements of canary before and after the output; 7 also misaligns its start
constexpr std::size_t kOffset = 1;  // misaligns the input base pointer by one element
const std::vector<std::size_t> kSizes = [] {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 2 * 64 + 1; ++n) sizes.push_back(n);  // 64 covers the widest lane count in use
  for (std::size_t n : {255u, 256u, 257u, 1000u, 4099u, 65537u}) sizes.push_back(n);
  return sizes;
}();

std::vector<float> edge_floats() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 6.25f, inf, -inf, std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                          65504.0f, 65519.99f, 65520.0f, -65520.0f, 448.0f, 464.0f, 464.0001f, 480.0f, 57344.0f,
                          61440.0f, 61440.01f, 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1.0f / 512,
                          1.0f / 1024, 1.0f / 65536, 1.0f / 131072, 3.3895314e38f, 3.3961775e38f};
  for (std::uint32_t bits : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7fa00000u,
                             0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0x00007fffu, 0x00008000u, 0x00018000u,
                             0x387fe000u, 0x387ff000u, 0x33000000u, 0x33000001u})
    v.push_back(qmath::f32_from_bits(bits));
  return v;
}

/// n floats: random bit patterns mixed with edge values and values near each format's range.
std::vector<float> test_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<float> edges = edge_floats();
  std::uniform_real_distribution<float> small(-600.0f, 600.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (rng() % 4) {
      case 0: v[i] = qmath::f32_from_bits(static_cast<std::uint32_t>(rng())); break;
      case 1: v[i] = edges[rng() % edges.size()]; break;
      case 2: v[i] = small(rng); break;
      default: v[i] = std::ldexp(small(rng), -static_cast<int>(rng() % 40)); break;
    }
  }
  return v;
}

template <class T>
std::vector<T> random_codes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(rng());
  return v;
}

template <class T>
std::uint32_t bits_of(T x) {
  if constexpr (std::is_same<T, float>::value) return qmath::f32_bits(x);
  else return x;
}

/// Runs `candidate` and `reference` on the same input into guarded, misaligned buffers and compares every bit.
template <class In, class Out, class Run>
void expect_same_as_reference(const std::vector<In>& input, Run&& run_candidate, Run&& run_reference,
                              const char* what, qmath::isa path) {
  const std::size_t n = input.size();
  std::vector<In> in(kOffset);
  in.insert(in.end(), input.begin(), input.end());
  const Out canary = static_cast<Out>(0x5a);
  std::vector<Out> got(n + 2 * kGuard, canary), want(n + 2 * kGuard, canary);
  run_candidate(in.data() + kOffset, got.data() + kGuard, n);
  run_reference(in.data() + kOffset, want.data() + kGuard, n);
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (bits_of(got[i]) != bits_of(want[i])) {
      const bool in_guard = i < kGuard || i >= kGuard + n;
      FAIL() << what << " on " << qmath::isa_name(path) << ", n=" << n << ": "
             << (in_guard ? "wrote outside the output at buffer index " : "mismatch at element ")
             << (in_guard ? i : i - kGuard) << ": input bits 0x" << std::hex
             << (in_guard ? 0u : bits_of(input[i - kGuard])) << ", expected 0x" << bits_of(want[i])
             << ", got 0x" << bits_of(got[i]);
    }
  }
}

class ConvertPaths : public ::testing::TestWithParam<qmath::isa> {
 protected:
  const ConvertKernels& candidate() {
    const ConvertKernels* table = qmath::kernels::convert_kernels(GetParam());
    EXPECT_NE(table, nullptr);
    return table ? *table : qmath::kernels::kScalarConvertKernels;
  }
  const ConvertKernels& reference() { return qmath::kernels::kScalarConvertKernels; }
};

TEST_P(ConvertPaths, F32ToF16) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  for (overflow_mode mode : {overflow_mode::to_infinity, overflow_mode::saturate})
    for (std::size_t n : kSizes) {
      auto run = [&](const ConvertKernels& k) {
        return [&k, mode](const float* s, std::uint16_t* d, std::size_t m) { k.f32_to_f16(s, d, m, mode); };
      };
      auto c = run(candidate()), r = run(reference());
      expect_same_as_reference<float, std::uint16_t>(test_floats(n, 1000 + static_cast<unsigned>(n)), c, r,
                                                     "f32_to_f16", GetParam());
      if (HasFatalFailure()) return;
    }
}

TEST_P(ConvertPaths, F32ToBf16) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  for (bf16_rounding rounding : {bf16_rounding::nearest_even, bf16_rounding::truncate})
    for (overflow_mode mode : {overflow_mode::to_infinity, overflow_mode::saturate})
      for (std::size_t n : kSizes) {
        auto run = [&](const ConvertKernels& k) {
          return [&k, rounding, mode](const float* s, std::uint16_t* d, std::size_t m) {
            k.f32_to_bf16(s, d, m, rounding, mode);
          };
        };
        auto c = run(candidate()), r = run(reference());
        expect_same_as_reference<float, std::uint16_t>(test_floats(n, 2000 + static_cast<unsigned>(n)), c, r,
                                                       "f32_to_bf16", GetParam());
        if (HasFatalFailure()) return;
      }
}

TEST_P(ConvertPaths, F32ToFp8) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  for (fp8_format format : {fp8_format::e4m3fn, fp8_format::e5m2})
    for (overflow_mode mode : {overflow_mode::to_infinity, overflow_mode::saturate})
      for (std::size_t n : kSizes) {
        auto run = [&](const ConvertKernels& k) {
          return [&k, format, mode](const float* s, std::uint8_t* d, std::size_t m) {
            k.f32_to_fp8(s, d, m, format, mode);
          };
        };
        auto c = run(candidate()), r = run(reference());
        expect_same_as_reference<float, std::uint8_t>(test_floats(n, 3000 + static_cast<unsigned>(n)), c, r,
                                                      "f32_to_fp8", GetParam());
        if (HasFatalFailure()) return;
      }
}

TEST_P(ConvertPaths, SixteenBitToF32) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  for (std::size_t n : kSizes) {
    const auto codes = random_codes<std::uint16_t>(n, 4000 + static_cast<unsigned>(n));
    auto f16 = [](const ConvertKernels& k) {
      return [&k](const std::uint16_t* s, float* d, std::size_t m) { k.f16_to_f32(s, d, m); };
    };
    auto bf16 = [](const ConvertKernels& k) {
      return [&k](const std::uint16_t* s, float* d, std::size_t m) { k.bf16_to_f32(s, d, m); };
    };
    auto c1 = f16(candidate()), r1 = f16(reference());
    expect_same_as_reference<std::uint16_t, float>(codes, c1, r1, "f16_to_f32", GetParam());
    auto c2 = bf16(candidate()), r2 = bf16(reference());
    expect_same_as_reference<std::uint16_t, float>(codes, c2, r2, "bf16_to_f32", GetParam());
    if (HasFatalFailure()) return;
  }
}

TEST_P(ConvertPaths, Fp8ToF32) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  for (fp8_format format : {fp8_format::e4m3fn, fp8_format::e5m2})
    for (std::size_t n : kSizes) {
      auto run = [&](const ConvertKernels& k) {
        return [&k, format](const std::uint8_t* s, float* d, std::size_t m) { k.fp8_to_f32(s, d, m, format); };
      };
      auto c = run(candidate()), r = run(reference());
      expect_same_as_reference<std::uint8_t, float>(random_codes<std::uint8_t>(n, 5000 + static_cast<unsigned>(n)),
                                                    c, r, "fp8_to_f32", GetParam());
      if (HasFatalFailure()) return;
    }
}

// Outputs past kStreamingThresholdBytes take the non-temporal store path (x86): an unaligned head, an aligned
// streamed middle and a tail, all of which must match the reference and stay inside the output.
TEST_P(ConvertPaths, LargeArraysPastTheStreamingThreshold) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  constexpr std::size_t kBytes = qmath::kernels::simd::detail::kStreamingThresholdBytes;
  const std::size_t n16 = kBytes / 2 + 37, n32 = kBytes / 4 + 37;
  const auto floats = test_floats(n16, 77);
  auto to_f16 = [](const ConvertKernels& k) {
    return [&k](const float* s, std::uint16_t* d, std::size_t m) { k.f32_to_f16(s, d, m, overflow_mode::saturate); };
  };
  auto c1 = to_f16(candidate()), r1 = to_f16(reference());
  expect_same_as_reference<float, std::uint16_t>(floats, c1, r1, "f32_to_f16 (streaming)", GetParam());
  auto to_bf16 = [](const ConvertKernels& k) {
    return [&k](const float* s, std::uint16_t* d, std::size_t m) {
      k.f32_to_bf16(s, d, m, bf16_rounding::nearest_even, overflow_mode::to_infinity);
    };
  };
  auto c2 = to_bf16(candidate()), r2 = to_bf16(reference());
  expect_same_as_reference<float, std::uint16_t>(floats, c2, r2, "f32_to_bf16 (streaming)", GetParam());
  const auto codes = random_codes<std::uint16_t>(n32, 78);
  auto f16 = [](const ConvertKernels& k) {
    return [&k](const std::uint16_t* s, float* d, std::size_t m) { k.f16_to_f32(s, d, m); };
  };
  auto c3 = f16(candidate()), r3 = f16(reference());
  expect_same_as_reference<std::uint16_t, float>(codes, c3, r3, "f16_to_f32 (streaming)", GetParam());
  auto bf16 = [](const ConvertKernels& k) {
    return [&k](const std::uint16_t* s, float* d, std::size_t m) { k.bf16_to_f32(s, d, m); };
  };
  auto c4 = bf16(candidate()), r4 = bf16(reference());
  expect_same_as_reference<std::uint16_t, float>(codes, c4, r4, "bf16_to_f32 (streaming)", GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllPaths, ConvertPaths, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

}  // namespace
