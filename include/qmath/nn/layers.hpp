// SPDX-License-Identifier: Apache-2.0
// nn/layers.hpp: the fp32 reference layers a quantized network is made from, on NHWC activations (layers).
//
// Activations are `nn::Tensor4`, an Eigen row-major tensor indexed (batch, height, width, channels): NHWC, the
// layout qmath's int8 convolution reads, so the fp32 and int8 networks share one layout and no transposes.
// A Linear reads each image's H * W * C values as one row (after Flatten that is [N, 1, 1, features]).
// Weights are given as PyTorch stores them (Conv2d OIHW, Linear [out, in]); Flatten orders features as torch's
// flatten of NCHW does (c, h, w), so a torch Linear that follows it takes its weights unchanged.
//
// Every forward() checks its input's shape and throws qmath::error before writing anything. fp32 Conv2d and
// Linear are Eigen matrix products (im2col per image for Conv2d); they are the baseline the int8 layers are
// measured and checked against, not a tuned fp32 library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/core/config.hpp"
#include "qmath/core/conv_params.hpp"
#include "qmath/core/error.hpp"

QMATH_BEGIN_NAMESPACE
namespace nn {

/// NHWC activations: (batch, height, width, channels), row-major.
using Tensor4 = Eigen::Tensor<float, 4, Eigen::RowMajor>;

namespace detail {

inline std::string dims_text(std::ptrdiff_t n, std::ptrdiff_t h, std::ptrdiff_t w, std::ptrdiff_t c) {
  return "[" + std::to_string(n) + ", " + std::to_string(h) + ", " + std::to_string(w) + ", " + std::to_string(c) + "]";
}

template <class T>
std::string dims_text(const T& x) {
  return dims_text(x.dimension(0), x.dimension(1), x.dimension(2), x.dimension(3));
}

inline void check_finite(const float* v, std::size_t n, const char* fn, const char* what) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) qmath::detail::fail(fn, std::string(what) + " element " + std::to_string(i) + " is not finite");
}

/// The filter part of ConvParams (channels, groups, kernel, stride, padding, dilation) with the input's N, H, W.
inline ConvParams conv_geometry(const ConvParams& filter, std::ptrdiff_t n, std::ptrdiff_t h, std::ptrdiff_t w,
                                std::ptrdiff_t c, const char* fn) {
  if (c != filter.in_channels)
    qmath::detail::fail(fn, "the input has " + std::to_string(c) + " channels, the layer takes " +
                                std::to_string(filter.in_channels));
  ConvParams p = filter;
  p.batch = n;
  p.in_h = h;
  p.in_w = w;
  if (p.out_h() < 1 || p.out_w() < 1)
    qmath::detail::fail(fn, "the input " + dims_text(n, h, w, c) + " is smaller than the padded kernel");
  return p;
}

/// Rows of image b's im2col matrix for group g: row (y, x) holds the taps (kh, kw, c) of output pixel (y, x),
/// zeros where the tap falls in the padding. `row` is the first of out_h * out_w rows of K = kh * kw * cg floats.
inline void im2col_image(const ConvParams& p, const float* x, std::ptrdiff_t b, std::ptrdiff_t g, float* row) {
  const std::ptrdiff_t cg = p.in_channels / p.groups;
  for (std::ptrdiff_t y0 = 0; y0 < p.out_h(); ++y0)
    for (std::ptrdiff_t x0 = 0; x0 < p.out_w(); ++x0)
      for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
        for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw, row += cg) {
          const std::ptrdiff_t ih = y0 * p.stride_h - p.pad_top + kh * p.dilation_h;
          const std::ptrdiff_t iw = x0 * p.stride_w - p.pad_left + kw * p.dilation_w;
          if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) {
            std::fill(row, row + cg, 0.0f);
          } else {
            const float* src = x + ((b * p.in_h + ih) * p.in_w + iw) * p.in_channels + g * cg;
            std::copy(src, src + cg, row);
          }
        }
}

/// The adjoint of im2col_image: adds each row's taps back into image b's gradient dx (NHWC).
inline void col2im_image(const ConvParams& p, const float* row, std::ptrdiff_t b, std::ptrdiff_t g, float* dx) {
  const std::ptrdiff_t cg = p.in_channels / p.groups;
  for (std::ptrdiff_t y0 = 0; y0 < p.out_h(); ++y0)
    for (std::ptrdiff_t x0 = 0; x0 < p.out_w(); ++x0)
      for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
        for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw, row += cg) {
          const std::ptrdiff_t ih = y0 * p.stride_h - p.pad_top + kh * p.dilation_h;
          const std::ptrdiff_t iw = x0 * p.stride_w - p.pad_left + kw * p.dilation_w;
          if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
          float* dst = dx + ((b * p.in_h + ih) * p.in_w + iw) * p.in_channels + g * cg;
          for (std::ptrdiff_t c = 0; c < cg; ++c) dst[c] += row[c];
        }
}

/// OIHW weights as one K x OCg row-major matrix per group, k = (kh * kernel_w + kw) * cg + c (im2col's order).
inline std::vector<float> pack_filter(const ConvParams& f, const float* w_oihw) {
  const std::ptrdiff_t cg = f.in_channels / f.groups, ocg = f.out_channels / f.groups;
  const std::ptrdiff_t kg = f.kernel_h * f.kernel_w * cg;
  std::vector<float> packed(static_cast<std::size_t>(f.out_channels * kg));
  for (std::ptrdiff_t o = 0; o < f.out_channels; ++o)
    for (std::ptrdiff_t c = 0; c < cg; ++c)
      for (std::ptrdiff_t kh = 0; kh < f.kernel_h; ++kh)
        for (std::ptrdiff_t kw = 0; kw < f.kernel_w; ++kw) {
          const std::ptrdiff_t g = o / ocg, j = o % ocg, k = (kh * f.kernel_w + kw) * cg + c;
          packed[static_cast<std::size_t>(g * kg * ocg + k * ocg + j)] =
              w_oihw[((o * cg + c) * f.kernel_h + kh) * f.kernel_w + kw];
        }
  return packed;
}

/// Output size of a pooling window (floor mode, torch's default); 0 when the window does not fit.
inline std::ptrdiff_t pooled(std::ptrdiff_t in, std::ptrdiff_t kernel, std::ptrdiff_t stride, std::ptrdiff_t pad) {
  return in + 2 * pad < kernel ? 0 : (in + 2 * pad - kernel) / stride + 1;
}

}  // namespace detail

/// PyTorch's Conv2d: y = conv(x, W) + bias, with all of ConvParams' geometry (batch, in_h and in_w are taken from
/// each input and ignored here).
class Conv2d {
 public:
  /// weight_oihw: out_channels x in_channels / groups x kernel_h x kernel_w; bias: out_channels entries or nullptr.
  /// @throws qmath::error on invalid geometry, a null weight, or non-finite weights / bias.
  Conv2d(const ConvParams& filter, const float* weight_oihw, const float* bias) : filter_(filter) {
    constexpr const char* fn = "qmath::nn::Conv2d";
    filter_.batch = 1;
    filter_.in_h = filter_.in_w = 1;
    qmath::detail::require(filter.in_channels >= 1 && filter.out_channels >= 1 && filter.groups >= 1 &&
                               filter.in_channels % filter.groups == 0 && filter.out_channels % filter.groups == 0,
                           fn, "channels must be >= 1 and divisible by groups");
    qmath::detail::require(filter.kernel_h >= 1 && filter.kernel_w >= 1 && filter.stride_h >= 1 &&
                               filter.stride_w >= 1 && filter.dilation_h >= 1 && filter.dilation_w >= 1,
                           fn, "kernel, stride and dilation must be >= 1");
    qmath::detail::require(filter.pad_top >= 0 && filter.pad_left >= 0 && filter.pad_bottom >= 0 &&
                               filter.pad_right >= 0, fn, "padding must be >= 0");
    qmath::detail::require(weight_oihw != nullptr, fn, "null weight");
    weight_.assign(weight_oihw, weight_oihw + weight_count());
    detail::check_finite(weight_.data(), weight_.size(), fn, "weight");
    bias_.assign(static_cast<std::size_t>(filter.out_channels), 0.0f);
    if (bias) std::copy(bias, bias + filter.out_channels, bias_.begin());
    detail::check_finite(bias_.data(), bias_.size(), fn, "bias");
    repack();
  }

  /// The geometry (batch = in_h = in_w = 1), the OIHW weights and the bias (zeros when none was given).
  const ConvParams& filter() const noexcept { return filter_; }
  const std::vector<float>& weight() const noexcept { return weight_; }
  const std::vector<float>& bias() const noexcept { return bias_; }
  std::size_t weight_count() const noexcept {
    return static_cast<std::size_t>(filter_.out_channels * (filter_.in_channels / filter_.groups) * filter_.kernel_h *
                                    filter_.kernel_w);
  }

  /// Replaces the weights (same count, OIHW) and / or the bias (out_channels; nullptr keeps the current one).
  void set_parameters(const float* weight_oihw, const float* bias) {
    constexpr const char* fn = "qmath::nn::Conv2d::set_parameters";
    if (weight_oihw) detail::check_finite(weight_oihw, weight_count(), fn, "weight");
    if (bias) detail::check_finite(bias, bias_.size(), fn, "bias");
    if (weight_oihw) std::copy(weight_oihw, weight_oihw + weight_count(), weight_.begin());
    if (bias) std::copy(bias, bias + bias_.size(), bias_.begin());
    repack();
  }

  /// The convolution's parameters for an input of this shape. @throws qmath::error on a channel mismatch or an
  /// input smaller than the padded kernel.
  ConvParams geometry(const Tensor4& x) const {
    return detail::conv_geometry(filter_, x.dimension(0), x.dimension(1), x.dimension(2), x.dimension(3),
                                 "qmath::nn::Conv2d::forward");
  }

  Tensor4 forward(const Tensor4& x) const {
    const ConvParams p = geometry(x);
    const std::ptrdiff_t oh = p.out_h(), ow = p.out_w(), pixels = oh * ow;
    const std::ptrdiff_t oc = p.out_channels, cg = p.in_channels / p.groups, ocg = oc / p.groups;
    const std::ptrdiff_t kg = p.kernel_h * p.kernel_w * cg;
    Tensor4 y(p.batch, oh, ow, oc);
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    // Several images per product (about 128 KiB of columns): one larger GEMM instead of many small ones.
    const std::ptrdiff_t chunk = std::max<std::ptrdiff_t>(1, std::min<std::ptrdiff_t>(p.batch, (1 << 15) / std::max<std::ptrdiff_t>(1, pixels * kg)));
    RowMatrix columns(chunk * pixels, kg);
    for (std::ptrdiff_t b0 = 0; b0 < p.batch; b0 += chunk) {
      const std::ptrdiff_t images = std::min(chunk, p.batch - b0), rows = images * pixels;
      for (std::ptrdiff_t g = 0; g < p.groups; ++g) {
        for (std::ptrdiff_t b = b0; b < b0 + images; ++b)
          detail::im2col_image(p, x.data(), b, g, columns.data() + (b - b0) * pixels * kg);
        Eigen::Map<const RowMatrix> w(packed_.data() + g * kg * ocg, kg, ocg);
        Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>> out(y.data() + b0 * pixels * oc + g * ocg, rows, ocg,
                                                           Eigen::OuterStride<>(oc));
        out.noalias() = columns.topRows(rows) * w;
        out.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias_.data() + g * ocg, ocg);
      }
    }
    return y;
  }

 private:
  void repack() { packed_ = detail::pack_filter(filter_, weight_.data()); }

  ConvParams filter_;
  std::vector<float> weight_, bias_, packed_;
};

/// PyTorch's Linear: y[n][:] = W x[n] + bias, x[n] being image n's H * W * C values in NHWC order; the output is
/// [N, 1, 1, out_features].
class Linear {
 public:
  /// weight: out_features x in_features row-major; bias: out_features entries or nullptr.
  /// @throws qmath::error on sizes < 1, a null weight or non-finite parameters.
  Linear(const float* weight, std::ptrdiff_t out_features, std::ptrdiff_t in_features, const float* bias) {
    constexpr const char* fn = "qmath::nn::Linear";
    qmath::detail::require(out_features >= 1 && in_features >= 1, fn, "out_features and in_features must be >= 1");
    qmath::detail::require(weight != nullptr, fn, "null weight");
    weight_ = Eigen::Map<const Matrix>(weight, out_features, in_features);
    detail::check_finite(weight_.data(), static_cast<std::size_t>(weight_.size()), fn, "weight");
    bias_ = Eigen::RowVectorXf::Zero(out_features);
    if (bias) bias_ = Eigen::Map<const Eigen::RowVectorXf>(bias, out_features);
    detail::check_finite(bias_.data(), static_cast<std::size_t>(bias_.size()), fn, "bias");
  }

  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::ptrdiff_t in_features() const noexcept { return weight_.cols(); }
  std::ptrdiff_t out_features() const noexcept { return weight_.rows(); }
  const Matrix& weight() const noexcept { return weight_; }
  const Eigen::RowVectorXf& bias() const noexcept { return bias_; }
  /// Replaces the weights (out x in row-major) and / or the bias (nullptr keeps the current one).
  void set_parameters(const float* weight, const float* bias) {
    constexpr const char* fn = "qmath::nn::Linear::set_parameters";
    if (weight) detail::check_finite(weight, static_cast<std::size_t>(weight_.size()), fn, "weight");
    if (bias) detail::check_finite(bias, static_cast<std::size_t>(bias_.size()), fn, "bias");
    if (weight) weight_ = Eigen::Map<const Matrix>(weight, weight_.rows(), weight_.cols());
    if (bias) bias_ = Eigen::Map<const Eigen::RowVectorXf>(bias, bias_.size());
  }

  Tensor4 forward(const Tensor4& x) const {
    const std::ptrdiff_t n = x.dimension(0), k = x.dimension(1) * x.dimension(2) * x.dimension(3);
    if (k != in_features())
      qmath::detail::fail("qmath::nn::Linear::forward", "the input " + detail::dims_text(x) + " has " +
                                                            std::to_string(k) + " features per image, the layer takes " +
                                                            std::to_string(in_features()));
    Tensor4 y(n, 1, 1, out_features());
    Eigen::Map<Matrix> out(y.data(), n, out_features());
    out.noalias() = Eigen::Map<const Matrix>(x.data(), n, k) * weight_.transpose();
    out.rowwise() += bias_;
    return y;
  }

 private:
  Matrix weight_;
  Eigen::RowVectorXf bias_;
};

/// max(x, 0), or min(max(x, 0), cap): ReLU{} is torch's ReLU, ReLU{6} its ReLU6. NaN stays NaN.
struct ReLU {
  float cap = std::numeric_limits<float>::infinity();

  Tensor4 forward(const Tensor4& x) const {
    Tensor4 y(x.dimensions());
    const float c = cap;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      const float v = x.data()[i];
      y.data()[i] = v < 0.0f ? 0.0f : v > c ? c : v;
    }
    return y;
  }
};

/// Max pooling over kernel x kernel windows (torch MaxPool2d, floor mode, padding never chosen). Templated on the
/// element type so that the same code pools uint8 codes (max commutes with a monotone dequantization).
struct MaxPool2d {
  std::ptrdiff_t kernel = 2, stride = 2, padding = 0;

  template <class T>
  Eigen::Tensor<T, 4, Eigen::RowMajor> pool(const Eigen::Tensor<T, 4, Eigen::RowMajor>& x) const {
    constexpr const char* fn = "qmath::nn::MaxPool2d::forward";
    qmath::detail::require(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel, fn,
                           "kernel and stride must be >= 1 and padding in [0, kernel / 2]");
    const std::ptrdiff_t n = x.dimension(0), h = x.dimension(1), w = x.dimension(2), c = x.dimension(3);
    const std::ptrdiff_t oh = detail::pooled(h, kernel, stride, padding), ow = detail::pooled(w, kernel, stride, padding);
    if (oh < 1 || ow < 1) qmath::detail::fail(fn, "the input " + detail::dims_text(x) + " is smaller than the window");
    Eigen::Tensor<T, 4, Eigen::RowMajor> y(n, oh, ow, c);
    for (std::ptrdiff_t b = 0; b < n; ++b)
      for (std::ptrdiff_t i = 0; i < oh; ++i)
        for (std::ptrdiff_t j = 0; j < ow; ++j) {
          T* out = y.data() + ((b * oh + i) * ow + j) * c;
          bool first = true;
          for (std::ptrdiff_t di = 0; di < kernel; ++di)
            for (std::ptrdiff_t dj = 0; dj < kernel; ++dj) {
              const std::ptrdiff_t ih = i * stride - padding + di, iw = j * stride - padding + dj;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              const T* in = x.data() + ((b * h + ih) * w + iw) * c;
              for (std::ptrdiff_t ch = 0; ch < c; ++ch) out[ch] = first ? in[ch] : std::max(out[ch], in[ch]);
              first = false;
            }
        }
    return y;
  }
  Tensor4 forward(const Tensor4& x) const { return pool(x); }
};

/// Average pooling over kernel x kernel windows (torch AvgPool2d, floor mode, count_include_pad = true).
struct AvgPool2d {
  std::ptrdiff_t kernel = 2, stride = 2, padding = 0;

  Tensor4 forward(const Tensor4& x) const {
    constexpr const char* fn = "qmath::nn::AvgPool2d::forward";
    qmath::detail::require(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel, fn,
                           "kernel and stride must be >= 1 and padding in [0, kernel / 2]");
    const std::ptrdiff_t n = x.dimension(0), h = x.dimension(1), w = x.dimension(2), c = x.dimension(3);
    const std::ptrdiff_t oh = detail::pooled(h, kernel, stride, padding), ow = detail::pooled(w, kernel, stride, padding);
    if (oh < 1 || ow < 1) qmath::detail::fail(fn, "the input " + detail::dims_text(x) + " is smaller than the window");
    Tensor4 y(n, oh, ow, c);
    y.setZero();
    const float inv = 1.0f / static_cast<float>(kernel * kernel);
    for (std::ptrdiff_t b = 0; b < n; ++b)
      for (std::ptrdiff_t i = 0; i < oh; ++i)
        for (std::ptrdiff_t j = 0; j < ow; ++j) {
          float* out = y.data() + ((b * oh + i) * ow + j) * c;
          for (std::ptrdiff_t di = 0; di < kernel; ++di)
            for (std::ptrdiff_t dj = 0; dj < kernel; ++dj) {
              const std::ptrdiff_t ih = i * stride - padding + di, iw = j * stride - padding + dj;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              const float* in = x.data() + ((b * h + ih) * w + iw) * c;
              for (std::ptrdiff_t ch = 0; ch < c; ++ch) out[ch] += in[ch];
            }
          for (std::ptrdiff_t ch = 0; ch < c; ++ch) out[ch] *= inv;
        }
    return y;
  }
};

/// [N, H, W, C] -> [N, 1, 1, C * H * W] with features in torch's (c, h, w) order.
struct Flatten {
  template <class T>
  Eigen::Tensor<T, 4, Eigen::RowMajor> flatten(const Eigen::Tensor<T, 4, Eigen::RowMajor>& x) const {
    const std::ptrdiff_t n = x.dimension(0), h = x.dimension(1), w = x.dimension(2), c = x.dimension(3);
    Eigen::Tensor<T, 4, Eigen::RowMajor> y(n, 1, 1, c * h * w);
    for (std::ptrdiff_t b = 0; b < n; ++b)
      for (std::ptrdiff_t i = 0; i < h; ++i)
        for (std::ptrdiff_t j = 0; j < w; ++j)
          for (std::ptrdiff_t ch = 0; ch < c; ++ch)
            y.data()[b * c * h * w + (ch * h + i) * w + j] = x.data()[((b * h + i) * w + j) * c + ch];
    return y;
  }
  Tensor4 forward(const Tensor4& x) const { return flatten(x); }
};

/// BatchNorm2d in inference mode: y = (x - mean) / sqrt(var + eps) * gamma + beta per channel.
class BatchNorm2d {
 public:
  /// Each array has `channels` entries; var >= 0, eps > 0. @throws qmath::error otherwise or on non-finite values.
  BatchNorm2d(std::ptrdiff_t channels, const float* gamma, const float* beta, const float* running_mean,
              const float* running_var, float eps = 1e-5f) : eps_(eps) {
    constexpr const char* fn = "qmath::nn::BatchNorm2d";
    qmath::detail::require(channels >= 1, fn, "channels must be >= 1");
    qmath::detail::require(gamma && beta && running_mean && running_var, fn, "null parameter array");
    qmath::detail::require(std::isfinite(eps) && eps > 0.0f, fn, "eps must be finite and > 0");
    const auto n = static_cast<std::size_t>(channels);
    gamma_.assign(gamma, gamma + n);
    beta_.assign(beta, beta + n);
    mean_.assign(running_mean, running_mean + n);
    var_.assign(running_var, running_var + n);
    for (const auto* v : {&gamma_, &beta_, &mean_, &var_}) detail::check_finite(v->data(), n, fn, "parameter");
    for (float v : var_) qmath::detail::require(v >= 0.0f, fn, "running_var must be >= 0");
  }

  std::ptrdiff_t channels() const noexcept { return static_cast<std::ptrdiff_t>(gamma_.size()); }
  const std::vector<float>& gamma() const noexcept { return gamma_; }
  const std::vector<float>& beta() const noexcept { return beta_; }
  const std::vector<float>& running_mean() const noexcept { return mean_; }
  const std::vector<float>& running_var() const noexcept { return var_; }
  float eps() const noexcept { return eps_; }

  Tensor4 forward(const Tensor4& x) const {
    const std::ptrdiff_t c = x.dimension(3);
    if (c != channels())
      qmath::detail::fail("qmath::nn::BatchNorm2d::forward", "the input " + detail::dims_text(x) + " has " +
                                                                 std::to_string(c) + " channels, the layer " +
                                                                 std::to_string(channels()));
    Tensor4 y(x.dimensions());
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      const auto ch = static_cast<std::size_t>(i % c);
      const float inv_std = 1.0f / std::sqrt(var_[ch] + eps_);
      y.data()[i] = (x.data()[i] - mean_[ch]) * inv_std * gamma_[ch] + beta_[ch];
    }
    return y;
  }

 private:
  float eps_;
  std::vector<float> gamma_, beta_, mean_, var_;
};

/// Residual addition a + b of two equally shaped activations. @throws qmath::error on a shape mismatch.
inline Tensor4 add(const Tensor4& a, const Tensor4& b) {
  if (a.dimensions() != b.dimensions())
    qmath::detail::fail("qmath::nn::add", "shapes " + detail::dims_text(a) + " and " + detail::dims_text(b) + " differ");
  return a + b;
}

/// Conv + BatchNorm folded into one Conv (torch.nn.utils.fuse_conv_bn_weights):
///   W' = W * (gamma / sqrt(var + eps))[o],  b' = (b - mean) / sqrt(var + eps) * gamma + beta.
/// @throws qmath::error when the channel counts differ.
inline Conv2d fold_batchnorm(const Conv2d& conv, const BatchNorm2d& bn) {
  const ConvParams& f = conv.filter();
  qmath::detail::require(bn.channels() == f.out_channels, "qmath::nn::fold_batchnorm",
                         "the BatchNorm has " + std::to_string(bn.channels()) + " channels, the Conv2d " +
                             std::to_string(f.out_channels) + " outputs");
  std::vector<float> w = conv.weight(), b = conv.bias();
  const std::size_t per_filter = w.size() / static_cast<std::size_t>(f.out_channels);
  for (std::size_t o = 0; o < static_cast<std::size_t>(f.out_channels); ++o) {
    const float rsqrt = 1.0f / std::sqrt(bn.running_var()[o] + bn.eps());
    const float factor = bn.gamma()[o] * rsqrt;
    for (std::size_t i = 0; i < per_filter; ++i) w[o * per_filter + i] *= factor;
    b[o] = (b[o] - bn.running_mean()[o]) * rsqrt * bn.gamma()[o] + bn.beta()[o];
  }
  return Conv2d(f, w.data(), b.data());
}

}  // namespace nn
QMATH_END_NAMESPACE  // qmath
