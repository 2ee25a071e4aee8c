// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_gemm_allocations.cpp: a gemm() call whose arguments pass the checks allocates nothing once its
// thread's scratch has grown to the call's size (the checks build their messages only when they fail). Its own
// executable: it replaces the global operator new to count allocations.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/gemm.hpp"
#include "qmath/nn/dynamic_linear.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// The replacements pair malloc with free; GCC sees new paired with free once they are inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

template <class Call>
long allocations_of(const Call& call) {
  const long before = g_allocations.load();
  call();
  return g_allocations.load() - before;
}

TEST(GemmAllocations, ChecksThatPassAllocateNothing) {
  const std::ptrdiff_t m = 37, n = 70, k = 300;
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m * k), 7);
  std::vector<float> x(static_cast<std::size_t>(m * k), 0.25f);
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * k), -3);
  std::vector<std::int32_t> c32(static_cast<std::size_t>(m * n));
  std::vector<std::int8_t> c8(static_cast<std::size_t>(m * n));
  std::vector<float> y(static_cast<std::size_t>(m * n)), multipliers(static_cast<std::size_t>(n), 0.001f),
      scales(static_cast<std::size_t>(m), 0.01f), b_scales(static_cast<std::size_t>(n), 0.02f);
  std::vector<std::int32_t> zero_points(static_cast<std::size_t>(m), 3), bias(static_cast<std::size_t>(n), 5);
  const std::int32_t za = 3, zb = 0;
  const qmath::PackedGemmB packed = qmath::pack_gemm_b(w.data(), k, n, k, qmath::gemm_b_order::n_by_k, &zb, 1);
  const qmath::GemmOptions one_thread{1};
  auto calls = [&] {
    qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), m, k, &za}, packed, qmath::GemmOutputInt32{c32.data(), n},
                one_thread);
    qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), m, k, zero_points.data(), static_cast<std::size_t>(m)}, packed,
                qmath::GemmOutputRequantize<std::int8_t>{c8.data(), n, multipliers.data(), multipliers.size(), -2,
                                                         bias.data()},
                one_thread);
    qmath::gemm(qmath::GemmAF32{x.data(), m, k, scales.data(), zero_points.data(), static_cast<std::size_t>(m)}, packed,
                qmath::GemmOutputDequantize{y.data(), n, scales.data(), scales.size(), b_scales.data(),
                                            b_scales.size()},
                one_thread);
  };
  calls();  // grows this thread's scratch
  EXPECT_EQ(allocations_of(calls), 0) << "gemm() allocated on a call whose checks pass";
  // A failing check does allocate (its message): the counter works.
  EXPECT_GT(allocations_of([&] {
              try {
                qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), m, k - 1, &za}, packed,
                            qmath::GemmOutputInt32{c32.data(), n}, one_thread);
              } catch (const qmath::error&) {
              }
            }),
            0);
}

TEST(GemmAllocations, DynamicLinearForwardPerTensor) {
  const std::ptrdiff_t rows = 9, in = 64, out = 48;
  std::vector<float> weight(static_cast<std::size_t>(out * in), 0.5f), x(static_cast<std::size_t>(rows * in), 1.5f),
      y(static_cast<std::size_t>(rows * out));
  const qmath::DynamicQuantizedLinear linear(weight.data(), out, in, nullptr);
  linear.forward(x.data(), rows, in, y.data(), out, qmath::DynamicLinearOptions{false, 1});
  EXPECT_EQ(allocations_of([&] { linear.forward(x.data(), rows, in, y.data(), out, qmath::DynamicLinearOptions{false, 1}); }), 0);
}

}  // namespace
