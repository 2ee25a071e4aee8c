// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_quantize_exhaustive.cpp: quantize on all 2^32 fp32 bit patterns (NaNs, infinities, subnormals
// included) for a few (scale, zero point) pairs per profile, every vector path against the reference; dequantize on
// every code of every 8- and 16-bit type (ctest label `exhaustive`).
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/kernels/dispatch.hpp"
#include "qmath/quant/qparams.hpp"
#include "support/isa_params.hpp"
#include "support/sweep.hpp"

namespace {

using qmath::kernels::QuantizeKernels;
using qmath::kernels::QuantizeRun;

const QuantizeKernels* table_of(qmath::isa path) { return qmath::kernels::quantize_kernels(path); }

template <class Q>
std::string sweep(const char* what, qmath::profile profile, float scale, std::int32_t zero_point) {
  const qmath::Numerics numerics = qmath::numerics_of(profile);
  const float factor = numerics.op == qmath::scale_op::multiply_reciprocal ? 1.0f / scale : scale;
  const QuantizeRun run{&factor, &zero_point, false, static_cast<std::int32_t>(qmath::int_traits<Q>::kMin),
                        static_cast<std::int32_t>(qmath::int_traits<Q>::kMax), numerics};
  return qmath_test::sweep_all_floats<Q>(what, qmath::kernels::kScalarQuantizeKernels, table_of,
                                         [&run](const QuantizeKernels& k, const float* x, Q* y, std::size_t n) {
                                           k.quantize.get<Q>()(x, y, n, run);
                                         });
}

class QuantizeExhaustive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (qmath_test::vector_paths().empty()) GTEST_SKIP() << "no vector path compiled in or supported by this CPU";
  }
};

// Scales chosen so that many inputs land exactly on ties: 0.25 makes x / S exact for most x, 0.1f does not.
TEST_F(QuantizeExhaustive, PyTorchInt8) { EXPECT_EQ(sweep<std::int8_t>("pytorch int8 S=0.1 Z=-3", qmath::profile::pytorch, 0.1f, -3), ""); }
TEST_F(QuantizeExhaustive, OnnxUint8) { EXPECT_EQ(sweep<std::uint8_t>("onnx uint8 S=0.25 Z=255", qmath::profile::onnx, 0.25f, 255), ""); }
TEST_F(QuantizeExhaustive, TfliteInt8) { EXPECT_EQ(sweep<std::int8_t>("tflite int8 S=0.5 Z=-128", qmath::profile::tflite, 0.5f, -128), ""); }
TEST_F(QuantizeExhaustive, PyTorchInt16) { EXPECT_EQ(sweep<std::int16_t>("pytorch int16 S=3e-5 Z=0", qmath::profile::pytorch, 3e-5f, 0), ""); }

class DequantizeAllCodes : public ::testing::TestWithParam<qmath::isa> {
 protected:
  template <class Q>
  void check(const QuantizeKernels& k) {
    const std::int64_t lo = qmath::int_traits<Q>::kMin, hi = qmath::int_traits<Q>::kMax;
    std::vector<Q> codes;
    for (std::int64_t c = lo; c <= hi; ++c) codes.push_back(static_cast<Q>(c));
    std::vector<float> got(codes.size()), want(codes.size());
    for (float scale : {0.1f, 3.0517578e-05f, 7.0f})
      for (std::int64_t zp : {lo, std::int64_t{0}, hi}) {
        const auto z = static_cast<std::int32_t>(zp);
        const qmath::kernels::DequantizeRun run{&scale, &z, false};
        k.dequantize.get<Q>()(codes.data(), got.data(), codes.size(), run);
        qmath::kernels::kScalarQuantizeKernels.dequantize.get<Q>()(codes.data(), want.data(), codes.size(), run);
        for (std::size_t i = 0; i < codes.size(); ++i)
          ASSERT_EQ(qmath::f32_bits(got[i]), qmath::f32_bits(want[i]))
              << qmath::int_traits<Q>::kName << " code " << +codes[i] << " S=" << scale << " Z=" << z;
      }
  }
};

TEST_P(DequantizeAllCodes, EveryCode) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const QuantizeKernels& k = *qmath::kernels::quantize_kernels(GetParam());
  check<std::int8_t>(k);
  check<std::uint8_t>(k);
  check<std::int16_t>(k);
  check<std::uint16_t>(k);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, DequantizeAllCodes, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

}  // namespace
