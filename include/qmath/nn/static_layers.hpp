// SPDX-License-Identifier: Apache-2.0
// nn/static_layers.hpp: PyTorch's post-training static quantization mode as layers: int8 weights, uint8
// activations whose parameters were calibrated beforehand, int8 kernels from layer to layer (layers).
//
// An activation is uint8 codes q with one (scale Sx, zero point Zx) for the tensor: x ~ Sx * (q - Zx). A static
// layer with weights W ~ Sw[n] * Wq (int8, per tensor or per output channel, any zero point in int8) computes
//   C[m][n]  = sum_k (q[m][k] - Zx) * (Wq[n][k] - Zw[n])                 exact int32 (qmath::gemm / conv2d)
//   Bq[n]    = round_half_even(bias[n] / (Sx * Sw[n]))                    int32, once at construction
//   y[m][n]  = clamp(round_half_even(float(C + Bq) * M[n]) + Zy, lo, hi)  M[n] = Sx * Sw[n] / Sy in float
// (torch's quantized Conv2d / Linear with fbgemm or onednn do the same). The clamp is the fused activation:
// [0, 255] for none, [Zy, 255] for ReLU, [Zy, Zy + round(6 / Sy)] (capped at 255) for ReLU6.
//
// Simulation and deployment agree: the layer's dequantized output and the fake-quantized fp32 layer's output
//   FQ_y(act(conv(FQ_x(x), FQ_w(W)) + bias))
// differ by at most one output step Sy on every element (tests/nn/test_static_layers.cpp, every ISA path): both
// round a real value to the same grid; they differ only by the bias' rounding to int32 (at most Sx * Sw / 2), the
// float rounding of M and the fp32 sum's rounding, each far below a step, so a code can move by one where the
// real value lies within that distance of a rounding boundary, and never by more.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/conv.hpp"
#include "qmath/gemm.hpp"
#include "qmath/nn/layers.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"

QMATH_BEGIN_NAMESPACE
namespace nn {

/// uint8 NHWC codes with their per-tensor parameters.
struct QuantizedTensor {
  Eigen::Tensor<std::uint8_t, 4, Eigen::RowMajor> codes;
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

/// Parameters of a uint8 activation (per tensor).
struct ActivationQParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

/// The activation fused into a static layer's clamp.
enum class fused_activation { none, relu, relu6 };

namespace detail {

inline void check_activation(const ActivationQParams& p, const char* fn, const char* what) {
  if (!(std::isfinite(p.scale) && p.scale > 0.0f && std::isfinite(1.0f / p.scale)))
    qmath::detail::fail(fn, std::string(what) + " scale " + qmath::detail::float_text(p.scale) +
                                " is not finite and > 0 with a finite reciprocal");
  if (p.zero_point < 0 || p.zero_point > 255)
    qmath::detail::fail(fn, std::string(what) + " zero point " + std::to_string(p.zero_point) + " is outside [0, 255]");
}

inline void check_input(const QuantizedTensor& x, const ActivationQParams& expected, const char* fn) {
  if (x.scale != expected.scale || x.zero_point != expected.zero_point)
    qmath::detail::fail(fn, "the input's parameters (scale " + qmath::detail::float_text(x.scale) + ", zero point " +
                                std::to_string(x.zero_point) + ") are not the ones the layer was built for (scale " +
                                qmath::detail::float_text(expected.scale) + ", zero point " +
                                std::to_string(expected.zero_point) + ")");
}

/// Integer weights, int32 bias and requantization of a static layer with `outputs` channels whose weights are the
/// `count` floats w (outputs rows of count / outputs, row-major).
struct StaticWeights {
  std::vector<std::int8_t> codes;
  std::vector<float> weight_scale;
  std::vector<std::int32_t> weight_zero_point;
  std::vector<std::int32_t> bias;
  std::vector<float> multiplier;
  std::int32_t lo = 0, hi = 255;

  StaticWeights(const float* w, std::size_t count, std::ptrdiff_t outputs, const float* bias_f,
                const QParams<std::int8_t>& wq, ActivationQParams in, ActivationQParams out, fused_activation act,
                const char* fn) {
    check_activation(in, fn, "input");
    check_activation(out, fn, "output");
    const bool per_channel = wq.granularity.kind == granularity_kind::per_channel;
    qmath::detail::require(wq.granularity.kind == granularity_kind::per_tensor ||
                               (per_channel && wq.granularity.axis == 0),
                           fn, "weight parameters must be per tensor or per output channel (per_channel(0))");
    qmath::detail::require(!wq.has_float_zero_point() && wq.numerics == profile::pytorch, fn,
                           "weight parameters must have integer zero points and the pytorch profile");
    const TensorShape shape{{outputs, static_cast<std::int64_t>(count) / outputs}, storage_order::row_major};
    codes.resize(count);
    quantize<std::int8_t>(w, shape, wq, codes.data());  // checks the parameters
    const auto n = static_cast<std::size_t>(outputs);
    weight_scale.resize(n);
    weight_zero_point.resize(n);
    bias.resize(n);
    multiplier.resize(n);
    for (std::size_t o = 0; o < n; ++o) {
      const std::size_t slot = per_channel ? o : 0;
      weight_scale[o] = wq.scale[slot];
      weight_zero_point[o] = wq.zero_point[slot];
      const float product = in.scale * weight_scale[o];
      if (!(std::isfinite(product) && product > 0.0f))
        qmath::detail::fail(fn, "input scale x weight scale of channel " + std::to_string(o) +
                                    " is not a finite positive float");
      const double q = std::nearbyint(static_cast<double>(bias_f ? bias_f[o] : 0.0f) / static_cast<double>(product));
      if (!(std::fabs(q) <= 2147483647.0))
        qmath::detail::fail(fn, "bias of channel " + std::to_string(o) + " divided by input scale x weight scale (" +
                                    std::to_string(q) + ") does not fit int32");
      bias[o] = static_cast<std::int32_t>(q);
      multiplier[o] = product / out.scale;
      if (!(std::isfinite(multiplier[o]) && multiplier[o] > 0.0f))
        qmath::detail::fail(fn, "the requantization multiplier of channel " + std::to_string(o) +
                                    " (input scale x weight scale / output scale) is not a finite positive float");
    }
    if (act != fused_activation::none) lo = out.zero_point;
    if (act == fused_activation::relu6)
      hi = static_cast<std::int32_t>(std::min(255.0, out.zero_point + std::nearbyint(6.0 / out.scale)));
  }

  /// C + Bq must not wrap: |C| <= K * da * db (gemm.hpp), so |Bq| <= INT32_MAX - K * da * db.
  void check_bias_headroom(std::int64_t k, std::int32_t input_zero_point, std::int64_t max_b_distance,
                           const char* fn) const {
    const std::int64_t da = std::max<std::int64_t>(input_zero_point, 255 - input_zero_point);
    const std::int64_t room = std::int64_t{2147483647} - k * da * max_b_distance;
    for (std::size_t o = 0; o < bias.size(); ++o)
      if (room < 0 || std::abs(static_cast<std::int64_t>(bias[o])) > room)
        qmath::detail::fail(fn, "bias of channel " + std::to_string(o) + " in accumulator units (" +
                                    std::to_string(bias[o]) + ") plus the largest sum of K = " + std::to_string(k) +
                                    " products overflows int32");
  }

  bool uniform_zero_point() const noexcept {
    return std::all_of(weight_zero_point.begin(), weight_zero_point.end(),
                       [&](std::int32_t z) { return z == weight_zero_point[0]; });
  }
};

inline void apply_activation(Tensor4& y, fused_activation act) {
  if (act == fused_activation::none) return;
  const float cap = act == fused_activation::relu6 ? 6.0f : std::numeric_limits<float>::infinity();
  for (Eigen::Index i = 0; i < y.size(); ++i) y.data()[i] = std::min(std::max(y.data()[i], 0.0f), cap);
}

}  // namespace detail

/// Symmetric weight parameters as torch's default observers choose them: per tensor (MinMaxObserver, qint8
/// symmetric) or per output channel (PerChannelMinMaxObserver, per_channel_symmetric), with `bits` in [2, 8] as a
/// custom quant range [-2^(bits-1), 2^(bits-1) - 1]: S = max(max|w| / ((qmax - qmin) / 2), 2^-23) (max|w| / 127.5 for
/// 8 bits, / 7.5 for 4), zero point 0. The codes are int8 values in [qmin, qmax]. `w` holds `outputs` rows of
/// count / outputs values. @throws qmath::error on bits outside [2, 8] or a bad shape.
inline QParams<std::int8_t> symmetric_weight_qparams(const float* w, std::size_t count, std::ptrdiff_t outputs,
                                                     bool per_output_channel, int bits = 8) {
  qmath::detail::require(bits >= 2 && bits <= 8, "qmath::nn::symmetric_weight_qparams", "bits must be in [2, 8]");
  qmath::detail::require(outputs >= 1 && count % static_cast<std::size_t>(outputs) == 0,
                         "qmath::nn::symmetric_weight_qparams", "count must be a multiple of outputs >= 1");
  const TensorShape shape{{outputs, static_cast<std::int64_t>(count) / outputs}, storage_order::row_major};
  const Granularity g = per_output_channel ? per_channel(0) : per_tensor();
  const Ranges r = minmax_ranges(w, shape, g);
  QParams<std::int8_t> p;
  p.granularity = g;
  p.qmin = -(1 << (bits - 1));
  p.qmax = (1 << (bits - 1)) - 1;
  p.scale.resize(r.min.size());
  p.zero_point.assign(r.min.size(), 0);
  const float half_span = static_cast<float>(p.qmax - p.qmin) / 2.0f;
  for (std::size_t s = 0; s < r.min.size(); ++s)
    p.scale[s] = std::max(std::max(-std::min(r.min[s], 0.0f), std::max(r.max[s], 0.0f)) / half_span, FLT_EPSILON);
  return p;
}

/// fp32 -> uint8 codes with torch's numerics (quantize_per_tensor).
inline QuantizedTensor quantize_activation(const Tensor4& x, ActivationQParams p) {
  detail::check_activation(p, "qmath::nn::quantize_activation", "the");
  QuantizedTensor q{Eigen::Tensor<std::uint8_t, 4, Eigen::RowMajor>(x.dimensions()), p.scale, p.zero_point};
  quantize<std::uint8_t>(x.data(), static_cast<std::size_t>(x.size()), make_qparams<std::uint8_t>(p.scale, p.zero_point),
                         q.codes.data());
  return q;
}

/// uint8 codes -> fp32: (q - Z) * S.
inline Tensor4 dequantize_activation(const QuantizedTensor& q) {
  detail::check_activation({q.scale, q.zero_point}, "qmath::nn::dequantize_activation", "the");
  Tensor4 x(q.codes.dimensions());
  dequantize<std::uint8_t>(q.codes.data(), static_cast<std::size_t>(q.codes.size()),
                           make_qparams<std::uint8_t>(q.scale, q.zero_point), x.data());
  return x;
}

/// Static int8 Conv2d (torch.ao.nn.quantized.Conv2d / ConvReLU2d).
class StaticQuantizedConv2d {
 public:
  /// From an fp32 Conv2d, its weights' parameters (per tensor or per_channel(0) over OIHW), the calibrated input and
  /// output parameters and the fused activation. `path`: the GEMM kernels (isa::none: the active ones).
  /// @throws qmath::error on invalid parameters (see the top of this file for the derived quantities).
  StaticQuantizedConv2d(const Conv2d& fp32, const QParams<std::int8_t>& weight_qparams, ActivationQParams input,
                        ActivationQParams output, fused_activation act = fused_activation::none, isa path = isa::none)
      : filter_(fp32.filter()), input_(input), output_(output), act_(act),
        w_(fp32.weight().data(), fp32.weight_count(), fp32.filter().out_channels, fp32.bias().data(), weight_qparams,
           input, output, act, "qmath::nn::StaticQuantizedConv2d"),
        bias_(fp32.bias()) {
    const bool uniform = w_.uniform_zero_point();
    packed_ = pack_conv_weights<std::int8_t>(w_.codes.data(), filter_, conv_weight_layout::oihw,
                                             w_.weight_zero_point.data(),
                                             uniform ? 1 : w_.weight_zero_point.size(), path);
    const std::int64_t max_k = conv_max_k<std::uint8_t>(input.zero_point, packed_);
    if (packed_.k() > max_k)
      qmath::detail::fail("qmath::nn::StaticQuantizedConv2d",
                          "K = " + std::to_string(packed_.k()) + " exceeds " + std::to_string(max_k) +
                              ", the int32 exactness bound for these zero points");
    w_.check_bias_headroom(packed_.k(), input.zero_point, packed_.max_b_distance(), "qmath::nn::StaticQuantizedConv2d");
  }

  const ConvParams& filter() const noexcept { return filter_; }
  ActivationQParams input_qparams() const noexcept { return input_; }
  ActivationQParams output_qparams() const noexcept { return output_; }
  fused_activation activation() const noexcept { return act_; }
  const std::vector<std::int8_t>& weight_codes() const noexcept { return w_.codes; }
  const std::vector<float>& weight_scales() const noexcept { return w_.weight_scale; }
  const std::vector<std::int32_t>& bias_codes() const noexcept { return w_.bias; }
  const std::vector<float>& multipliers() const noexcept { return w_.multiplier; }
  const PackedConvWeights& packed_weights() const noexcept { return packed_; }
  /// Bytes a deployment stores: int8 weights, int32 bias, one float scale and multiplier per channel.
  std::size_t parameter_bytes() const noexcept { return w_.codes.size() + 12 * w_.bias.size(); }

  /// @throws qmath::error when x's parameters are not the calibrated input's, on a channel mismatch or an input
  ///         smaller than the padded kernel.
  QuantizedTensor forward(const QuantizedTensor& x, const GemmOptions& options = {}) const {
    constexpr const char* fn = "qmath::nn::StaticQuantizedConv2d::forward";
    detail::check_input(x, input_, fn);
    const ConvParams p =
        detail::conv_geometry(filter_, x.codes.dimension(0), x.codes.dimension(1), x.codes.dimension(2),
                              x.codes.dimension(3), fn);
    QuantizedTensor y{Eigen::Tensor<std::uint8_t, 4, Eigen::RowMajor>(p.batch, p.out_h(), p.out_w(), p.out_channels),
                      output_.scale, output_.zero_point};
    const bool per_channel = w_.multiplier.size() > 1;
    GemmOutputRequantize<std::uint8_t> out{y.codes.data(), p.out_channels, w_.multiplier.data(),
                                           per_channel ? w_.multiplier.size() : 1, output_.zero_point, w_.bias.data(),
                                           w_.lo, w_.hi};
    conv2d<std::uint8_t>(p, x.codes.data(), x.zero_point, packed_, out, options);
    return y;
  }

  /// The same layer with an fp32 output instead of codes (no output rounding, for a network's last layer):
  /// y = act(fma(float(C), Sx * Sw[n], bias[n])). The output parameters are not used.
  Tensor4 forward_float(const QuantizedTensor& x, const GemmOptions& options = {}) const {
    constexpr const char* fn = "qmath::nn::StaticQuantizedConv2d::forward_float";
    detail::check_input(x, input_, fn);
    const ConvParams p =
        detail::conv_geometry(filter_, x.codes.dimension(0), x.codes.dimension(1), x.codes.dimension(2),
                              x.codes.dimension(3), fn);
    Tensor4 y(p.batch, p.out_h(), p.out_w(), p.out_channels);
    conv2d<std::uint8_t>(p, x.codes.data(), x.zero_point, packed_,
                         GemmOutputDequantize{y.data(), p.out_channels, &input_.scale, 1, w_.weight_scale.data(),
                                              w_.weight_scale.size(), bias_.data()},
                         options);
    detail::apply_activation(y, act_);
    return y;
  }

 private:
  ConvParams filter_;
  ActivationQParams input_, output_;
  fused_activation act_;
  detail::StaticWeights w_;
  std::vector<float> bias_;  // fp32, for forward_float
  PackedConvWeights packed_;
};

/// Static int8 Linear (torch.ao.nn.quantized.Linear / LinearReLU): each image's H * W * C codes are one row.
class StaticQuantizedLinear {
 public:
  /// As StaticQuantizedConv2d; weight_qparams per tensor or per_channel(0) over the [out, in] weight.
  StaticQuantizedLinear(const Linear& fp32, const QParams<std::int8_t>& weight_qparams, ActivationQParams input,
                        ActivationQParams output, fused_activation act = fused_activation::none, isa path = isa::none)
      : in_features_(fp32.in_features()), out_features_(fp32.out_features()), input_(input), output_(output), act_(act),
        w_(fp32.weight().data(), static_cast<std::size_t>(fp32.weight().size()), fp32.out_features(),
           fp32.bias().data(), weight_qparams, input, output, act, "qmath::nn::StaticQuantizedLinear"),
        bias_(fp32.bias().data(), fp32.bias().data() + fp32.out_features()) {
    const bool uniform = w_.uniform_zero_point();
    packed_ = pack_gemm_b<std::int8_t>(w_.codes.data(), in_features_, out_features_, in_features_,
                                       gemm_b_order::n_by_k, w_.weight_zero_point.data(),
                                       uniform ? 1 : w_.weight_zero_point.size(), path);
    const std::int64_t max_k = gemm_max_k<std::uint8_t>(&input.zero_point, 1, packed_);
    if (in_features_ > max_k)
      qmath::detail::fail("qmath::nn::StaticQuantizedLinear",
                          "in_features = " + std::to_string(in_features_) + " exceeds " + std::to_string(max_k) +
                              ", the int32 exactness bound for these zero points");
    w_.check_bias_headroom(in_features_, input.zero_point, packed_.max_b_distance(), "qmath::nn::StaticQuantizedLinear");
  }

  std::ptrdiff_t in_features() const noexcept { return in_features_; }
  std::ptrdiff_t out_features() const noexcept { return out_features_; }
  ActivationQParams input_qparams() const noexcept { return input_; }
  ActivationQParams output_qparams() const noexcept { return output_; }
  fused_activation activation() const noexcept { return act_; }
  const std::vector<std::int8_t>& weight_codes() const noexcept { return w_.codes; }
  const std::vector<float>& weight_scales() const noexcept { return w_.weight_scale; }
  const std::vector<std::int32_t>& bias_codes() const noexcept { return w_.bias; }
  const std::vector<float>& multipliers() const noexcept { return w_.multiplier; }
  std::size_t parameter_bytes() const noexcept { return w_.codes.size() + 12 * w_.bias.size(); }

  /// [N, H, W, C] codes with H * W * C = in_features -> [N, 1, 1, out_features].
  QuantizedTensor forward(const QuantizedTensor& x, const GemmOptions& options = {}) const {
    constexpr const char* fn = "qmath::nn::StaticQuantizedLinear::forward";
    detail::check_input(x, input_, fn);
    const std::ptrdiff_t n = x.codes.dimension(0), k = x.codes.dimension(1) * x.codes.dimension(2) * x.codes.dimension(3);
    if (k != in_features_)
      qmath::detail::fail(fn, "the input " + detail::dims_text(x.codes) + " has " + std::to_string(k) +
                                  " features per image, the layer takes " + std::to_string(in_features_));
    QuantizedTensor y{Eigen::Tensor<std::uint8_t, 4, Eigen::RowMajor>(n, 1, 1, out_features_), output_.scale,
                      output_.zero_point};
    if (n == 0) return y;
    const bool per_channel = w_.multiplier.size() > 1;
    gemm(GemmA<std::uint8_t>{x.codes.data(), n, in_features_, &x.zero_point, 1}, packed_,
         GemmOutputRequantize<std::uint8_t>{y.codes.data(), out_features_, w_.multiplier.data(),
                                            per_channel ? w_.multiplier.size() : 1, output_.zero_point,
                                            w_.bias.data(), w_.lo, w_.hi},
         options);
    return y;
  }

  /// As StaticQuantizedConv2d::forward_float.
  Tensor4 forward_float(const QuantizedTensor& x, const GemmOptions& options = {}) const {
    constexpr const char* fn = "qmath::nn::StaticQuantizedLinear::forward_float";
    detail::check_input(x, input_, fn);
    const std::ptrdiff_t n = x.codes.dimension(0), k = x.codes.dimension(1) * x.codes.dimension(2) * x.codes.dimension(3);
    if (k != in_features_)
      qmath::detail::fail(fn, "the input " + detail::dims_text(x.codes) + " has " + std::to_string(k) +
                                  " features per image, the layer takes " + std::to_string(in_features_));
    Tensor4 y(n, 1, 1, out_features_);
    if (n == 0) return y;
    gemm(GemmA<std::uint8_t>{x.codes.data(), n, in_features_, &x.zero_point, 1}, packed_,
         GemmOutputDequantize{y.data(), out_features_, &input_.scale, 1, w_.weight_scale.data(), w_.weight_scale.size(),
                              bias_.data()},
         options);
    detail::apply_activation(y, act_);
    return y;
  }

 private:
  std::ptrdiff_t in_features_, out_features_;
  ActivationQParams input_, output_;
  fused_activation act_;
  detail::StaticWeights w_;
  std::vector<float> bias_;
  PackedGemmB packed_;
};

/// Max pooling on codes (torch's quantized max_pool2d): the output keeps the input's parameters.
struct QuantizedMaxPool2d {
  MaxPool2d window;
  QuantizedTensor forward(const QuantizedTensor& x) const { return {window.pool(x.codes), x.scale, x.zero_point}; }
};

/// Flatten on codes, (c, h, w) order as nn::Flatten.
struct QuantizedFlatten {
  QuantizedTensor forward(const QuantizedTensor& x) const { return {Flatten{}.flatten(x.codes), x.scale, x.zero_point}; }
};

/// Residual addition of two uint8 tensors into the output's parameters (torch's quantized add):
/// y = clamp(round_half_even((Sa (qa - Za) + Sb (qb - Zb)) / Sy) + Zy, lo, hi), computed in double per element.
inline QuantizedTensor quantized_add(const QuantizedTensor& a, const QuantizedTensor& b, ActivationQParams output,
                                     fused_activation act = fused_activation::none) {
  constexpr const char* fn = "qmath::nn::quantized_add";
  detail::check_activation({a.scale, a.zero_point}, fn, "first input");
  detail::check_activation({b.scale, b.zero_point}, fn, "second input");
  detail::check_activation(output, fn, "output");
  if (a.codes.dimensions() != b.codes.dimensions())
    qmath::detail::fail(fn, "shapes " + detail::dims_text(a.codes) + " and " + detail::dims_text(b.codes) + " differ");
  QuantizedTensor y{Eigen::Tensor<std::uint8_t, 4, Eigen::RowMajor>(a.codes.dimensions()), output.scale,
                    output.zero_point};
  const double lo = act == fused_activation::none ? 0.0 : output.zero_point;
  const double hi = act == fused_activation::relu6 ? std::min(255.0, output.zero_point + std::nearbyint(6.0 / output.scale))
                                                   : 255.0;
  for (Eigen::Index i = 0; i < a.codes.size(); ++i) {
    const double real = static_cast<double>(a.scale) * (a.codes.data()[i] - a.zero_point) +
                        static_cast<double>(b.scale) * (b.codes.data()[i] - b.zero_point);
    const double q = std::nearbyint(real / output.scale) + output.zero_point;
    y.codes.data()[i] = static_cast<std::uint8_t>(std::min(std::max(q, lo), hi));
  }
  return y;
}

}  // namespace nn
QMATH_END_NAMESPACE  // qmath
