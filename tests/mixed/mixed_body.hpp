// SPDX-License-Identifier: Apache-2.0
// tests/mixed/mixed_body.hpp: the calls both units of test_mixed_modes make, included by each (in an unnamed
// namespace, so that each unit keeps its own copy: the test must not depend on the ODR it checks).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <qmath/qmath.hpp>

#include "mixed/mixed_mode.hpp"

namespace {

#define QMATH_MIXED_STR2(x) #x
#define QMATH_MIXED_STR(x) QMATH_MIXED_STR2(x)

std::uint32_t bits(qmath::isa set) { return static_cast<std::uint32_t>(set); }

qmath_mixed::ModeReport run_mode_calls() {
  qmath_mixed::ModeReport r;
  r.mode = QMATH_MIXED_STR(QMATH_ABI_NS);
  r.compiled_isas = bits(qmath::kernels::compiled_isas());
  r.gemm_isas = bits(qmath::kernels::compiled_gemm_isas());
  r.gemm_path = bits(qmath::active_gemm_isa());

  // Deterministic data, with every sign and both ends of the int8 range.
  constexpr std::ptrdiff_t M = 5, N = 19, K = 37;
  std::vector<std::uint8_t> a(M * K);
  std::vector<std::int8_t> b(K * N);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>((i * 73 + 11) % 256);
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<std::int8_t>(static_cast<int>((i * 151 + 5) % 256) - 128);
  const std::int32_t za = 131, zb = -3;
  const qmath::PackedGemmB packed = qmath::pack_gemm_b(b.data(), K, N, N, qmath::gemm_b_order::k_by_n, &zb, 1);
  r.packed_path = bits(packed.path());
  r.gemm_c.assign(M * N, 0);
  qmath::gemm(qmath::GemmA<std::uint8_t>{a.data(), M, K, &za}, packed, qmath::GemmOutputInt32{r.gemm_c.data(), N});

  std::vector<float> w(N * K), x(M * K), bias(N);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i)) * 0.5f;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11f * static_cast<float>(i)) * 3.0f;
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = 0.01f * static_cast<float>(i);
  const qmath::DynamicQuantizedLinear linear(w.data(), N, K, bias.data());
  r.linear_path = bits(linear.packed_weights().path());
  r.linear_y.assign(M * N, 0.0f);
  linear.forward(x.data(), M, K, r.linear_y.data(), N);

  const qmath::TensorShape shape{{N, K}};
  const auto qp = qmath::choose_qparams<std::int8_t>(w.data(), shape, qmath::per_channel(0));
  r.codes.assign(w.size(), 0);
  qmath::quantize<std::int8_t>(w.data(), shape, qp, r.codes.data());
  const qmath::ErrorStats e = qmath::quantization_error(w.data(), shape, qp);
  r.error_mse = e.mse;
  r.error_sqnr_db = e.sqnr_db;
  r.error_max_abs = e.max_abs_error;
  return r;
}

}  // namespace
