// SPDX-License-Identifier: Apache-2.0
// tests/nn/test_static_torch.cpp: the static int8 layers against torch 1.13's quantized Linear, LinearReLU, Conv2d
// and ConvReLU2d given the same fp32 weights, bias and activation parameters (engines onednn and qnnpack; vectors by
// tests/vectors/gen_static_layer_vectors.py), code for code, on every path this CPU runs. The weight parameters and
// codes qmath chooses must equal torch's; where an output code differs it must be off by one, with qmath's code the
// one the exact (double) computation rounds to.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/nn/static_layers.hpp"
#include "support/gemm_tester.hpp"

namespace {

namespace nn = qmath::nn;

struct Case {
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
      const auto bits = static_cast<std::uint32_t>(std::stoul(s, nullptr, 16));
      float f;
      std::memcpy(&f, &bits, 4);
      v.push_back(f);
    }
    return v;
  }
  std::string text(const std::string& key) const { return fields.at(key).at(0); }
};

std::vector<Case> load_cases() {
  std::ifstream in(std::string(QMATH_TESTS_DIR) + "/vectors/nn/static_layers.txt");
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
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
    if (!cases.empty()) cases.back().fields[key] = values;
  }
  return cases;
}

class StaticTorch : public ::testing::TestWithParam<qmath::isa> {};

TEST_P(StaticTorch, LayersMatchTorchCodeForCode) {
  const qmath::isa path = GetParam();
  if (!qmath::has(qmath::supported_isas(), path)) GTEST_SKIP() << "this CPU lacks " << qmath::isa_name(path);
  const std::vector<Case> cases = load_cases();
  ASSERT_EQ(cases.size(), 12u) << "tests/vectors/nn/static_layers.txt is missing or incomplete";
  std::size_t compared = 0, differ = 0;
  for (const Case& c : cases) {
    const std::vector<std::int64_t> s = c.ints("shape");
    const std::ptrdiff_t batch = s[0], h = s[1], w = s[2], ic = s[3], oc = s[4], k = s[6], pad = s[10];
    const std::string layer = c.text("layer");
    const bool linear = layer.rfind("linear", 0) == 0;
    const nn::fused_activation act =
        layer.find("relu") != std::string::npos ? nn::fused_activation::relu : nn::fused_activation::none;
    const std::vector<float> w_float = c.floats("w_float"), bias = c.floats("bias"), w_scales = c.floats("w_scales");
    const bool per_channel = w_scales.size() > 1;
    const nn::ActivationQParams in{c.floats("x_scale")[0], static_cast<std::int32_t>(c.ints("x_zero_point")[0])};
    const nn::ActivationQParams out{c.floats("y_scale")[0], static_cast<std::int32_t>(c.ints("y_zero_point")[0])};
    // qmath's own choice of weight parameters is torch's default observer's.
    const qmath::QParams<std::int8_t> wq = nn::symmetric_weight_qparams(w_float.data(), w_float.size(), oc, per_channel);
    ASSERT_EQ(wq.scale, w_scales) << c.name;

    // Input codes NCHW -> NHWC.
    const std::vector<std::int64_t> x_nchw = c.ints("x");
    nn::QuantizedTensor x{Eigen::Tensor<std::uint8_t, 4, Eigen::RowMajor>(batch, h, w, ic), in.scale, in.zero_point};
    for (std::ptrdiff_t b = 0; b < batch; ++b)
      for (std::ptrdiff_t ch = 0; ch < ic; ++ch)
        for (std::ptrdiff_t i = 0; i < h; ++i)
          for (std::ptrdiff_t j = 0; j < w; ++j)
            x.codes(b, i, j, ch) = static_cast<std::uint8_t>(x_nchw[static_cast<std::size_t>(((b * ic + ch) * h + i) * w + j)]);

    nn::QuantizedTensor y;
    std::vector<std::int8_t> codes;
    std::vector<std::int32_t> bias_codes;
    std::vector<float> multipliers;
    if (linear) {
      const nn::StaticQuantizedLinear l(nn::Linear(w_float.data(), oc, ic, bias.data()), wq, in, out, act, path);
      y = l.forward(x);
      codes = l.weight_codes();
      bias_codes = l.bias_codes();
      multipliers = l.multipliers();
    } else {
      qmath::ConvParams f;
      f.in_channels = ic;
      f.out_channels = oc;
      f.kernel_h = f.kernel_w = k;
      f.pad_top = f.pad_left = f.pad_bottom = f.pad_right = pad;
      const nn::StaticQuantizedConv2d l(nn::Conv2d(f, w_float.data(), bias.data()), wq, in, out, act, path);
      y = l.forward(x);
      codes = l.weight_codes();
      bias_codes = l.bias_codes();
      multipliers = l.multipliers();
    }
    const std::vector<std::int64_t> torch_w = c.ints("w");
    for (std::size_t i = 0; i < codes.size(); ++i) ASSERT_EQ(codes[i], torch_w[i]) << c.name << " weight " << i;

    // Output codes, NCHW order of torch.
    const std::vector<std::int64_t> torch_y = c.ints("y");
    const std::ptrdiff_t oh = y.codes.dimension(1), ow = y.codes.dimension(2);
    ASSERT_EQ(static_cast<std::size_t>(y.codes.size()), torch_y.size()) << c.name;
    for (std::ptrdiff_t b = 0; b < batch; ++b)
      for (std::ptrdiff_t o = 0; o < oc; ++o)
        for (std::ptrdiff_t i = 0; i < oh; ++i)
          for (std::ptrdiff_t j = 0; j < ow; ++j) {
            const std::int64_t mine = y.codes(b, i, j, o), theirs = torch_y[static_cast<std::size_t>(((b * oc + o) * oh + i) * ow + j)];
            ++compared;
            if (mine == theirs) continue;
            ++differ;
            ASSERT_EQ(std::abs(mine - theirs), 1) << c.name << " output " << b << "," << o << "," << i << "," << j;
            // qmath's code is the exactly rounded one: recompute the accumulator in int64 and requantize in double.
            std::int64_t acc = 0;
            for (std::ptrdiff_t ch = 0; ch < ic; ++ch)
              for (std::ptrdiff_t kh = 0; kh < k; ++kh)
                for (std::ptrdiff_t kw = 0; kw < k; ++kw) {
                  const std::ptrdiff_t ih = i - pad + kh, iw = j - pad + kw;
                  if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                  acc += (std::int64_t{x.codes(b, ih, iw, ch)} - in.zero_point) *
                         codes[static_cast<std::size_t>(((o * ic + ch) * k + kh) * k + kw)];
                }
            const double exact = static_cast<double>(acc + bias_codes[static_cast<std::size_t>(o)]) *
                                     static_cast<double>(multipliers[static_cast<std::size_t>(o)]) + out.zero_point;
            EXPECT_LE(std::fabs(static_cast<double>(mine) - exact), 0.5 + 1e-6) << c.name << " exact " << exact;
          }
  }
  std::printf("[ %s: %zu of %zu codes equal torch's; the others off by one with qmath's the exactly rounded one ]\n",
              qmath::isa_name(path), compared - differ, compared);
  EXPECT_LT(differ * 1000, compared);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, StaticTorch, ::testing::ValuesIn(qmath_test::compiled_gemm_isa_list()),
                         qmath_test::gemm_isa_param_name);

}  // namespace
