// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_gemm_api.cpp: the int8 GEMM's preconditions: pack_gemm_b and gemm throw qmath::error, naming
// the bad argument, before anything is written to C; M = 0 is a no-op; gemm_max_k's values; packed weights that
// are copied, moved or shared by concurrent calls give the reference's result.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/core/error.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/gemm.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::gemm_b_order;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

/// Runs `call`, which must throw qmath::error whose message contains `needle` (so the intended check fired).
void expect_error(const std::function<void()>& call, const std::string& needle, const std::string& what) {
  try {
    call();
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << what << ": threw, but not for '" << needle << "': " << e.what();
    return;
  }
  ADD_FAILURE() << what << ": no qmath::error";
}

/// C with a sentinel in every element: the test checks that a rejected call left all of it alone.
template <class T>
struct Sentinel {
  std::vector<T> c;
  T fill;
  Sentinel(std::size_t size, T value) : c(size, value), fill(value) {}
  bool untouched() const {
    for (const T& v : c)
      if (std::memcmp(&v, &fill, sizeof(T)) != 0) return false;
    return true;
  }
};

/// A small valid problem, M x N x K = 3 x 5 x 7, packed for one path; each test breaks one argument.
struct Problem {
  static constexpr std::ptrdiff_t kM = 3, kN = 5, kK = 7, kLdc = 6;
  std::vector<std::uint8_t> a;
  std::vector<std::int8_t> a_signed;
  std::vector<std::int8_t> b;
  std::int32_t za = 3, zb = -2;
  qmath::PackedGemmB packed;

  explicit Problem(qmath::isa path) : a(kM * kK), a_signed(kM * kK), b(kK * kN) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i * 37 + 11);
    for (std::size_t i = 0; i < a_signed.size(); ++i) a_signed[i] = static_cast<std::int8_t>(i * 53 + 7);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::int8_t>(i * 71 + 5);
    packed = qmath::pack_gemm_b<std::int8_t>(b.data(), kK, kN, kN, gemm_b_order::k_by_n, &zb, 1, path);
  }
  qmath::GemmA<std::uint8_t> ga() const { return {a.data(), kM, kK, &za, 1}; }
  qmath::GemmA<std::int8_t> ga_signed() const { return {a_signed.data(), kM, kK, &za, 1}; }
  /// The reference C (int32), kM x kN, row-major.
  std::vector<std::int32_t> reference() const {
    std::vector<std::int32_t> c(kM * kN);
    qmath::kernels::ref::gemm_u8s8_i32<std::uint8_t, std::int8_t>(kM, kN, kK, a.data(), kK, &za, false, b.data(), kN, 1,
                                                                  &zb, false, c.data(), kN);
    return c;
  }
};

class GemmApi : public ::testing::TestWithParam<qmath::isa> {
 protected:
  void SetUp() override { QMATH_SKIP_IF_UNSUPPORTED(GetParam()); }
  qmath::isa path() const { return GetParam(); }
};

TEST_P(GemmApi, PackRejectsBadArguments) {
  const std::ptrdiff_t k = 7, n = 5;
  std::vector<std::int8_t> b(64, 1);
  std::vector<std::uint8_t> bu(64, 1);
  const std::int32_t zero = 0;
  const std::vector<std::int32_t> per_column(n, 0);
  auto pack = [&](std::ptrdiff_t kk, std::ptrdiff_t nn, std::ptrdiff_t ldb, gemm_b_order order, const std::int32_t* zp,
                  std::size_t count) {
    return [&, kk, nn, ldb, order, zp, count] {
      (void)qmath::pack_gemm_b<std::int8_t>(b.data(), kk, nn, ldb, order, zp, count, path());
    };
  };
  // The valid neighbours of the bad cases pack fine.
  EXPECT_NO_THROW(pack(k, n, n, gemm_b_order::k_by_n, &zero, 1)());
  EXPECT_NO_THROW(pack(k, n, k, gemm_b_order::n_by_k, per_column.data(), per_column.size())());

  expect_error(pack(0, n, n, gemm_b_order::k_by_n, &zero, 1), "K and N", "K = 0");
  expect_error(pack(k, 0, 1, gemm_b_order::k_by_n, &zero, 1), "K and N", "N = 0");
  expect_error(pack(-1, n, n, gemm_b_order::k_by_n, &zero, 1), "K and N", "K < 0");
  expect_error([&] { (void)qmath::pack_gemm_b<std::int8_t>(nullptr, k, n, n, gemm_b_order::k_by_n, &zero, 1, path()); },
               "null", "null weights");
  expect_error(pack(k, n, n - 1, gemm_b_order::k_by_n, &zero, 1), "ldb", "k_by_n, ldb < N");
  expect_error(pack(k, n, k - 1, gemm_b_order::n_by_k, &zero, 1), "ldb", "n_by_k, ldb < K");
  expect_error(pack(k, n, n, gemm_b_order::n_by_k, &zero, 1), "ldb", "n_by_k, ldb = N < K");
  expect_error(pack(k, n, n, gemm_b_order::k_by_n, nullptr, 1), "zero points", "null zero points");
  expect_error(pack(k, n, n, gemm_b_order::k_by_n, per_column.data(), 0), "zero points", "0 zero points");
  expect_error(pack(k, n, n, gemm_b_order::k_by_n, per_column.data(), 2), "zero points", "2 zero points");
  const std::vector<std::int32_t> too_many(n + 1, 0);
  expect_error(pack(k, n, n, gemm_b_order::k_by_n, too_many.data(), too_many.size()), "zero points",
               "N + 1 zero points");
  for (std::int32_t bad : {-129, 128, -100000, std::numeric_limits<std::int32_t>::min()}) {
    expect_error(pack(k, n, n, gemm_b_order::k_by_n, &bad, 1), "range", "int8 zero point " + std::to_string(bad));
    std::vector<std::int32_t> one_bad(n, 127);
    one_bad[n - 1] = bad;
    expect_error(pack(k, n, n, gemm_b_order::k_by_n, one_bad.data(), one_bad.size()), "range",
                 "last of N int8 zero points = " + std::to_string(bad));
  }
  for (std::int32_t bad : {-1, 256}) {
    expect_error(
        [&] { (void)qmath::pack_gemm_b<std::uint8_t>(bu.data(), k, n, n, gemm_b_order::k_by_n, &bad, 1, path()); },
        "range", "uint8 zero point " + std::to_string(bad));
  }
  for (std::int32_t good : {-128, 127})
    EXPECT_NO_THROW(pack(k, n, n, gemm_b_order::k_by_n, &good, 1)()) << "int8 zero point " << good;
  for (std::int32_t good : {0, 255})
    EXPECT_NO_THROW((void)qmath::pack_gemm_b<std::uint8_t>(bu.data(), k, n, n, gemm_b_order::k_by_n, &good, 1, path()))
        << "uint8 zero point " << good;
}

// Paths that are not compiled in (or are not a single path) cannot be packed for; paths compiled in but beyond
// this CPU neither, and gemm refuses weights packed for them.
TEST(GemmApiPaths, PackRejectsPathsNotCompiledOrNotSupported) {
  std::vector<std::int8_t> b(35, 1);
  const std::int32_t zero = 0;
  int not_compiled = 0;
  for (qmath::isa path : qmath::kAllIsas) {
    if (qmath::has(qmath::kernels::compiled_gemm_isas(), path)) continue;
    ++not_compiled;
    expect_error(
        [&] { (void)qmath::pack_gemm_b<std::int8_t>(b.data(), 7, 5, 5, gemm_b_order::k_by_n, &zero, 1, path); },
        "not compiled", std::string("path ") + qmath::isa_name(path));
  }
  EXPECT_GT(not_compiled, 0) << "avx512bf16 has no GEMM kernels, so some path is always missing";
  // Two paths at once is no path.
  const qmath::isa two = qmath::isa::scalar | qmath::isa::avx2;
  expect_error([&] { (void)qmath::pack_gemm_b<std::int8_t>(b.data(), 7, 5, 5, gemm_b_order::k_by_n, &zero, 1, two); },
               "not compiled", "scalar|avx2");
  int unsupported = 0;
  for (qmath::isa path : qmath_test::compiled_gemm_isa_list()) {
    if (qmath::has(qmath::supported_isas(), path)) continue;
    ++unsupported;
    expect_error(
        [&] { (void)qmath::pack_gemm_b<std::int8_t>(b.data(), 7, 5, 5, gemm_b_order::k_by_n, &zero, 1, path); },
        "cannot run", std::string("path ") + qmath::isa_name(path));
  }
  std::printf("[qmath] pack_gemm_b rejected %d paths not compiled in and %d compiled but beyond this CPU%s\n",
              not_compiled, unsupported,
              unsupported ? "" : " (none here: that check is not exercised on this machine)");
  // isa::none packs for the active path, which follows ScopedIsaOverride.
  EXPECT_EQ(qmath::pack_gemm_b<std::int8_t>(b.data(), 7, 5, 5, gemm_b_order::k_by_n, &zero, 1).path(),
            qmath::active_gemm_isa());
  {
    const qmath::ScopedIsaOverride only_scalar(qmath::isa::scalar);
    EXPECT_EQ(qmath::active_gemm_isa(), qmath::isa::scalar);
    EXPECT_EQ(qmath::pack_gemm_b<std::int8_t>(b.data(), 7, 5, 5, gemm_b_order::k_by_n, &zero, 1).path(),
              qmath::isa::scalar);
  }
}

TEST_P(GemmApi, GemmRejectsBadActivations) {
  const Problem p(path());
  Sentinel<std::int32_t> c(Problem::kM * Problem::kLdc, 0x5A5A5A5A);
  const qmath::GemmOutputInt32 out{c.c.data(), Problem::kLdc};
  auto with = [&](qmath::GemmA<std::uint8_t> a) { return [&p, &out, a] { qmath::gemm(a, p.packed, out); }; };
  qmath::GemmA<std::uint8_t> a = p.ga();
  a.ld = Problem::kK - 1;
  expect_error(with(a), "lda", "lda < K");
  a = p.ga();
  a.m = -1;
  expect_error(with(a), "M must be", "M < 0");
  a = p.ga();
  a.data = nullptr;
  expect_error(with(a), "null A", "null A");
  a = p.ga();
  a.zero_point = nullptr;
  expect_error(with(a), "zero point", "null A zero point");
  const std::vector<std::int32_t> rows(Problem::kM + 1, 0);
  for (std::size_t count : {std::size_t{0}, std::size_t{2}, std::size_t{Problem::kM + 1}}) {
    a = p.ga();
    a.zero_point = rows.data();
    a.zero_point_count = count;
    expect_error(with(a), "zero points", "A zero point count " + std::to_string(count));
  }
  for (std::int32_t bad : {-1, 256, 1 << 20}) {
    a = p.ga();
    a.zero_point = &bad;
    expect_error(with(a), "range", "uint8 A zero point " + std::to_string(bad));
    std::vector<std::int32_t> per_row(Problem::kM, 255);
    per_row[Problem::kM - 1] = bad;
    a.zero_point = per_row.data();
    a.zero_point_count = per_row.size();
    expect_error(with(a), "range", "last per-row uint8 A zero point " + std::to_string(bad));
  }
  for (std::int32_t bad : {-129, 128}) {
    qmath::GemmA<std::int8_t> as = p.ga_signed();
    as.zero_point = &bad;
    expect_error([&] { qmath::gemm(as, p.packed, out); }, "range", "int8 A zero point " + std::to_string(bad));
  }
  expect_error([&] { qmath::gemm(p.ga(), qmath::PackedGemmB{}, out); }, "not packed", "empty PackedGemmB");
  expect_error([&] { qmath::gemm(p.ga(), p.packed, out, qmath::GemmOptions{-1}); }, "threads", "threads = -1");
  EXPECT_TRUE(c.untouched()) << "a rejected call wrote to C";
  // The same calls with the valid values do run.
  EXPECT_NO_THROW(qmath::gemm(p.ga(), p.packed, out));
  EXPECT_FALSE(c.untouched());
}

TEST_P(GemmApi, GemmRejectsBadInt32Output) {
  const Problem p(path());
  Sentinel<std::int32_t> c(Problem::kM * Problem::kLdc, 0x5A5A5A5A);
  expect_error(
      [&] {
        qmath::gemm(p.ga(), p.packed, qmath::GemmOutputInt32{nullptr, Problem::kLdc});
      },
      "null C", "null C");
  expect_error(
      [&] {
        qmath::gemm(p.ga(), p.packed, qmath::GemmOutputInt32{c.c.data(), Problem::kN - 1});
      },
      "ldc", "ldc < N");
  EXPECT_TRUE(c.untouched()) << "a rejected call wrote to C";
}

// What both requantize stages reject alike: C and ldc, the output zero point outside Q, a clamp that is not an
// interval of Q.
template <class Q, class Out, class Run>
void check_common_requantize_rejections(const Out& good, const Run& run, const std::string& type) {
  const auto q_min = static_cast<std::int32_t>(qmath::int_traits<Q>::kMin);
  const auto q_max = static_cast<std::int32_t>(qmath::int_traits<Q>::kMax);
  Out o = good;
  o.c = nullptr;
  expect_error(run(o), "null C", type + " null C");
  o = good;
  o.ldc = Problem::kN - 1;
  expect_error(run(o), "ldc", type + " ldc < N");
  for (std::int32_t bad : {q_min - 1, q_max + 1}) {
    o = good;
    o.zero_point = bad;
    expect_error(run(o), "zero point", type + " output zero point " + std::to_string(bad));
  }
  const std::pair<std::int32_t, std::int32_t> bad_clamps[] = {{q_min + 10, q_min + 9}, {q_min + 1, q_min},
                                                              {q_min - 1, q_max},       {q_min, q_max + 1},
                                                              {q_max, q_min},           {q_max + 1, q_max + 2}};
  for (const auto& clamp : bad_clamps) {
    o = good;
    o.min = clamp.first;
    o.max = clamp.second;
    expect_error(run(o), "clamp",
                 type + " clamp [" + std::to_string(clamp.first) + ", " + std::to_string(clamp.second) + "]");
  }
}

template <class Q>
void check_requantize_rejections(const Problem& p) {
  Sentinel<Q> c(Problem::kM * Problem::kLdc, Q(0x5A));
  const std::vector<float> ones(Problem::kN + 1, 0.01f);
  using Out = qmath::GemmOutputRequantize<Q>;
  const Out good{c.c.data(), Problem::kLdc, ones.data(), 1};
  auto run = [&p](const Out& o) { return [&p, o] { qmath::gemm(p.ga(), p.packed, o); }; };
  const std::string type = qmath::int_traits<Q>::kName;
  const auto q_max = static_cast<std::int32_t>(qmath::int_traits<Q>::kMax);

  check_common_requantize_rejections<Q>(good, run, type);
  Out o = good;
  o.multiplier = nullptr;
  expect_error(run(o), "multiplier", type + " null multiplier");
  for (std::size_t count : {std::size_t{0}, std::size_t{2}, std::size_t{Problem::kN + 1}}) {
    o = good;
    o.multiplier_count = count;
    expect_error(run(o), "multiplier", type + " multiplier count " + std::to_string(count));
  }
  for (float bad : {0.0f, -0.0f, -0.5f, kNaN, -kNaN, kInf, -kInf}) {
    o = good;
    o.multiplier = &bad;
    expect_error(run(o), "multiplier", type + " multiplier " + std::to_string(bad));
    std::vector<float> per_column(Problem::kN, 0.25f);
    per_column[Problem::kN - 1] = bad;
    o.multiplier = per_column.data();
    o.multiplier_count = per_column.size();
    expect_error(run(o), "multiplier", type + " last per-column multiplier " + std::to_string(bad));
  }
  EXPECT_TRUE(c.untouched()) << type << ": a rejected call wrote to C";
  // Boundary values are accepted: a denormal multiplier, the ends of Q for the zero point, a one-code clamp.
  o = good;
  const float tiny = std::numeric_limits<float>::denorm_min();
  o.multiplier = &tiny;
  o.zero_point = q_max;
  o.min = o.max = q_max;
  EXPECT_NO_THROW(qmath::gemm(p.ga(), p.packed, o)) << type;
  for (std::ptrdiff_t i = 0; i < Problem::kM; ++i)
    for (std::ptrdiff_t j = 0; j < Problem::kN; ++j) EXPECT_EQ(+c.c[i * Problem::kLdc + j], q_max);
}

template <class Q>
void check_fixed_rejections(const Problem& p) {
  Sentinel<Q> c(Problem::kM * Problem::kLdc, Q(0x5A));
  const std::int32_t multiplier = 1 << 30;
  const int shift = -5;
  using Out = qmath::GemmOutputRequantizeFixed<Q>;
  const Out good{c.c.data(), Problem::kLdc, &multiplier, &shift, 1};
  auto run = [&p](const Out& o) { return [&p, o] { qmath::gemm(p.ga(), p.packed, o); }; };
  const std::string type = qmath::int_traits<Q>::kName;
  check_common_requantize_rejections<Q>(good, run, type);
  Out o = good;
  o.multiplier = nullptr;
  expect_error(run(o), "multiplier", type + " null multiplier");
  o = good;
  o.shift = nullptr;
  expect_error(run(o), "shift", type + " null shift");
  for (std::size_t count : {std::size_t{0}, std::size_t{2}, std::size_t{Problem::kN + 1}}) {
    o = good;
    o.multiplier_count = count;
    expect_error(run(o), "multiplier", type + " multiplier count " + std::to_string(count));
  }
  for (std::int32_t bad : {-1, std::numeric_limits<std::int32_t>::min()}) {
    o = good;
    o.multiplier = &bad;
    expect_error(run(o), "negative", type + " fixed multiplier " + std::to_string(bad));
  }
  for (int bad : {-32, 31, -1000, 1000}) {
    o = good;
    o.shift = &bad;
    expect_error(run(o), "shift", type + " shift " + std::to_string(bad));
    std::vector<std::int32_t> mults(Problem::kN, 1 << 30);
    std::vector<int> shifts(Problem::kN, 0);
    shifts[Problem::kN - 1] = bad;
    o.multiplier = mults.data();
    o.shift = shifts.data();
    o.multiplier_count = shifts.size();
    expect_error(run(o), "shift", type + " last per-column shift " + std::to_string(bad));
  }
  EXPECT_TRUE(c.untouched()) << type << ": a rejected call wrote to C";
  // Both ends of the shift range, and a zero multiplier, are accepted.
  for (int edge : {-31, 30}) {
    o = good;
    o.shift = &edge;
    EXPECT_NO_THROW(qmath::gemm(p.ga(), p.packed, o)) << type << " shift " << edge;
  }
  const std::int32_t zero = 0;
  o = good;
  o.multiplier = &zero;
  EXPECT_NO_THROW(qmath::gemm(p.ga(), p.packed, o)) << type << " zero multiplier";
}

TEST_P(GemmApi, GemmRejectsBadRequantizeOutput) {
  const Problem p(path());
  check_requantize_rejections<std::int8_t>(p);
  check_requantize_rejections<std::uint8_t>(p);
}

TEST_P(GemmApi, GemmRejectsBadFixedPointOutput) {
  const Problem p(path());
  check_fixed_rejections<std::int8_t>(p);
  check_fixed_rejections<std::uint8_t>(p);
}

TEST_P(GemmApi, GemmRejectsBadDequantizeOutput) {
  const Problem p(path());
  Sentinel<float> c(Problem::kM * Problem::kLdc, -7.25f);
  const std::vector<float> scales(Problem::kN + 1, 0.5f);
  using Out = qmath::GemmOutputDequantize;
  const Out good{c.c.data(), Problem::kLdc, scales.data(), 1, scales.data(), 1};
  auto run = [&p](const Out& o) { return [&p, o] { qmath::gemm(p.ga(), p.packed, o); }; };
  Out o = good;
  o.c = nullptr;
  expect_error(run(o), "null C", "null C");
  o = good;
  o.ldc = Problem::kN - 1;
  expect_error(run(o), "ldc", "ldc < N");
  o = good;
  o.a_scale = nullptr;
  expect_error(run(o), "a_scale", "null a_scale");
  o = good;
  o.b_scale = nullptr;
  expect_error(run(o), "b_scale", "null b_scale");
  for (std::size_t count : {std::size_t{0}, std::size_t{2}, std::size_t{Problem::kM + 1}}) {
    o = good;
    o.a_scale_count = count;
    expect_error(run(o), "a_scale", "a_scale count " + std::to_string(count));
  }
  for (std::size_t count : {std::size_t{0}, std::size_t{2}, std::size_t{Problem::kN + 1}}) {
    o = good;
    o.b_scale_count = count;
    expect_error(run(o), "b_scale", "b_scale count " + std::to_string(count));
  }
  for (float bad : {kNaN, kInf, -kInf}) {
    o = good;
    o.a_scale = &bad;
    expect_error(run(o), "a_scale", "a_scale " + std::to_string(bad));
    o = good;
    o.b_scale = &bad;
    expect_error(run(o), "b_scale", "b_scale " + std::to_string(bad));
    std::vector<float> per_row(Problem::kM, 1.0f), per_column(Problem::kN, 1.0f);
    per_row[Problem::kM - 1] = bad;
    per_column[Problem::kN - 1] = bad;
    o = good;
    o.a_scale = per_row.data();
    o.a_scale_count = per_row.size();
    expect_error(run(o), "a_scale", "last per-row a_scale " + std::to_string(bad));
    o = good;
    o.b_scale = per_column.data();
    o.b_scale_count = per_column.size();
    expect_error(run(o), "b_scale", "last per-column b_scale " + std::to_string(bad));
  }
  EXPECT_TRUE(c.untouched()) << "a rejected call wrote to C";
  // Zero and negative scales are finite, so they are accepted.
  const float zero = 0.0f, negative = -2.0f;
  o = good;
  o.a_scale = &zero;
  o.b_scale = &negative;
  EXPECT_NO_THROW(qmath::gemm(p.ga(), p.packed, o));
}

// M = 0: nothing to do, nothing written, no throw (even with no A at all); the output stage is still validated.
TEST_P(GemmApi, EmptyMIsANoOp) {
  const Problem p(path());
  qmath::GemmA<std::uint8_t> a = p.ga();
  a.m = 0;
  Sentinel<std::int32_t> c(Problem::kLdc, 0x5A5A5A5A);
  EXPECT_NO_THROW(qmath::gemm(a, p.packed, qmath::GemmOutputInt32{c.c.data(), Problem::kLdc}));
  a.data = nullptr;
  EXPECT_NO_THROW(qmath::gemm(a, p.packed, qmath::GemmOutputInt32{c.c.data(), Problem::kLdc}));
  const float multiplier = 0.01f, scale = 1.0f;
  Sentinel<std::uint8_t> q(Problem::kLdc, 0x5A);
  EXPECT_NO_THROW(
      qmath::gemm(a, p.packed, qmath::GemmOutputRequantize<std::uint8_t>{q.c.data(), Problem::kLdc, &multiplier, 1}));
  const std::int32_t fixed = 1 << 30;
  const int shift = -3;
  EXPECT_NO_THROW(qmath::gemm(
      a, p.packed, qmath::GemmOutputRequantizeFixed<std::uint8_t>{q.c.data(), Problem::kLdc, &fixed, &shift, 1}));
  Sentinel<float> f(Problem::kLdc, -7.25f);
  EXPECT_NO_THROW(
      qmath::gemm(a, p.packed, qmath::GemmOutputDequantize{f.c.data(), Problem::kLdc, &scale, 1, &scale, 1}));
  EXPECT_TRUE(c.untouched());
  EXPECT_TRUE(q.untouched());
  EXPECT_TRUE(f.untouched());
  expect_error(
      [&] {
        qmath::gemm(a, p.packed, qmath::GemmOutputInt32{c.c.data(), Problem::kN - 1});
      },
      "ldc", "M = 0 with ldc < N");
}

// K one past the bound throws before writing; at the bound it runs.
TEST_P(GemmApi, KBeyondTheBoundThrows) {
  const std::ptrdiff_t n = 2;
  for (std::ptrdiff_t k : {std::ptrdiff_t{33025}, std::ptrdiff_t{33026}}) {
    std::vector<std::int8_t> b(static_cast<std::size_t>(k * n), -128);
    std::vector<std::uint8_t> a(static_cast<std::size_t>(k), 255);
    const std::int32_t za = 0, zb = 127;
    const qmath::PackedGemmB packed =
        qmath::pack_gemm_b<std::int8_t>(b.data(), k, n, n, gemm_b_order::k_by_n, &zb, 1, path());
    EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(&za, 1, packed), 33025);
    Sentinel<std::int32_t> c(static_cast<std::size_t>(n), 0x5A5A5A5A);
    const auto call = [&] {
      qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), 1, k, &za, 1}, packed, qmath::GemmOutputInt32{c.c.data(), n});
    };
    if (k == 33026) {
      expect_error(call, "exceeds", "K = 33026");
      EXPECT_TRUE(c.untouched());
    } else {
      EXPECT_NO_THROW(call());
      EXPECT_EQ(c.c[0], -33025 * 255 * 255);
      EXPECT_EQ(c.c[1], -33025 * 255 * 255);
    }
  }
}

TEST_P(GemmApi, MaxKValues) {
  std::vector<std::int8_t> b(4, 0);
  std::vector<std::uint8_t> bu(4, 0);
  auto packed_s8 = [&](std::int32_t zb) {
    return qmath::pack_gemm_b<std::int8_t>(b.data(), 2, 2, 2, gemm_b_order::k_by_n, &zb, 1, path());
  };
  auto packed_u8 = [&](std::int32_t zb) {
    return qmath::pack_gemm_b<std::uint8_t>(bu.data(), 2, 2, 2, gemm_b_order::k_by_n, &zb, 1, path());
  };
  // da = db = 255: zero points at the ends.
  for (std::int32_t za : {0, 255})
    for (std::int32_t zb : {-128, 127}) EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(&za, 1, packed_s8(zb)), 33025);
  for (std::int32_t za : {-128, 127})
    for (std::int32_t zb : {0, 255}) EXPECT_EQ(qmath::gemm_max_k<std::int8_t>(&za, 1, packed_u8(zb)), 33025);
  // Symmetric weights: zb = 0 (int8) or 128 (uint8) gives db = 128.
  for (std::int32_t za : {0, 255}) {
    EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(&za, 1, packed_s8(0)), 65793);
    EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(&za, 1, packed_u8(128)), 65793);
  }
  const std::int32_t za_s8 = -128;
  EXPECT_EQ(qmath::gemm_max_k<std::int8_t>(&za_s8, 1, packed_s8(0)), 65793);
  // Centred on both sides: 128 * 128.
  for (std::int32_t za : {127, 128}) EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(&za, 1, packed_s8(0)), 131071);
  // Per row and per column: the worst entry decides.
  const std::int32_t rows[] = {128, 128, 0};
  EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(rows, 2, packed_s8(0)), 131071);
  EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(rows, 3, packed_s8(0)), 65793);
  const std::int32_t columns[] = {0, -128};
  const qmath::PackedGemmB per_column =
      qmath::pack_gemm_b<std::int8_t>(b.data(), 2, 2, 2, gemm_b_order::k_by_n, columns, 2, path());
  EXPECT_EQ(per_column.max_b_distance(), 255);
  EXPECT_EQ(qmath::gemm_max_k<std::uint8_t>(rows, 3, per_column), 33025);
}

// PackedGemmB is a value: copies and moved-to objects give the same result, and one packing may serve several
// concurrent gemm() calls.
TEST_P(GemmApi, PackedWeightsCopyMoveAndShare) {
  const Problem p(path());
  const std::vector<std::int32_t> want = p.reference();
  auto compute = [&p](const qmath::PackedGemmB& packed) {
    std::vector<std::int32_t> c(Problem::kM * Problem::kN, -1);
    qmath::gemm(p.ga(), packed, qmath::GemmOutputInt32{c.data(), Problem::kN});
    return c;
  };
  EXPECT_EQ(compute(p.packed), want);
  qmath::PackedGemmB copy = p.packed;
  EXPECT_EQ(compute(copy), want);
  qmath::PackedGemmB assigned;
  assigned = copy;
  EXPECT_EQ(compute(assigned), want);
  qmath::PackedGemmB moved = std::move(copy);
  EXPECT_EQ(compute(moved), want);
  EXPECT_EQ(moved.path(), path());

  std::vector<std::vector<std::int32_t>> results(4);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < results.size(); ++t)
    pool.emplace_back([&, t] {
      for (int repeat = 0; repeat < 50; ++repeat) results[t] = compute(p.packed);
    });
  for (std::thread& t : pool) t.join();
  for (const auto& r : results) EXPECT_EQ(r, want);
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmApi, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

}  // namespace
