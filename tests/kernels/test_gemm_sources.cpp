// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_gemm_sources.cpp: the GEMM's A sources and its resource limits.
// - GemmAF32 (fp32 quantized while packed) is bit for bit "quantize<uint8_t>, then the uint8 GEMM" on every path:
//   per tensor and per row parameters, zero points at both ends, NaN, +-Inf, values far outside the range, ties,
//   shapes around the tiles and K slices, every output stage, threads.
// - A thread count the system cannot honour and sizes beyond the address space are errors or documented results,
//   never a crash.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <gtest/gtest.h>

#include "qmath/core/error.hpp"
#include "qmath/gemm.hpp"
#include "qmath/kernels/ref/pack.hpp"
#include "qmath/quant/quantize.hpp"
#include "support/gemm_tester.hpp"

namespace {

using qmath::isa;

// fp32 values that exercise the quantizer: ordinary values, exact ties of x / scale, NaN, infinities, values far
// beyond the code range, zeros of both signs.
std::vector<float> nasty_inputs(std::size_t count, float scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> normal(-130.0f, 130.0f);
  std::vector<float> x(count);
  for (float& v : x) {
    switch (rng() % 12) {
      case 0: v = std::numeric_limits<float>::quiet_NaN(); break;
      case 1: v = (rng() & 1) ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity(); break;
      case 2: v = (rng() & 1) ? 3.0e38f : -3.0e38f; break;
      case 3: v = (static_cast<float>(static_cast<int>(rng() % 512) - 256) + 0.5f) * scale; break;  // a tie
      case 4: v = (rng() & 1) ? 0.0f : -0.0f; break;
      default: v = normal(rng) * scale; break;
    }
  }
  return x;
}

struct Case {
  std::ptrdiff_t m, n, k, ldx;
  bool per_row;
  std::uint64_t seed;
};

std::string describe(const Case& c, isa path) {
  return "m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " ldx=" + std::to_string(c.ldx) + " per_row=" + std::to_string(c.per_row) + " seed=" +
         std::to_string(c.seed) + " path=" + qmath::isa_name(path);
}

// Runs GemmAF32 and "quantize, then GemmA<uint8_t>" with the same parameters and compares the int32 and the
// dequantized outputs bit for bit.
void check_f32_source(const Case& c, isa path, int threads) {
  std::mt19937_64 rng(c.seed);
  const std::size_t slots = c.per_row ? static_cast<std::size_t>(c.m) : 1;
  std::vector<float> scale(slots);
  std::vector<std::int32_t> zp(slots);
  for (std::size_t s = 0; s < slots; ++s) {
    scale[s] = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 12));
    const int pick = static_cast<int>(rng() % 4);
    zp[s] = pick == 0 ? 0 : pick == 1 ? 255 : static_cast<std::int32_t>(rng() % 256);
  }
  std::vector<float> x(static_cast<std::size_t>(c.m * c.ldx));
  for (std::ptrdiff_t r = 0; r < c.m; ++r) {
    const std::vector<float> row = nasty_inputs(static_cast<std::size_t>(c.ldx), scale[c.per_row ? r : 0], rng);
    std::copy(row.begin(), row.end(), x.begin() + r * c.ldx);
  }
  std::vector<std::int8_t> w(static_cast<std::size_t>(c.n * c.k));
  for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
  const std::int32_t zb = 0;
  const qmath::PackedGemmB packed =
      qmath::pack_gemm_b(w.data(), c.k, c.n, c.k, qmath::gemm_b_order::n_by_k, &zb, 1, path);

  // The reference: the library's quantize<uint8_t>, row by row, then the uint8 GEMM.
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(c.m * c.k));
  for (std::ptrdiff_t r = 0; r < c.m; ++r) {
    const std::size_t s = c.per_row ? static_cast<std::size_t>(r) : 0;
    qmath::quantize<std::uint8_t>(x.data() + r * c.ldx, static_cast<std::size_t>(c.k),
                                  qmath::make_qparams<std::uint8_t>(scale[s], zp[s]), codes.data() + r * c.k);
  }
  const qmath::GemmOptions options{threads};
  std::vector<std::int32_t> want(static_cast<std::size_t>(c.m * c.n)), got(want.size(), -7);
  qmath::gemm(qmath::GemmA<std::uint8_t>{codes.data(), c.m, c.k, zp.data(), slots}, packed,
              qmath::GemmOutputInt32{want.data(), c.n}, options);
  qmath::gemm(qmath::GemmAF32{x.data(), c.m, c.ldx, scale.data(), zp.data(), slots}, packed,
              qmath::GemmOutputInt32{got.data(), c.n}, options);
  ASSERT_EQ(want, got) << describe(c, path);

  std::vector<float> b_scale(static_cast<std::size_t>(c.n)), bias(static_cast<std::size_t>(c.n));
  for (std::size_t i = 0; i < b_scale.size(); ++i) {
    b_scale[i] = 0.001f * static_cast<float>(1 + i % 7);
    bias[i] = static_cast<float>(i % 5) - 2.0f;
  }
  std::vector<float> want_y(want.size()), got_y(want.size(), -1.0f);
  qmath::gemm(qmath::GemmA<std::uint8_t>{codes.data(), c.m, c.k, zp.data(), slots}, packed,
              qmath::GemmOutputDequantize{want_y.data(), c.n, scale.data(), slots, b_scale.data(), b_scale.size(),
                                          bias.data()},
              options);
  qmath::gemm(qmath::GemmAF32{x.data(), c.m, c.ldx, scale.data(), zp.data(), slots}, packed,
              qmath::GemmOutputDequantize{got_y.data(), c.n, scale.data(), slots, b_scale.data(), b_scale.size(),
                                          bias.data()},
              options);
  for (std::size_t i = 0; i < want_y.size(); ++i)
    ASSERT_EQ(std::memcmp(&want_y[i], &got_y[i], sizeof(float)), 0) << "element " << i << ": " << describe(c, path);
}

class GemmSource : public ::testing::TestWithParam<isa> {
 protected:
  void SetUp() override {
    if (!qmath::has(qmath::supported_isas(), GetParam()))
      GTEST_SKIP() << qmath::isa_name(GetParam()) << " is compiled in but this CPU cannot run it";
    layout_ = qmath::kernels::gemm_kernels(GetParam())->layout;
  }
  qmath::kernels::GemmLayout layout_{};
};

TEST_P(GemmSource, F32IsQuantizeThenPack) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr, kr = layout_.kr;
  std::uint64_t seed = 1;
  // Shapes around one and two tiles, K around the packer's 512-value chunks and the K slices.
  const std::ptrdiff_t slice = layout_.k_slice_groups > 0 ? layout_.k_slice_groups * kr : 300;
  for (std::ptrdiff_t m : {std::ptrdiff_t{1}, std::ptrdiff_t{2}, std::ptrdiff_t{4}, mr, mr + 1, 2 * mr + 3})
    for (std::ptrdiff_t k : {std::ptrdiff_t{1}, kr + 1, std::ptrdiff_t{511}, std::ptrdiff_t{512},
                             std::ptrdiff_t{513}, slice + 1})
      for (bool per_row : {false, true}) {
        const auto salt = static_cast<std::ptrdiff_t>(seed % 15);
        const Case c{m, (salt % 3) * nr + 1 + salt % 5, k, k + salt % 3, per_row, seed};
        ++seed;
        ASSERT_NO_FATAL_FAILURE(check_f32_source(c, GetParam(), 1));
      }
}

TEST_P(GemmSource, F32ThreadsAndLargeShapes) {
  const std::ptrdiff_t mr = layout_.mr, nr = layout_.nr;
  for (int threads : {1, 2, 3})
    for (bool per_row : {false, true}) {
      const Case c{40 * mr + 5, 9 * nr + 3, 1100, 1107, per_row, 500u + static_cast<std::uint64_t>(threads)};
      ASSERT_NO_FATAL_FAILURE(check_f32_source(c, GetParam(), threads));
    }
}

TEST_P(GemmSource, F32BadParameters) {
  const std::int8_t w[4] = {1, 2, 3, 4};
  const std::int32_t zb = 0;
  const qmath::PackedGemmB packed = qmath::pack_gemm_b(w, 2, 2, 2, qmath::gemm_b_order::k_by_n, &zb, 1, GetParam());
  const float x[4] = {1, 2, 3, 4};
  std::int32_t c[4] = {-1, -1, -1, -1};
  const qmath::GemmOutputInt32 out{c, 2};
  const float good_scale = 0.5f;
  const std::int32_t good_zp = 3;
  for (float scale : {0.0f, -1.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                      std::numeric_limits<float>::denorm_min()}) {
    EXPECT_THROW(qmath::gemm(qmath::GemmAF32{x, 2, 2, &scale, &good_zp, 1}, packed, out), qmath::error) << scale;
  }
  for (std::int32_t zp : {-1, 256}) {
    EXPECT_THROW(qmath::gemm(qmath::GemmAF32{x, 2, 2, &good_scale, &zp, 1}, packed, out), qmath::error) << zp;
  }
  EXPECT_THROW(qmath::gemm(qmath::GemmAF32{x, 2, 2, &good_scale, &good_zp, 3}, packed, out), qmath::error);
  EXPECT_THROW(qmath::gemm(qmath::GemmAF32{x, 2, 1, &good_scale, &good_zp, 1}, packed, out), qmath::error);
  EXPECT_THROW(qmath::gemm(qmath::GemmAF32{nullptr, 2, 2, &good_scale, &good_zp, 1}, packed, out), qmath::error);
  EXPECT_THROW(qmath::gemm(qmath::GemmAF32{x, 2, 2, nullptr, &good_zp, 1}, packed, out), qmath::error);
  for (std::int32_t v : c) EXPECT_EQ(v, -1) << "C was written before an error";
}

// The dynamic-quantization range kernel of every path against the reference, bit for bit (signed zeros
// included): NaN skipped, infinities kept, every length up to four batches and past, starting ranges of both
// signs.
TEST_P(GemmSource, RangeMatchesTheReference) {
  const qmath::kernels::GemmKernels& kernels = *qmath::kernels::gemm_kernels(GetParam());
  std::mt19937_64 rng(77);
  for (std::ptrdiff_t n = 0; n <= 200; ++n)
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> x = nasty_inputs(static_cast<std::size_t>(n), 0.01f, rng);
      if (trial == 3)
        for (float& v : x) v = std::isnan(v) ? v : std::fabs(v) + 1.0f;  // all positive: lo stays where it starts
      const float start_lo = trial % 2 ? -0.0f : 0.5f, start_hi = trial % 2 ? 0.0f : 0.75f;
      float want_lo = start_lo, want_hi = start_hi, got_lo = start_lo, got_hi = start_hi;
      qmath::kernels::ref::range_f32(x.data(), n, &want_lo, &want_hi);
      kernels.range_f32(x.data(), n, &got_lo, &got_hi);
      ASSERT_EQ(std::memcmp(&want_lo, &got_lo, 4), 0) << "n=" << n << " trial=" << trial << " " << want_lo << " " << got_lo;
      ASSERT_EQ(std::memcmp(&want_hi, &got_hi, 4), 0) << "n=" << n << " trial=" << trial << " " << want_hi << " " << got_hi;
    }
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmSource, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

// Sizes computed from caller values are checked: M, K or N near PTRDIFF_MAX is a qmath::error, not a write past
// qmath's scratch or a std::length_error.
TEST(GemmLimits, SizesBeyondTheAddressSpace) {
  const std::int8_t w[4] = {1, 2, 3, 4};
  const std::uint8_t a[4] = {1, 2, 3, 4};
  const std::int32_t z = 0;
  constexpr std::ptrdiff_t kHuge = std::numeric_limits<std::ptrdiff_t>::max();
  EXPECT_THROW(qmath::pack_gemm_b(w, kHuge, 1, kHuge, qmath::gemm_b_order::n_by_k, &z, 1), qmath::error);
  EXPECT_THROW(qmath::pack_gemm_b(w, 1, kHuge, kHuge, qmath::gemm_b_order::k_by_n, &z, 1), qmath::error);
  EXPECT_THROW(qmath::pack_gemm_b(w, kHuge / 2, 3, kHuge / 2, qmath::gemm_b_order::n_by_k, &z, 1), qmath::error);
  const qmath::PackedGemmB packed = qmath::pack_gemm_b(w, 4, 1, 4, qmath::gemm_b_order::n_by_k, &z, 1);
  std::int32_t c[4] = {-1, -1, -1, -1};
  EXPECT_THROW(qmath::gemm(qmath::GemmA<std::uint8_t>{a, kHuge, 4, &z}, packed, qmath::GemmOutputInt32{c, 1}),
               qmath::error);
  EXPECT_THROW(qmath::gemm(qmath::GemmA<std::uint8_t>{a, kHuge / 8, 4, &z}, packed, qmath::GemmOutputInt32{c, 1}),
               qmath::error);
  EXPECT_THROW(qmath::gemm(qmath::GemmA<std::uint8_t>{a, 2, kHuge, &z}, packed, qmath::GemmOutputInt32{c, 1}),
               qmath::error);
  EXPECT_THROW(qmath::gemm(qmath::GemmA<std::uint8_t>{a, 2, 4, &z}, packed, qmath::GemmOutputInt32{c, kHuge}),
               qmath::error);
  for (std::int32_t v : c) EXPECT_EQ(v, -1) << "C was written before an error";
}

#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define QMATH_CAN_LIMIT_ADDRESS_SPACE 1
#endif

// 128 threads under an address-space limit that leaves room for only a few thread stacks: the threads that cannot
// be created are not used, and the result equals the one-thread result (in a child process, so the limit does
// not touch the rest of the suite).
TEST(GemmLimits, MoreThreadsThanTheSystemGives) {
#if defined(QMATH_CAN_LIMIT_ADDRESS_SPACE)
  const std::ptrdiff_t m = 20000, k = 64, n = 64;
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m * k));
  std::vector<std::int8_t> w(static_cast<std::size_t>(k * n));
  std::mt19937 rng(5);
  for (auto& v : a) v = static_cast<std::uint8_t>(rng());
  for (auto& v : w) v = static_cast<std::int8_t>(rng());
  const std::int32_t za = 3, zb = 0;
  const qmath::PackedGemmB packed = qmath::pack_gemm_b(w.data(), k, n, n, qmath::gemm_b_order::k_by_n, &zb, 1);
  std::vector<std::int32_t> one(static_cast<std::size_t>(m * n)), many(one.size(), -1);
  qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), m, k, &za}, packed, qmath::GemmOutputInt32{one.data(), n},
              qmath::GemmOptions{1});
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // About 60 MiB above what the process maps now: room for a few 8 MiB thread stacks, not for 127.
    rlimit limit{};
    std::FILE* status = std::fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (status == nullptr || std::fscanf(status, "%lu", &pages) != 1) _exit(3);
    std::fclose(status);
    limit.rlim_cur = limit.rlim_max = pages * static_cast<unsigned long>(sysconf(_SC_PAGESIZE)) + (60ul << 20);
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(4);
    try {
      qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), m, k, &za}, packed, qmath::GemmOutputInt32{many.data(), n},
                  qmath::GemmOptions{128});
    } catch (const qmath::error&) {
      _exit(5);  // acceptable too, if nothing was written; but a result is better: flag it
    }
    _exit(many == one ? 0 : 6);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died (signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3/4: the limit could not be set; 5: qmath::error; 6: a different result";
#else
  GTEST_SKIP() << "needs Linux without AddressSanitizer (an address-space limit breaks ASan's shadow memory)";
#endif
}

}  // namespace
