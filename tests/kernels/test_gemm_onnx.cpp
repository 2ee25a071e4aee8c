// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_gemm_onnx.cpp: the ONNX conformance vectors of MatMulInteger and QLinearMatMul (2D and 3D,
// int8 and uint8, float32 and float16 scales) through qmath::gemm on every GEMM path this CPU runs, with B given
// both K x N (ONNX's layout) and transposed (N x K).
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/format/fp16.hpp"
#include "qmath/gemm.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"
#include "support/onnx_vectors.hpp"

namespace {

using qmath::gemm_b_order;
using qmath_test::OnnxTensor;
using qmath_test::OnnxTest;

const char* const kQLinearMatMulTests[] = {
    "test_qlinearmatmul_2D_int8_float16",  "test_qlinearmatmul_2D_int8_float32", "test_qlinearmatmul_2D_uint8_float16",
    "test_qlinearmatmul_2D_uint8_float32", "test_qlinearmatmul_3D_int8_float16", "test_qlinearmatmul_3D_int8_float32",
    "test_qlinearmatmul_3D_uint8_float16", "test_qlinearmatmul_3D_uint8_float32"};

/// A float32 or float16 scalar tensor as float (float16 widens exactly).
float scalar_scale(const OnnxTensor& t) {
  if (t.dtype == "float16") return qmath::f16_bits_to_f32(qmath_test::as_vector<std::uint16_t>(t).at(0));
  EXPECT_EQ(t.dtype, "float32");
  return qmath_test::as_vector<float>(t).at(0);
}

/// An int8 / uint8 tensor's values as int32.
std::vector<std::int32_t> codes(const OnnxTensor& t) {
  std::vector<std::int32_t> v;
  if (t.dtype == "int8")
    for (std::int8_t x : qmath_test::as_vector<std::int8_t>(t)) v.push_back(x);
  else if (t.dtype == "uint8")
    for (std::uint8_t x : qmath_test::as_vector<std::uint8_t>(t)) v.push_back(x);
  else
    ADD_FAILURE() << "unexpected element type " << t.dtype;
  return v;
}

template <class T>
std::vector<T> narrow(const std::vector<std::int32_t>& v) {
  return std::vector<T>(v.begin(), v.end());
}

/// Shapes [..., M, K] x [..., K, N]: the matrix sizes and how many batches each operand has (1: broadcast).
struct MatMulShape {
  std::int64_t m = 0, k = 0, n = 0, a_batches = 1, b_batches = 1;
};
MatMulShape matmul_shape(const OnnxTensor& a, const OnnxTensor& b) {
  MatMulShape s;
  s.m = a.shape.at(a.shape.size() - 2);
  s.k = a.shape.back();
  s.n = b.shape.back();
  EXPECT_EQ(b.shape.at(b.shape.size() - 2), s.k);
  for (std::size_t i = 0; i + 2 < a.shape.size(); ++i) s.a_batches *= a.shape[i];
  for (std::size_t i = 0; i + 2 < b.shape.size(); ++i) s.b_batches *= b.shape[i];
  return s;
}

/// Packs batch `batch` of B (K x N, row-major) for `path`, as given or transposed to N x K first.
template <class TB>
qmath::PackedGemmB pack_batch(const std::vector<TB>& b, const MatMulShape& s, std::int64_t batch, std::int32_t zb,
                              gemm_b_order order, qmath::isa path) {
  const TB* base = b.data() + (s.b_batches == 1 ? 0 : batch) * s.k * s.n;
  if (order == gemm_b_order::k_by_n) return qmath::pack_gemm_b<TB>(base, s.k, s.n, s.n, order, &zb, 1, path);
  std::vector<TB> transposed(static_cast<std::size_t>(s.k * s.n));
  for (std::int64_t p = 0; p < s.k; ++p)
    for (std::int64_t j = 0; j < s.n; ++j) transposed[static_cast<std::size_t>(j * s.k + p)] = base[p * s.n + j];
  return qmath::pack_gemm_b<TB>(transposed.data(), s.k, s.n, s.k, order, &zb, 1, path);
}

class GemmOnnx : public ::testing::TestWithParam<qmath::isa> {
 protected:
  void SetUp() override {
    QMATH_SKIP_IF_UNSUPPORTED(GetParam());
    if (!qmath_test::file_exists(qmath_test::onnx_dir() + "/node/test_matmulinteger/test.txt"))
      GTEST_SKIP() << "ONNX conformance vectors not found under " << qmath_test::onnx_dir()
                   << " (../shared absent?): MatMulInteger / QLinearMatMul conformance NOT tested";
  }
  qmath::isa path() const { return GetParam(); }
};

// MatMulInteger: uint8 A and B with zero points, int32 Y = (A - za)(B - zb). uint8 B goes through
// pack_gemm_b<uint8_t>.
TEST_P(GemmOnnx, MatMulInteger) {
  OnnxTest t;
  ASSERT_TRUE(qmath_test::load_onnx_test("node", "test_matmulinteger", t));
  ASSERT_EQ(t.op, "MatMulInteger");
  ASSERT_EQ(t.inputs.at(0).dtype, "uint8");
  ASSERT_EQ(t.inputs.at(1).dtype, "uint8");
  const MatMulShape s = matmul_shape(t.inputs.at(0), t.inputs.at(1));
  const auto a = narrow<std::uint8_t>(codes(t.inputs.at(0)));
  const auto b = narrow<std::uint8_t>(codes(t.inputs.at(1)));
  const std::int32_t za = codes(t.inputs.at(2)).at(0), zb = codes(t.inputs.at(3)).at(0);
  const std::vector<std::int32_t> want = qmath_test::as_vector<std::int32_t>(t.outputs.at(0));
  ASSERT_EQ(want.size(), static_cast<std::size_t>(s.a_batches * s.m * s.n));
  for (gemm_b_order order : {gemm_b_order::k_by_n, gemm_b_order::n_by_k})
    for (std::int64_t batch = 0; batch < s.a_batches; ++batch) {
      const qmath::PackedGemmB packed = pack_batch(b, s, batch, zb, order, path());
      ASSERT_EQ(packed.path(), path());
      std::vector<std::int32_t> y(static_cast<std::size_t>(s.m * s.n), -1);
      qmath::gemm(qmath::GemmA<std::uint8_t>{a.data() + batch * s.m * s.k, s.m, s.k, &za, 1}, packed,
                  qmath::GemmOutputInt32{y.data(), s.n});
      for (std::int64_t i = 0; i < s.m * s.n; ++i)
        EXPECT_EQ(y[static_cast<std::size_t>(i)], want[static_cast<std::size_t>(batch * s.m * s.n + i)])
            << "test_matmulinteger on " << qmath::isa_name(path()) << ", batch " << batch << ", element " << i
            << (order == gemm_b_order::n_by_k ? " (B transposed)" : "");
    }
}

template <class TA, class TB, class Q>
void run_qlinearmatmul(const OnnxTest& t, const std::string& name, qmath::isa path) {
  const MatMulShape s = matmul_shape(t.inputs.at(0), t.inputs.at(3));
  const auto a = narrow<TA>(codes(t.inputs.at(0)));
  const auto b = narrow<TB>(codes(t.inputs.at(3)));
  const std::int32_t za = codes(t.inputs.at(2)).at(0), zb = codes(t.inputs.at(5)).at(0);
  const std::int32_t zy = codes(t.inputs.at(7)).at(0);
  const float a_scale = scalar_scale(t.inputs.at(1)), b_scale = scalar_scale(t.inputs.at(4));
  const float y_scale = scalar_scale(t.inputs.at(6));
  // ONNX's reference computes C * (a_scale * b_scale / y_scale), left to right; we do the same in float (float16
  // scales widened first) and requantize with it. All 8 vectors are reproduced exactly by this multiplier, but
  // equally by a_scale * (b_scale / y_scale), by the exact quotient rounded once to float, and even by float16
  // arithmetic: the scaled accumulators all lie at least 0.05 from a rounding tie, so the vectors do not
  // discriminate between these formulations.
  const float multiplier = a_scale * b_scale / y_scale;
  const std::vector<std::int32_t> want = codes(t.outputs.at(0));
  ASSERT_EQ(want.size(), static_cast<std::size_t>(s.a_batches * s.m * s.n)) << name;
  for (gemm_b_order order : {gemm_b_order::k_by_n, gemm_b_order::n_by_k})
    for (std::int64_t batch = 0; batch < s.a_batches; ++batch) {
      const qmath::PackedGemmB packed = pack_batch(b, s, batch, zb, order, path);
      ASSERT_EQ(packed.path(), path);
      std::vector<Q> y(static_cast<std::size_t>(s.m * s.n), Q(0x5A));
      qmath::gemm(qmath::GemmA<TA>{a.data() + batch * s.m * s.k, s.m, s.k, &za, 1}, packed,
                  qmath::GemmOutputRequantize<Q>{y.data(), s.n, &multiplier, 1, zy});
      for (std::int64_t i = 0; i < s.m * s.n; ++i)
        EXPECT_EQ(+y[static_cast<std::size_t>(i)], want[static_cast<std::size_t>(batch * s.m * s.n + i)])
            << name << " on " << qmath::isa_name(path) << ", batch " << batch << ", element " << i
            << (order == gemm_b_order::n_by_k ? " (B transposed)" : "") << ", multiplier " << multiplier;
    }
}

TEST_P(GemmOnnx, QLinearMatMul) {
  int ran = 0;
  for (const char* name : kQLinearMatMulTests) {
    OnnxTest t;
    ASSERT_TRUE(qmath_test::load_onnx_test("node", name, t)) << name << " is missing from " << qmath_test::onnx_dir();
    ASSERT_EQ(t.op, "QLinearMatMul") << name;
    const std::string types = t.inputs.at(0).dtype + "," + t.inputs.at(3).dtype + "," + t.outputs.at(0).dtype;
    if (types == "int8,int8,int8")
      run_qlinearmatmul<std::int8_t, std::int8_t, std::int8_t>(t, name, path());
    else if (types == "uint8,uint8,uint8")
      run_qlinearmatmul<std::uint8_t, std::uint8_t, std::uint8_t>(t, name, path());
    else
      ADD_FAILURE() << name << ": operand types " << types << " not handled by this test";
    ++ran;
  }
  EXPECT_EQ(ran, 8);
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmOnnx, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

}  // namespace
