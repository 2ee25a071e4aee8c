// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_bad_input.cpp: one test per row of README's bad-input table: NaN and Inf data on every ISA path
// and profile, invalid parameters and shapes (qmath::error naming the argument, nothing written), empty tensors.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <utility>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/calib/histogram.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/nn/dynamic_linear.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"
#include "qmath/quant/requantize.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::profile;
using qmath::QParams;
using qmath::TensorShape;

constexpr profile kProfiles[] = {profile::pytorch, profile::onnx, profile::tflite};

/// Runs f, expects qmath::error whose message contains `needle`.
template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no qmath::error thrown (expected one mentioning '" << needle << "')";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    // qmath::error is an std::invalid_argument, so generic handlers catch it.
    EXPECT_NE(dynamic_cast<const std::invalid_argument*>(&e), nullptr);
  }
}

class NanAndInf : public ::testing::TestWithParam<qmath::isa> {};

// Row: NaN -> the zero point (the code of 0.0) on every ISA and profile; +-Inf saturate.
TEST_P(NanAndInf, OneDocumentedCode) {
  QMATH_SKIP_IF_UNSUPPORTED(GetParam());
  const qmath::ScopedIsaOverride only(GetParam());
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(37, nan);  // long enough for the vector body and a tail
  x[3] = -nan;
  x[5] = qmath::f32_from_bits(0x7f800001u);  // signalling NaN
  x[7] = inf;
  x[9] = -inf;
  for (profile prof : kProfiles) {
    for (std::int32_t zp : {-128, -5, 0, 127}) {
      const auto p = qmath::make_qparams<std::int8_t>(0.05f, zp, prof);
      std::vector<std::int8_t> q(x.size());
      qmath::quantize(x.data(), x.size(), p, q.data());
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::int32_t want = i == 7 ? 127 : i == 9 ? -128 : zp;
        EXPECT_EQ(q[i], want) << qmath::profile_name(prof) << " i=" << i << " zp=" << zp;
      }
    }
    // The zero point is clamped into a narrowed code range like any other code.
    auto narrow = qmath::make_qparams<std::uint8_t>(0.05f, 128, prof);
    narrow.qmax = 127;
    std::vector<std::uint8_t> u(x.size());
    qmath::quantize(x.data(), x.size(), narrow, u.data());
    EXPECT_EQ(u[0], 127);
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, NanAndInf, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

// Rows: scale <= 0, NaN or Inf scale; zero point outside the integer range; qmin > qmax. Nothing is written.
TEST(BadParameters, ScaleAndZeroPoint) {
  const std::vector<float> x(8, 1.0f);
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -0.0f}) {
    std::vector<std::int8_t> q(8, 42);
    expect_error([&] { qmath::quantize(x.data(), 8, qmath::make_qparams<std::int8_t>(bad, 0), q.data()); }, "scale");
    EXPECT_EQ(q, std::vector<std::int8_t>(8, 42)) << "wrote output before throwing";
    std::vector<float> out(8, 7.0f);
    expect_error([&] { qmath::dequantize(q.data(), 8, qmath::make_qparams<std::int8_t>(bad, 0), out.data()); },
                 "scale");
    EXPECT_EQ(out, std::vector<float>(8, 7.0f));
  }
  // 1/scale overflows: the PyTorch convention cannot use it.
  expect_error([&] {
    std::int8_t q[8];
    qmath::quantize(x.data(), 8, qmath::make_qparams<std::int8_t>(1e-39f, 0, profile::pytorch), q);
  }, "scale");
  std::vector<std::uint8_t> u(8, 9);
  for (std::int32_t bad : {-1, 256, 1 << 20}) {
    expect_error([&] { qmath::quantize(x.data(), 8, qmath::make_qparams<std::uint8_t>(0.1f, bad), u.data()); },
                 "zero_point");
    EXPECT_EQ(u, std::vector<std::uint8_t>(8, 9));
  }
  auto inverted = qmath::make_qparams<std::int8_t>(0.1f, 0);
  inverted.qmin = 10;
  inverted.qmax = -10;
  expect_error([&] { qmath::quantize(x.data(), 8, inverted, reinterpret_cast<std::int8_t*>(u.data())); }, "qmin");
  auto outside = qmath::make_qparams<qmath::int4>(0.1f, 0);
  outside.qmax = 8;  // int4 codes end at 7
  std::uint8_t packed[4] = {};
  expect_error([&] { qmath::quantize(x.data(), 8, outside, packed); }, "qmin");
  expect_error([&] { qmath::quantize(x.data(), 8, qmath::make_qparams<qmath::int4>(0.1f, 8), packed); },
               "zero_point");
}

// Rows: axis out of range, group size 0, parameter count not matching the channel / group count, negative dims.
TEST(BadParameters, AxisGroupsAndCounts) {
  const std::vector<float> x(24, 0.5f);
  std::vector<std::int8_t> q(24, 42);
  const TensorShape shape{{2, 3, 4}};
  auto p = qmath::make_qparams<std::int8_t>(0.1f, 0);
  p.granularity = qmath::per_channel(3);
  expect_error([&] { qmath::quantize(x.data(), shape, p, q.data()); }, "axis 3 is out of range");
  p.granularity = qmath::per_channel(-4);
  expect_error([&] { qmath::quantize(x.data(), shape, p, q.data()); }, "axis -4");
  p.granularity = qmath::per_channel(1);  // needs 3 pairs, has 1
  expect_error([&] { qmath::quantize(x.data(), shape, p, q.data()); }, "scale has 1 entries, the granularity needs 3");
  p.scale = {0.1f, 0.2f, 0.3f};
  expect_error([&] { qmath::quantize(x.data(), shape, p, q.data()); }, "zero_point has 1 entries");
  p.granularity = qmath::per_group(2, 0);
  expect_error([&] { qmath::quantize(x.data(), shape, p, q.data()); }, "group_size");
  p.granularity = qmath::per_group(2, 3);  // ceil(4 / 3) = 2 groups per row of 6 rows: 12 pairs
  expect_error([&] { qmath::quantize(x.data(), shape, p, q.data()); }, "the granularity needs 12");
  EXPECT_EQ(q, std::vector<std::int8_t>(24, 42));
  expect_error([&] { qmath::quantize(x.data(), TensorShape{{2, -3}}, qmath::make_qparams<std::int8_t>(0.1f, 0),
                                     q.data()); }, "negative");
  // Eigen: quantizing into a tensor of other dims.
  Eigen::Tensor<float, 2> xt(2, 3);
  xt.setConstant(1.0f);
  Eigen::Tensor<std::int8_t, 2> yt(3, 2);
  expect_error([&] { qmath::quantize(xt, qmath::make_qparams<std::int8_t>(0.1f, 0), yt); }, "dims differ");
  // Eigen: a block with an outer gap is not contiguous.
  Eigen::MatrixXf m = Eigen::MatrixXf::Ones(4, 4);
  expect_error([&] { (void)qmath::quantize(m.block(0, 0, 2, 2), qmath::make_qparams<std::int8_t>(0.1f, 0)); },
               "contiguous");
}

// Rows for choosing parameters: non-finite or inverted ranges, mismatched lengths, float zero points misused.
TEST(BadParameters, ChoosingParameters) {
  expect_error([] { (void)qmath::choose_qparams<std::int8_t>(1.0f, -1.0f); }, "min > max");
  expect_error([] { (void)qmath::choose_qparams<std::int8_t>(0.0f, std::numeric_limits<float>::infinity()); },
               "not finite");
  expect_error([] { (void)qmath::choose_qparams<std::int8_t>(std::nanf(""), 1.0f); }, "not finite");
  expect_error([] {
    (void)qmath::choose_qparams<std::int8_t>(std::vector<float>{0, 1}, std::vector<float>{1}, qmath::per_channel(0));
  }, "equally long");
  qmath::ChooseOptions o;
  o.float_zero_point = true;
  o.numerics = profile::onnx;
  expect_error([&] { (void)qmath::choose_qparams<std::uint8_t>(0.0f, 1.0f, o); }, "float_zero_point");
  // Data with +-Inf has no finite range.
  const std::vector<float> x = {1.0f, std::numeric_limits<float>::infinity()};
  expect_error([&] { (void)qmath::choose_qparams<std::int8_t>(x.data(), TensorShape{{2}}, qmath::per_tensor()); },
               "not finite");
}

TEST(BadParameters, Requantize) {
  const std::vector<std::int32_t> acc(4, 100);
  std::vector<std::int8_t> y(4, 42);
  qmath::RequantizeParams<std::int8_t> p;
  p.multiplier = {0.0f};
  expect_error([&] { qmath::requantize(acc.data(), 4, p, y.data()); }, "multiplier");
  p.multiplier = {std::numeric_limits<float>::quiet_NaN()};
  expect_error([&] { qmath::requantize(acc.data(), 4, p, y.data()); }, "multiplier");
  p.multiplier.clear();
  p.fixed_point = {{1 << 30, 31}};
  expect_error([&] { qmath::requantize(acc.data(), 4, p, y.data()); }, "shift");
  p.fixed_point = {{1 << 30, 0}};
  p.zero_point = {300};
  expect_error([&] { qmath::requantize(acc.data(), 4, p, y.data()); }, "zero_point");
  EXPECT_EQ(y, std::vector<std::int8_t>(4, 42));
  expect_error([] { (void)qmath::quantize_multiplier(-1.0); }, "multiplier");
}

// Row: empty tensors -> nothing happens, no error, even with null pointers.
TEST(EmptyTensors, NoOp) {
  const auto p = qmath::make_qparams<std::int8_t>(0.1f, 0);
  EXPECT_NO_THROW(qmath::quantize(static_cast<const float*>(nullptr), 0, p, static_cast<std::int8_t*>(nullptr)));
  EXPECT_NO_THROW(qmath::dequantize(static_cast<const std::int8_t*>(nullptr), 0, p, static_cast<float*>(nullptr)));
  auto pc = p;
  pc.granularity = qmath::per_channel(1);
  pc.scale = {0.1f, 0.2f};
  pc.zero_point = {0, 0};
  EXPECT_NO_THROW(qmath::quantize(static_cast<const float*>(nullptr), TensorShape{{0, 2}}, pc,
                                  static_cast<std::int8_t*>(nullptr)));
  Eigen::Tensor<float, 3> empty(0, 4, 5);
  EXPECT_EQ(qmath::quantize(empty, p).size(), 0);
  EXPECT_NO_THROW(qmath::requantize(static_cast<const std::int32_t*>(nullptr), 0, qmath::RequantizeParams<std::int8_t>{
                                        qmath::per_tensor(), {0.5f}, {}, {0}}, static_cast<std::int8_t*>(nullptr)));
  // A non-empty tensor with a null pointer is an error, not a crash.
  std::int8_t q[2];
  expect_error([&] { qmath::quantize(static_cast<const float*>(nullptr), 2, p, q); }, "null");
}

// Row: extreme but finite ranges. Every profile and scheme gives a usable scale: a range wider than FLT_MAX is
// measured in double (float's max' - min' would be +Inf), a scale that would underflow follows the profile's
// all-zero rule (scale 1).
bool usable(float s) { return std::isfinite(s) && s > 0.0f && std::isfinite(1.0f / s); }

TEST(DegenerateRanges, EveryProfileGivesAUsableScale) {
  const float big = 3e38f;
  for (profile numerics : kProfiles)
    for (qmath::scheme kind : {qmath::scheme::affine, qmath::scheme::symmetric}) {
      qmath::ChooseOptions o;
      o.numerics = numerics;
      o.kind = kind;
      for (const auto& [lo, hi] : std::vector<std::pair<float, float>>{{-big, big}, {-FLT_MAX, FLT_MAX}, {-1e-45f, 1e-45f},
                                                                        {0.0f, 1e-44f}, {-1e-40f, 0.0f}, {0.0f, 0.0f}}) {
        const QParams<std::int8_t> s8 = qmath::choose_qparams<std::int8_t>(lo, hi, o);
        const QParams<std::uint8_t> u8 = qmath::choose_qparams<std::uint8_t>(lo, hi, o);
        EXPECT_TRUE(usable(s8.scale[0]) && usable(u8.scale[0])) << lo << " " << hi << " " << s8.scale[0] << " " << u8.scale[0];
      }
      // [-3e38, 3e38] is represented: its ends quantize to the ends of the code range and come back within a step.
      const QParams<std::int8_t> p = qmath::choose_qparams<std::int8_t>(-big, big, o);
      const float x[2] = {-big, big};
      std::int8_t q[2];
      float back[2];
      qmath::quantize(x, 2, p, q);
      qmath::dequantize(q, 2, p, back);
      for (int i = 0; i < 2; ++i) EXPECT_LE(std::fabs(back[i] - x[i]), p.scale[0]) << static_cast<int>(numerics);
    }
  // pytorch affine on [-3e38, 3e38]: 6e38 / 255 computed in double, then rounded to float.
  EXPECT_EQ(qmath::choose_qparams<std::int8_t>(-big, big).scale[0], static_cast<float>(2.0 * static_cast<double>(big) / 255.0));
  qmath::ChooseOptions fzp;
  fzp.float_zero_point = true;
  EXPECT_TRUE(usable(qmath::choose_qparams<std::uint8_t>(-big, big, fzp).scale[0]));
  // TFLite's symmetric rule on (-1e-45, 1e-45) divided 1e-45 by 127, giving scale 0.
  qmath::ChooseOptions tflite;
  tflite.numerics = profile::tflite;
  tflite.kind = qmath::scheme::symmetric;
  EXPECT_EQ(qmath::choose_qparams<std::int8_t>(-1e-45f, 1e-45f, tflite).scale[0], 1.0f);
}

TEST(DegenerateRanges, HistogramRefusesDataWiderThanFloat) {
  qmath::HistogramObserver h(64, 4);
  const float wide[2] = {-3e38f, 3e38f};
  expect_error([&] { h.update(wide, 2); }, "wider than FLT_MAX");
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.counts().finite, 0u);
  const float left[2] = {-3e38f, -1.0f}, right[1] = {3e38f};
  h.update(left, 2);
  expect_error([&] { h.update(right, 1); }, "wider than FLT_MAX");
  EXPECT_EQ(h.max(), -1.0f);  // unchanged by the refused batch
  EXPECT_EQ(h.counts().finite, 2u);
  const qmath::Range r = h.l2_range<std::uint8_t>();
  EXPECT_TRUE(std::isfinite(r.min) && std::isfinite(r.max));
}

TEST(DegenerateRanges, PerChannelChoiceOnAnEmptyTensorHasNoSlots) {
  const TensorShape no_rows{{0, 4}};
  const QParams<std::int8_t> p = qmath::choose_qparams<std::int8_t>(static_cast<const float*>(nullptr), no_rows, qmath::per_channel(0));
  EXPECT_TRUE(p.scale.empty() && p.zero_point.empty());
  EXPECT_NO_THROW(qmath::quantize(static_cast<const float*>(nullptr), no_rows, p, static_cast<std::int8_t*>(nullptr)));
  // Along the non-empty axis there are 4 slots of [0, 0].
  EXPECT_EQ(qmath::choose_qparams<std::int8_t>(static_cast<const float*>(nullptr), no_rows, qmath::per_channel(1)).scale.size(), 4u);
  EXPECT_TRUE(qmath::choose_qparams<std::int8_t>(std::vector<float>{}, std::vector<float>{}, qmath::per_channel(0)).scale.empty());
  expect_error([] { (void)qmath::choose_qparams<std::int8_t>(std::vector<float>{}, std::vector<float>{}, qmath::per_tensor()); },
               "one range");
}

TEST(DegenerateRanges, DynamicLinearTakesHugeFiniteInput) {
  const std::vector<float> w = {1e-3f, -2e-3f, 5e-4f, 1e-3f, 1e-3f, -1e-3f};  // 2 x 3
  const qmath::DynamicQuantizedLinear layer(w.data(), 2, 3, nullptr);
  const float x[3] = {3e38f, -3e38f, 1e38f};
  float y[2];
  ASSERT_NO_THROW(layer.forward(x, 1, 3, y, 2));
  for (int n = 0; n < 2; ++n) {
    double expected = 0.0;
    for (int k = 0; k < 3; ++k) expected += static_cast<double>(x[k]) * w[static_cast<std::size_t>(n * 3 + k)];
    EXPECT_NEAR(y[n], expected, 0.02 * 3e38 * 2e-3) << n;
  }
}

}  // namespace
