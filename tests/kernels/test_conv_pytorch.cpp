// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_conv_pytorch.cpp: conv2d against torch.ao.nn.quantized.Conv2d (Debian's PyTorch 1.13, engines
// 'onednn' and 'qnnpack'; vectors written by tests/vectors/gen_conv_vectors.py), code for code, on every path this
// CPU runs. qmath's side is PyTorch's recipe: bias quantized to int32 with scale x_scale * w_scale[o] (round half to
// even), requantized with the float multiplier x_scale * w_scale[o] / y_scale. Where torch's code differs, the test
// requires it to be off by one and qmath's code to be the one the exact (double) computation rounds to.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/conv.hpp"
#include "support/gemm_tester.hpp"
#include "support/isa_params.hpp"

namespace {

struct TorchConvCase {
  std::string name;
  std::map<std::string, std::vector<std::string>> fields;
  std::vector<std::int64_t> ints(const std::string& key) const {
    std::vector<std::int64_t> v;
    for (const std::string& s : fields.at(key)) v.push_back(std::stoll(s));
    return v;
  }
  std::vector<float> floats(const std::string& key) const {
    std::vector<float> v;
    for (const std::string& s : fields.at(key)) {
      const std::uint32_t bits = static_cast<std::uint32_t>(std::stoul(s, nullptr, 16));
      float f;
      std::memcpy(&f, &bits, 4);
      v.push_back(f);
    }
    return v;
  }
};

std::vector<TorchConvCase> load_cases() {
  std::ifstream in(std::string(QMATH_TESTS_DIR) + "/vectors/conv/quantized_conv2d.txt");
  std::vector<TorchConvCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "case") {
      cases.emplace_back();
      words >> cases.back().name;
      continue;
    }
    std::vector<std::string> values;
    for (std::string v; words >> v;) values.push_back(v);
    cases.back().fields[key] = values;
  }
  return cases;
}

class ConvPytorch : public ::testing::TestWithParam<qmath::isa> {
 protected:
  void SetUp() override { QMATH_SKIP_IF_UNSUPPORTED(GetParam()); }
};

TEST_P(ConvPytorch, QuantizedConv2dCodeForCode) {
  const std::vector<TorchConvCase> cases = load_cases();
  ASSERT_EQ(cases.size(), 18u) << "tests/vectors/conv/quantized_conv2d.txt is missing or incomplete";
  std::size_t compared = 0, differ = 0;
  for (const TorchConvCase& c : cases) {
    const std::vector<std::int64_t> s = c.ints("shape");
    qmath::ConvParams p;
    p.batch = s[0];
    p.in_h = s[1];
    p.in_w = s[2];
    p.in_channels = s[3];
    p.out_channels = s[4];
    p.groups = s[5];
    p.kernel_h = s[6];
    p.kernel_w = s[7];
    p.stride_h = s[8];
    p.stride_w = s[9];
    p.pad_top = p.pad_bottom = s[10];
    p.pad_left = p.pad_right = s[11];
    p.dilation_h = s[12];
    p.dilation_w = s[13];
    const float x_scale = c.floats("x_scale")[0], y_scale = c.floats("y_scale")[0];
    const std::int32_t zx = static_cast<std::int32_t>(c.ints("x_zero_point")[0]);
    const std::int32_t zy = static_cast<std::int32_t>(c.ints("y_zero_point")[0]);
    std::vector<float> w_scales = c.floats("w_scales");
    const std::vector<float> bias = c.floats("bias");
    std::vector<std::uint8_t> x_nchw, x(static_cast<std::size_t>(p.batch * p.in_h * p.in_w * p.in_channels));
    for (std::int64_t v : c.ints("x")) x_nchw.push_back(static_cast<std::uint8_t>(v));
    std::vector<std::int8_t> w;
    for (std::int64_t v : c.ints("w")) w.push_back(static_cast<std::int8_t>(v));
    ASSERT_EQ(x_nchw.size(), x.size()) << c.name;
    qmath::nchw_to_nhwc(x_nchw.data(), p.batch, p.in_channels, p.in_h, p.in_w, x.data());
    if (w_scales.size() == 1) w_scales.assign(static_cast<std::size_t>(p.out_channels), w_scales[0]);
    std::vector<float> multiplier;
    std::vector<std::int32_t> bias_q;
    for (std::ptrdiff_t o = 0; o < p.out_channels; ++o) {
      const float product = x_scale * w_scales[static_cast<std::size_t>(o)];
      multiplier.push_back(product / y_scale);
      bias_q.push_back(static_cast<std::int32_t>(std::nearbyint(bias[static_cast<std::size_t>(o)] / product)));
    }
    const std::int32_t zw = 0;
    const auto packed = qmath::pack_conv_weights<std::int8_t>(w.data(), p, qmath::conv_weight_layout::oihw, &zw, 1, GetParam());
    const std::ptrdiff_t m = p.batch * p.out_h() * p.out_w();
    std::vector<std::uint8_t> y(static_cast<std::size_t>(m * p.out_channels));
    qmath::conv2d(p, x.data(), zx, packed,
                  qmath::GemmOutputRequantize<std::uint8_t>{y.data(), p.out_channels, multiplier.data(), multiplier.size(),
                                                            zy, bias_q.data()});
    std::vector<std::int32_t> acc(y.size());
    qmath::kernels::ref::conv2d_u8s8_i32<std::uint8_t, std::int8_t>(p, x.data(), zx, w.data(), &zw, false, acc.data(),
                                                                     p.out_channels);
    std::vector<std::uint8_t> y_nchw(y.size());
    qmath::nhwc_to_nchw(y.data(), p.batch, p.out_channels, p.out_h(), p.out_w(), y_nchw.data());
    const std::vector<std::int64_t> want = c.ints("y");
    ASSERT_EQ(want.size(), y.size()) << c.name;
    for (std::size_t i = 0; i < want.size(); ++i) {
      ++compared;
      if (want[i] == y_nchw[i]) continue;
      ++differ;
      // i is NCHW: channel and pixel of the element.
      const std::size_t hw = static_cast<std::size_t>(p.out_h() * p.out_w());
      const std::size_t o = i / hw % static_cast<std::size_t>(p.out_channels);
      const std::size_t pixel = i / (hw * static_cast<std::size_t>(p.out_channels)) * hw + i % hw;
      const double exact = (static_cast<double>(acc[pixel * static_cast<std::size_t>(p.out_channels) + o]) + bias_q[o]) *
                           static_cast<double>(x_scale) * w_scales[o] / y_scale;
      const double want_exact = std::min(255.0, std::max(0.0, std::nearbyint(exact) + zy));
      EXPECT_LE(std::abs(want[i] - static_cast<std::int64_t>(y_nchw[i])), 1) << c.name << " element " << i;
      EXPECT_EQ(static_cast<double>(y_nchw[i]), want_exact) << c.name << " element " << i << ": torch " << want[i]
                                                             << ", qmath " << +y_nchw[i] << ", exact " << exact + zy;
    }
  }
  std::printf("[qmath] torch quantized conv2d parity on %s: %zu of %zu codes differ from torch (each by one, qmath's "
              "the exactly rounded one)\n", qmath::isa_name(GetParam()), differ, compared);
}

INSTANTIATE_TEST_SUITE_P(Conv, ConvPytorch, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

}  // namespace
