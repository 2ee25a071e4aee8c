// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_conv_api.cpp: conv2d's and pack_conv_weights' argument checks (every refusal is a
// qmath::error with nothing written), the "same" padding helper and the NCHW adapters.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/conv.hpp"
#include "qmath/core/error.hpp"

namespace {

qmath::ConvParams base() {
  qmath::ConvParams p;
  p.batch = 1;
  p.in_h = p.in_w = 6;
  p.in_channels = 4;
  p.out_channels = 6;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  return p;
}

struct Fixture {
  qmath::ConvParams p = base();
  std::vector<std::uint8_t> x = std::vector<std::uint8_t>(6 * 6 * 4, 7);
  std::vector<std::int8_t> w = std::vector<std::int8_t>(6 * 4 * 9, 3);
  std::int32_t zw = 0;
  qmath::PackedConvWeights packed = qmath::pack_conv_weights<std::int8_t>(w.data(), base(), qmath::conv_weight_layout::oihw, &zw, 1);
  std::vector<std::int32_t> y = std::vector<std::int32_t>(6 * 6 * 6 + 16, -7);
};

bool untouched(const std::vector<std::int32_t>& y) {
  for (std::int32_t v : y)
    if (v != -7) return false;
  return true;
}

/// Runs conv2d with one field of the parameters changed; expects qmath::error naming conv2d and no output.
template <class Change>
void expect_refused(const Change& change, const char* what) {
  Fixture f;
  qmath::ConvParams p = f.p;
  change(p);
  try {
    qmath::conv2d(p, f.x.data(), 0, f.packed, qmath::GemmOutputInt32{f.y.data(), 6});
    ADD_FAILURE() << what << ": conv2d accepted it";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find("qmath::conv2d"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(untouched(f.y)) << what << ": output written before the error";
}

TEST(ConvApi, BadParametersAreRefusedBeforeWriting) {
  expect_refused([](qmath::ConvParams& p) { p.batch = -1; }, "negative batch");
  expect_refused([](qmath::ConvParams& p) { p.in_h = 0; }, "in_h 0");
  expect_refused([](qmath::ConvParams& p) { p.stride_w = 0; }, "stride 0");
  expect_refused([](qmath::ConvParams& p) { p.dilation_h = 0; }, "dilation 0");
  expect_refused([](qmath::ConvParams& p) { p.pad_left = -1; }, "negative padding");
  expect_refused([](qmath::ConvParams& p) { p.pad_top = p.pad_bottom = 0, p.in_h = 2; }, "output height 0");
  expect_refused([](qmath::ConvParams& p) { p.dilation_w = 4; }, "dilated kernel wider than the padded input");
  expect_refused([](qmath::ConvParams& p) { p.groups = 3; }, "groups not dividing the channels");
  expect_refused([](qmath::ConvParams& p) { p.groups = 2; }, "groups other than the packed ones");
  expect_refused([](qmath::ConvParams& p) { p.out_channels = 12; }, "channels other than the packed ones");
  expect_refused([](qmath::ConvParams& p) { p.kernel_w = 2; }, "kernel other than the packed one");
  expect_refused([](qmath::ConvParams& p) { p.in_h = std::numeric_limits<std::ptrdiff_t>::max() / 2; }, "input beyond the address space");
  expect_refused([](qmath::ConvParams& p) { p.pad_bottom = std::numeric_limits<std::ptrdiff_t>::max(); }, "padding overflows");
  expect_refused([](qmath::ConvParams& p) { p.batch = std::numeric_limits<std::ptrdiff_t>::max() / 8; }, "batch beyond the address space");
}

TEST(ConvApi, BadOperandsAreRefusedBeforeWriting) {
  Fixture f;
  auto refused = [&f](auto call, const char* what) {
    try {
      call();
      ADD_FAILURE() << what << ": accepted";
    } catch (const qmath::error&) {
    }
    EXPECT_TRUE(untouched(f.y)) << what;
  };
  refused([&] { qmath::conv2d(f.p, static_cast<const std::uint8_t*>(nullptr), 0, f.packed, qmath::GemmOutputInt32{f.y.data(), 6}); }, "null input");
  refused([&] { qmath::conv2d(f.p, f.x.data(), 256, f.packed, qmath::GemmOutputInt32{f.y.data(), 6}); }, "zero point above uint8");
  refused([&] { qmath::conv2d(f.p, f.x.data(), -1, f.packed, qmath::GemmOutputInt32{f.y.data(), 6}); }, "zero point below uint8");
  refused([&] { qmath::conv2d(f.p, f.x.data(), 0, qmath::PackedConvWeights{}, qmath::GemmOutputInt32{f.y.data(), 6}); }, "unpacked weights");
  refused([&] { qmath::conv2d(f.p, f.x.data(), 0, f.packed, qmath::GemmOutputInt32{nullptr, 6}); }, "null output");
  refused([&] { qmath::conv2d(f.p, f.x.data(), 0, f.packed, qmath::GemmOutputInt32{f.y.data(), 5}); }, "ldc below out_channels");
  refused([&] { qmath::conv2d(f.p, f.x.data(), 0, f.packed, qmath::GemmOutputInt32{f.y.data(), 6}, qmath::GemmOptions{-1}); }, "negative threads");
  const float bad = 0.0f;
  std::vector<std::uint8_t> q(f.y.size());
  try {
    qmath::conv2d(f.p, f.x.data(), 0, f.packed, qmath::GemmOutputRequantize<std::uint8_t>{q.data(), 6, &bad, 1, 0});
    ADD_FAILURE() << "multiplier 0 accepted";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find("qmath::conv2d"), std::string::npos) << e.what();
  }
}

TEST(ConvApi, PackingRefusesBadWeights) {
  const qmath::ConvParams p = base();
  std::vector<std::int8_t> w(6 * 4 * 9, 1);
  const std::int32_t zw = 0, bad_zw = 128;
  const std::vector<std::int32_t> two = {0, 0};
  auto refused = [](auto call, const char* what) {
    try {
      call();
      ADD_FAILURE() << what << ": accepted";
    } catch (const qmath::error& e) {
      EXPECT_NE(std::string(e.what()).find("qmath::pack_conv_weights"), std::string::npos) << e.what();
    }
  };
  refused([&] { qmath::pack_conv_weights<std::int8_t>(nullptr, p, qmath::conv_weight_layout::oihw, &zw, 1); }, "null");
  refused([&] { qmath::pack_conv_weights<std::int8_t>(w.data(), p, qmath::conv_weight_layout::oihw, &bad_zw, 1); }, "zero point");
  refused([&] { qmath::pack_conv_weights<std::int8_t>(w.data(), p, qmath::conv_weight_layout::oihw, two.data(), 2); }, "count");
  refused([&] { qmath::pack_conv_weights<std::int8_t>(w.data(), p, qmath::conv_weight_layout::oihw, nullptr, 1); }, "null zero points");
  qmath::ConvParams g = p;
  g.groups = 4;
  refused([&] { qmath::pack_conv_weights<std::int8_t>(w.data(), g, qmath::conv_weight_layout::oihw, &zw, 1); }, "groups");
  qmath::ConvParams k = p;
  k.kernel_h = 0;
  refused([&] { qmath::pack_conv_weights<std::int8_t>(w.data(), k, qmath::conv_weight_layout::oihw, &zw, 1); }, "kernel 0");
  qmath::ConvParams huge = p;
  huge.kernel_h = huge.kernel_w = std::numeric_limits<std::ptrdiff_t>::max() / 2;
  refused([&] { qmath::pack_conv_weights<std::int8_t>(w.data(), huge, qmath::conv_weight_layout::oihw, &zw, 1); }, "huge kernel");
}

TEST(ConvApi, BatchZeroWritesNothing) {
  Fixture f;
  qmath::ConvParams p = f.p;
  p.batch = 0;
  qmath::conv2d(p, static_cast<const std::uint8_t*>(nullptr), 0, f.packed, qmath::GemmOutputInt32{f.y.data(), 6});
  EXPECT_TRUE(untouched(f.y));
}

TEST(ConvApi, SamePaddingKeepsCeilOfInputOverStride) {
  for (std::ptrdiff_t in = 1; in <= 12; ++in)
    for (std::ptrdiff_t kernel = 1; kernel <= 5; ++kernel)
      for (std::ptrdiff_t stride = 1; stride <= 3; ++stride)
        for (std::ptrdiff_t dilation = 1; dilation <= 2; ++dilation)
          for (bool lower : {false, true}) {
            qmath::ConvParams p;
            p.in_h = p.in_w = in;
            p.kernel_h = p.kernel_w = kernel;
            p.stride_h = p.stride_w = stride;
            p.dilation_h = p.dilation_w = dilation;
            p = qmath::with_same_padding(p, lower);
            EXPECT_EQ(p.out_h(), (in + stride - 1) / stride);
            EXPECT_EQ(p.out_w(), (in + stride - 1) / stride);
            EXPECT_LE(p.pad_top - p.pad_bottom, lower ? 1 : 0);
            EXPECT_GE(p.pad_top - p.pad_bottom, lower ? 0 : -1);
          }
}

TEST(ConvApi, NchwAdaptersRoundTrip) {
  std::vector<int> nchw(2 * 3 * 4 * 5);
  for (std::size_t i = 0; i < nchw.size(); ++i) nchw[i] = static_cast<int>(i);
  std::vector<int> nhwc(nchw.size()), back(nchw.size());
  qmath::nchw_to_nhwc(nchw.data(), 2, 3, 4, 5, nhwc.data());
  EXPECT_EQ(nhwc[((1 * 4 + 2) * 5 + 3) * 3 + 1], nchw[((1 * 3 + 1) * 4 + 2) * 5 + 3]);
  qmath::nhwc_to_nchw(nhwc.data(), 2, 3, 4, 5, back.data());
  EXPECT_EQ(back, nchw);
}

}  // namespace
