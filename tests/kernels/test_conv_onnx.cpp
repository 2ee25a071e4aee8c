// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_conv_onnx.cpp: the ONNX project's convolution vectors. ConvInteger and QLinearConv through
// conv2d on every path this CPU runs (NCHW converted at the edge with nchw_to_nhwc / nhwc_to_nchw); the fp32 Conv
// vectors (node tests and PyTorch-converted Conv1d / Conv2d: groups, depthwise, dilation, strides, padding,
// auto_pad) through ref::conv2d_f32, the fp32 reference of the layers.
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/conv.hpp"
#include "qmath/kernels/ref/conv2d_u8s8.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"
#include "support/onnx_vectors.hpp"

namespace {

using qmath_test::OnnxTest;

bool have_vectors() { return qmath_test::file_exists(qmath_test::onnx_dir() + "/node/test_convinteger_with_padding/test.txt"); }

std::vector<std::int64_t> ints_attribute(const OnnxTest& t, const std::string& name) {
  std::vector<std::int64_t> v;
  const auto it = t.attributes.find(name);
  if (it == t.attributes.end()) return v;
  std::string text = it->second;
  const std::size_t space = text.find(' ');  // "ints 1,1" or "int 4"
  if (space != std::string::npos) text = text.substr(space + 1);
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) v.push_back(std::stoll(item));
  return v;
}

/// ConvParams from an ONNX node's attributes and its x / w shapes (NC[H]W, OI[H]W); 1-D convolutions get height 1.
qmath::ConvParams onnx_params(const OnnxTest& t, const std::vector<std::int64_t>& x, const std::vector<std::int64_t>& w) {
  const bool one_d = x.size() == 3;
  qmath::ConvParams p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.in_h = one_d ? 1 : x[2];
  p.in_w = x.back();
  p.out_channels = w[0];
  const std::vector<std::int64_t> group = ints_attribute(t, "group");
  p.groups = group.empty() ? 1 : group[0];
  p.kernel_h = one_d ? 1 : w[2];
  p.kernel_w = w.back();
  const std::vector<std::int64_t> strides = ints_attribute(t, "strides"), dilations = ints_attribute(t, "dilations");
  const std::vector<std::int64_t> pads = ints_attribute(t, "pads");
  if (!strides.empty()) p.stride_h = one_d ? 1 : strides[0], p.stride_w = strides.back();
  if (!dilations.empty()) p.dilation_h = one_d ? 1 : dilations[0], p.dilation_w = dilations.back();
  if (!pads.empty()) {
    if (one_d) {
      p.pad_left = pads[0];
      p.pad_right = pads[1];
    } else {
      p.pad_top = pads[0];
      p.pad_left = pads[1];
      p.pad_bottom = pads[2];
      p.pad_right = pads[3];
    }
  }
  const auto autopad = t.attributes.find("auto_pad");
  if (autopad != t.attributes.end() && autopad->second.find("SAME") != std::string::npos)
    p = qmath::with_same_padding(p, autopad->second.find("SAME_LOWER") != std::string::npos);
  return p;
}

class ConvOnnx : public ::testing::TestWithParam<qmath::isa> {
 protected:
  void SetUp() override {
    QMATH_SKIP_IF_UNSUPPORTED(GetParam());
    if (!have_vectors())
      GTEST_SKIP() << "ONNX conformance vectors not found under " << qmath_test::onnx_dir()
                   << " (../shared absent?): ConvInteger / QLinearConv conformance NOT tested";
  }
};

TEST_P(ConvOnnx, ConvInteger) {
  for (const char* name : {"test_convinteger_with_padding", "test_convinteger_without_padding"}) {
    OnnxTest t;
    ASSERT_TRUE(qmath_test::load_onnx_test("node", name, t)) << name;
    ASSERT_EQ(t.op, "ConvInteger");
    const qmath::ConvParams p = onnx_params(t, t.inputs.at(0).shape, t.inputs.at(1).shape);
    const auto x_nchw = qmath_test::as_vector<std::uint8_t>(t.inputs.at(0));
    const auto w = qmath_test::as_vector<std::uint8_t>(t.inputs.at(1));
    const std::int32_t zx = t.inputs.count(2) ? qmath_test::as_vector<std::uint8_t>(t.inputs.at(2)).at(0) : 0;
    std::vector<std::int32_t> zw{0};
    if (t.inputs.count(3)) {
      zw.clear();
      for (std::uint8_t z : qmath_test::as_vector<std::uint8_t>(t.inputs.at(3))) zw.push_back(z);
    }
    std::vector<std::uint8_t> x(x_nchw.size());
    qmath::nchw_to_nhwc(x_nchw.data(), p.batch, p.in_channels, p.in_h, p.in_w, x.data());
    const auto packed = qmath::pack_conv_weights<std::uint8_t>(w.data(), p, qmath::conv_weight_layout::oihw, zw.data(),
                                                               zw.size(), GetParam());
    std::vector<std::int32_t> y(static_cast<std::size_t>(p.batch * p.out_h() * p.out_w() * p.out_channels), -1);
    qmath::conv2d(p, x.data(), zx, packed, qmath::GemmOutputInt32{y.data(), p.out_channels});
    std::vector<std::int32_t> y_nchw(y.size());
    qmath::nhwc_to_nchw(y.data(), p.batch, p.out_channels, p.out_h(), p.out_w(), y_nchw.data());
    EXPECT_EQ(y_nchw, qmath_test::as_vector<std::int32_t>(t.outputs.at(0))) << name;
  }
}

TEST_P(ConvOnnx, QLinearConv) {
  OnnxTest t;
  ASSERT_TRUE(qmath_test::load_onnx_test("node", "test_qlinearconv", t));
  ASSERT_EQ(t.op, "QLinearConv");
  const qmath::ConvParams p = onnx_params(t, t.inputs.at(0).shape, t.inputs.at(3).shape);
  const auto x_nchw = qmath_test::as_vector<std::uint8_t>(t.inputs.at(0));
  const auto w = qmath_test::as_vector<std::uint8_t>(t.inputs.at(3));
  const float x_scale = qmath_test::as_vector<float>(t.inputs.at(1)).at(0);
  const std::int32_t zx = qmath_test::as_vector<std::uint8_t>(t.inputs.at(2)).at(0);
  const std::vector<float> w_scale = qmath_test::as_vector<float>(t.inputs.at(4));
  std::vector<std::int32_t> zw;
  for (std::uint8_t z : qmath_test::as_vector<std::uint8_t>(t.inputs.at(5))) zw.push_back(z);
  const float y_scale = qmath_test::as_vector<float>(t.inputs.at(6)).at(0);
  const std::int32_t zy = qmath_test::as_vector<std::uint8_t>(t.inputs.at(7)).at(0);
  std::vector<float> multiplier;  // ONNX's reference: acc * (x_scale * w_scale / y_scale), left to right, in float
  for (float s : w_scale) multiplier.push_back(x_scale * s / y_scale);
  std::vector<std::uint8_t> x(x_nchw.size());
  qmath::nchw_to_nhwc(x_nchw.data(), p.batch, p.in_channels, p.in_h, p.in_w, x.data());
  const auto packed = qmath::pack_conv_weights<std::uint8_t>(w.data(), p, qmath::conv_weight_layout::oihw, zw.data(),
                                                             zw.size(), GetParam());
  std::vector<std::uint8_t> y(static_cast<std::size_t>(p.batch * p.out_h() * p.out_w() * p.out_channels), 0x5A);
  qmath::conv2d(p, x.data(), zx, packed,
                qmath::GemmOutputRequantize<std::uint8_t>{y.data(), p.out_channels, multiplier.data(), multiplier.size(), zy});
  std::vector<std::uint8_t> y_nchw(y.size());
  qmath::nhwc_to_nchw(y.data(), p.batch, p.out_channels, p.out_h(), p.out_w(), y_nchw.data());
  EXPECT_EQ(y_nchw, qmath_test::as_vector<std::uint8_t>(t.outputs.at(0)));
}

INSTANTIATE_TEST_SUITE_P(Conv, ConvOnnx, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

// The fp32 reference against every fp32 Conv vector with 1-D or 2-D kernels.
TEST(ConvOnnxF32, ReferenceMatchesEveryConvVector) {
  if (!have_vectors()) GTEST_SKIP() << "ONNX conformance vectors not found under " << qmath_test::onnx_dir() << ": NOT tested";
  const std::pair<const char*, const char*> tests[] = {
      {"node", "test_conv_with_autopad_same"}, {"node", "test_conv_with_strides_and_asymmetric_padding"},
      {"node", "test_conv_with_strides_no_padding"}, {"node", "test_conv_with_strides_padding"},
      {"pytorch-converted", "test_Conv1d"}, {"pytorch-converted", "test_Conv1d_dilated"},
      {"pytorch-converted", "test_Conv1d_groups"}, {"pytorch-converted", "test_Conv1d_pad1"},
      {"pytorch-converted", "test_Conv1d_pad1size1"}, {"pytorch-converted", "test_Conv1d_pad2"},
      {"pytorch-converted", "test_Conv1d_pad2size1"}, {"pytorch-converted", "test_Conv1d_stride"},
      {"pytorch-converted", "test_Conv2d"}, {"pytorch-converted", "test_Conv2d_depthwise"},
      {"pytorch-converted", "test_Conv2d_depthwise_padded"}, {"pytorch-converted", "test_Conv2d_depthwise_strided"},
      {"pytorch-converted", "test_Conv2d_depthwise_with_multiplier"}, {"pytorch-converted", "test_Conv2d_dilated"},
      {"pytorch-converted", "test_Conv2d_groups"}, {"pytorch-converted", "test_Conv2d_groups_thnn"},
      {"pytorch-converted", "test_Conv2d_no_bias"}, {"pytorch-converted", "test_Conv2d_padding"},
      {"pytorch-converted", "test_Conv2d_strided"}};
  for (const auto& [folder, name] : tests) {
    OnnxTest t;
    ASSERT_TRUE(qmath_test::load_onnx_test(folder, name, t)) << name;
    ASSERT_EQ(t.op, "Conv") << name;
    const qmath::ConvParams p = onnx_params(t, t.inputs.at(0).shape, t.inputs.at(1).shape);
    const auto x_nchw = qmath_test::as_vector<float>(t.inputs.at(0));
    const auto w = qmath_test::as_vector<float>(t.inputs.at(1));
    std::vector<float> bias;
    if (t.inputs.count(2)) bias = qmath_test::as_vector<float>(t.inputs.at(2));
    std::vector<float> x(x_nchw.size());
    qmath::nchw_to_nhwc(x_nchw.data(), p.batch, p.in_channels, p.in_h, p.in_w, x.data());
    std::vector<float> y(static_cast<std::size_t>(p.batch * p.out_h() * p.out_w() * p.out_channels));
    qmath::kernels::ref::conv2d_f32(p, x.data(), w.data(), bias.empty() ? nullptr : bias.data(), y.data(), p.out_channels);
    std::vector<float> y_nchw(y.size());
    qmath::nhwc_to_nchw(y.data(), p.batch, p.out_channels, p.out_h(), p.out_w(), y_nchw.data());
    const auto want = qmath_test::as_vector<float>(t.outputs.at(0));
    ASSERT_EQ(y_nchw.size(), want.size()) << name << ": output shape";
    for (std::size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(y_nchw[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << name << " element " << i;
  }
}

}  // namespace
