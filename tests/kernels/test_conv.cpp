// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_conv.cpp: conv2d on every path this CPU runs, bit for bit against the specification
// (ref::conv2d_u8s8_i32 and the GEMM's stage functions), through GemmTester's conv mode: hand-picked geometry
// (kernel larger than the padded input, stride past the kernel, dilation, asymmetric padding, 1x1, 1xK, Kx1,
// groups, depthwise with multipliers), then thousands of random shapes, every output stage, zero points at both
// ends, threads 1-3, guard bytes around the output.
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/conv.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"

namespace {

using qmath::ConvParams;
using qmath_test::GemmStage;
using qmath_test::GemmTester;

ConvParams shape(std::ptrdiff_t batch, std::ptrdiff_t h, std::ptrdiff_t w, std::ptrdiff_t ic, std::ptrdiff_t oc,
                 std::ptrdiff_t groups, std::ptrdiff_t kh, std::ptrdiff_t kw, std::ptrdiff_t stride = 1,
                 std::ptrdiff_t pad = 0, std::ptrdiff_t dilation = 1) {
  ConvParams p;
  p.batch = batch;
  p.in_h = h;
  p.in_w = w;
  p.in_channels = ic;
  p.out_channels = oc;
  p.groups = groups;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.dilation_h = p.dilation_w = dilation;
  return p;
}

class Conv : public ::testing::TestWithParam<qmath::isa> {
 protected:
  void SetUp() override { QMATH_SKIP_IF_UNSUPPORTED(GetParam()); }
  qmath::isa path() const { return GetParam(); }
};

TEST_P(Conv, HandPickedGeometry) {
  std::vector<ConvParams> cases = {
      shape(1, 5, 5, 3, 4, 1, 3, 3),               // plain
      shape(1, 5, 5, 3, 4, 1, 3, 3, 1, 1),         // same padding
      shape(2, 7, 6, 5, 7, 1, 3, 3, 2, 1),         // batch, stride 2
      shape(1, 3, 3, 2, 3, 1, 5, 5, 1, 2),         // kernel larger than the input, padded
      shape(1, 9, 9, 3, 5, 1, 2, 2, 3, 0),         // stride past the kernel
      shape(1, 9, 8, 4, 6, 1, 3, 3, 1, 2, 2),      // dilation 2
      shape(1, 11, 11, 3, 2, 1, 3, 3, 2, 3, 3),    // dilation 3
      shape(2, 6, 7, 17, 33, 1, 1, 1),             // 1x1 direct
      shape(1, 6, 7, 16, 8, 1, 1, 1, 2),           // 1x1 stride 2 (im2col)
      shape(1, 1, 19, 6, 5, 1, 1, 5, 1, 2),        // 1xK: Conv1d
      shape(1, 13, 4, 6, 5, 1, 7, 1, 2, 3),        // Kx1
      shape(1, 6, 6, 8, 12, 2, 3, 3, 1, 1),        // groups 2
      shape(1, 6, 5, 12, 8, 4, 3, 3, 2, 1),        // groups 4
      shape(2, 7, 9, 19, 19, 19, 3, 3, 1, 1),      // depthwise
      shape(1, 8, 8, 40, 80, 40, 3, 3, 2, 1),      // depthwise, multiplier 2
      shape(1, 9, 9, 67, 67, 67, 5, 5, 1, 4, 2),   // depthwise, dilation 2
      shape(1, 3, 2, 5, 15, 5, 3, 3, 3, 2),        // depthwise, multiplier 3, tiny
      shape(1, 16, 16, 64, 64, 64, 3, 3, 1, 1),    // depthwise, whole vectors
  };
  ConvParams asym = shape(1, 7, 8, 5, 6, 1, 3, 2, 1);
  asym.pad_top = 2;
  asym.pad_bottom = 0;
  asym.pad_left = 0;
  asym.pad_right = 3;
  asym.stride_w = 2;
  cases.push_back(asym);
  ConvParams asym_dw = shape(1, 10, 7, 24, 24, 24, 3, 3, 1);
  asym_dw.pad_top = 0;
  asym_dw.pad_bottom = 2;
  asym_dw.pad_left = 2;
  asym_dw.pad_right = 1;
  asym_dw.stride_h = 2;
  cases.push_back(asym_dw);
  std::uint64_t seed = 1;
  for (const ConvParams& p : cases)
    for (GemmStage stage : qmath_test::kAllGemmStages)
      for (bool a_signed : {false, true}) {
        const std::uint64_t s = seed++;
        GemmTester t;
        t.conv(p).output(stage).a_signed(a_signed).b_unsigned(s % 3 == 0).per_channel_b(s % 2 == 0)
            .per_channel_scale(s % 4 < 2).bias(s % 3 != 1).seed(s);
        ASSERT_NO_FATAL_FAILURE(t.run(path()));
      }
}

TEST_P(Conv, WeightLayoutsAgree) {
  for (qmath::conv_weight_layout layout :
       {qmath::conv_weight_layout::oihw, qmath::conv_weight_layout::ohwi, qmath::conv_weight_layout::hwio})
    for (const ConvParams& p : {shape(1, 6, 5, 6, 4, 2, 3, 2, 1, 1), shape(1, 5, 5, 8, 16, 8, 3, 3, 1, 1)}) {
      GemmTester t;
      t.conv(p).conv_layout(layout).output(GemmStage::int32).per_channel_b(true).seed(11);
      ASSERT_NO_FATAL_FAILURE(t.run(path()));
    }
}

TEST_P(Conv, ExtremeZeroPointsAndValues) {
  using qmath_test::GemmFill;
  // Odd channels (gathered im2col), 16 channels (the direct kernel on VNNI, taps packed in place elsewhere),
  // depthwise with a channel tail, and depthwise 3x3 stride 1 over whole vectors (its pixel-reuse loop).
  const ConvParams shapes[] = {shape(1, 6, 6, 9, 10, 1, 3, 3, 1, 1), shape(1, 9, 7, 16, 40, 1, 3, 3, 1, 1),
                               shape(1, 6, 6, 21, 21, 21, 3, 3, 1, 1), shape(1, 6, 11, 64, 64, 64, 3, 3, 1, 1)};
  std::uint64_t seed = 100;
  for (const ConvParams& p : shapes)
    for (GemmFill fill : {GemmFill::min, GemmFill::max, GemmFill::extremes})
      for (bool a_signed : {false, true})
        for (int end = 0; end < 2; ++end) {
          GemmTester t;
          t.conv(p).a_signed(a_signed).a_fill(fill).b_fill(fill).per_channel_b(true).output(GemmStage::int32)
              .a_zero_point(a_signed ? (end ? 127 : -128) : (end ? 255 : 0)).seed(seed++);
          ASSERT_NO_FATAL_FAILURE(t.run(path()));
        }
}

// Large K through the direct kernel (its column panels outside: the weights pass L2) and the packed GEMM, at
// zero points that keep K = 18432 within the bound.
TEST_P(Conv, LargeK) {
  for (bool a_signed : {false, true}) {
    GemmTester t;
    t.conv(shape(1, 4, 5, 2048, 40, 1, 3, 3, 1, 1)).a_signed(a_signed).a_zero_point(0).b_zero_point(0)
        .output(GemmStage::int32).seed(77);
    ASSERT_NO_FATAL_FAILURE(t.run(path()));
    EXPECT_FALSE(t.threw());
  }
}

// K past the exactness bound is refused before anything is written (GemmTester checks the guards).
TEST_P(Conv, KBeyondTheBoundThrows) {
  GemmTester t;
  t.conv(shape(1, 3, 3, 4000, 2, 1, 3, 3, 1, 1)).a_zero_point(0).b_zero_point(-128).output(GemmStage::requantize_u8);
  ASSERT_NO_FATAL_FAILURE(t.run(path()));
  EXPECT_TRUE(t.threw());
}

TEST_P(Conv, RandomShapes) {
  std::mt19937_64 rng(2024);
  auto pick = [&rng](std::ptrdiff_t lo, std::ptrdiff_t hi) {
    return lo + static_cast<std::ptrdiff_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  int ran = 0;
  for (int i = 0; ran < 600 && i < 5000; ++i) {
    ConvParams p;
    const int family = static_cast<int>(rng() % 4);  // 0 dense, 1 grouped, 2 depthwise, 3 pointwise
    const std::ptrdiff_t groups = family == 1 ? pick(2, 4) : 1;
    p.groups = groups;
    p.in_channels = groups * pick(1, 24);
    p.out_channels = groups * pick(1, 40);
    if (family == 2) {
      p.in_channels = p.groups = pick(2, 70);
      p.out_channels = p.in_channels * pick(1, 3);
    }
    p.batch = pick(1, 2);
    p.in_h = pick(1, 12);
    p.in_w = pick(1, 14);
    p.kernel_h = family == 3 ? 1 : pick(1, 5);
    p.kernel_w = family == 3 ? 1 : pick(1, 5);
    p.stride_h = pick(1, 3);
    p.stride_w = pick(1, 3);
    p.dilation_h = pick(1, 3);
    p.dilation_w = pick(1, 3);
    p.pad_top = pick(0, 3);
    p.pad_left = pick(0, 3);
    p.pad_bottom = pick(0, 3);
    p.pad_right = pick(0, 3);
    if (family == 3 && rng() % 2) p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0, p.stride_h = p.stride_w = 1;
    if (p.out_h() < 1 || p.out_w() < 1) continue;
    GemmTester t;
    t.conv(p).output(qmath_test::kAllGemmStages[rng() % 6]).a_signed(rng() % 2).b_unsigned(rng() % 4 == 0)
        .per_channel_b(rng() % 2).per_channel_scale(rng() % 2).bias(rng() % 2).per_row_a_scale(rng() % 4 == 0)
        .threads(1 + static_cast<int>(rng() % 3)).ldc(p.out_channels + static_cast<std::ptrdiff_t>(rng() % 3))
        .seed(static_cast<std::uint64_t>(i));
    ASSERT_NO_FATAL_FAILURE(t.run(path()));
    ++ran;
  }
  EXPECT_EQ(ran, 600);
}

// Large enough that the GEMM splits work over threads and the depthwise kernel over rows: the result must not
// depend on the thread count.
TEST_P(Conv, ThreadsDoNotChangeTheResult) {
  // The second has few pixels and many channels: the direct kernel splits its columns.
  for (const ConvParams& p : {shape(1, 20, 20, 32, 48, 1, 3, 3, 1, 1), shape(1, 4, 3, 64, 200, 1, 3, 3, 1, 1),
                              shape(2, 30, 30, 64, 64, 64, 3, 3, 1, 1)}) {
    std::vector<unsigned char> first;
    for (int threads : {1, 2, 3}) {
      GemmTester t;
      t.conv(p).output(GemmStage::requantize_u8).per_channel_b(true).threads(threads).seed(5);
      ASSERT_NO_FATAL_FAILURE(t.run(path()));
      if (threads == 1) first = t.result();
      else EXPECT_EQ(t.result(), first) << "threads " << threads;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Conv, Conv, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

}  // namespace
