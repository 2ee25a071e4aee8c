// SPDX-License-Identifier: Apache-2.0
// nn/qat.hpp: PyTorch's quantization-aware training mode on a Sequential: fake-quantized forward, straight-through
// backward, SGD, and convert() to the static int8 model that computes what training simulated (layers).
//
//   nn::QatModel qat(model, {/*weight_bits=*/4});
//   for (each batch) {
//     nn::Tensor4 logits = qat.forward(images, /*training=*/true);
//     nn::LossResult loss = nn::softmax_cross_entropy(logits, labels);     // or distillation_loss(logits, teacher...)
//     qat.backward(loss.gradient);
//     qat.step({0.01f, 0.9f});
//   }
//   nn::QuantizedModel int8 = qat.convert();
//
// What is simulated, per Conv2d / Linear (with a following ReLU / ReLU6 fused, BatchNorm2d folded beforehand with its
// running statistics, as after torch's freeze_bn_stats):
//   weights     fake-quantized per output channel (or per tensor), symmetric, `weight_bits` bits, with parameters
//               from the current weights' min / max at every forward (symmetric_weight_qparams: S = max|w| / 7.5 for
//               4 bits); STE: the gradient passes where the weight lies inside the clamp range
//   activations the model's input and each layer's output fake-quantized to uint8 per tensor with a
//               MovingAverageMinMaxObserver (torch's QAT default, averaging constant 0.01) updated on training
//               forwards; STE mask as torch's fake_quantize_per_tensor_affine_cachemask
//   the last layer's output stays fp32 when float_output (as StaticQuantConfig::float_output)
// MaxPool2d, Flatten and ReLU pass gradients as their definitions do. convert() builds StaticQuantizedConv2d /
// Linear layers from the current fp32 weights, the same weight parameters and the observers' activation parameters:
// each int8 layer's output is within one output step of the fake-quantized layer's (static_layers.hpp).
// With learnable_scales (LSQ) the weight scales and the activations' scales and zero points are trained too
// (quant/fake_quant.hpp's LSQ math) and convert() uses them.
// Not implemented yet: training-mode ConvBn with batch statistics, residual blocks.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "qmath/calib/observers.hpp"
#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/nn/layers.hpp"
#include "qmath/nn/model.hpp"
#include "qmath/nn/static_layers.hpp"
#include "qmath/nn/train.hpp"
#include "qmath/quant/fake_quant.hpp"

QMATH_BEGIN_NAMESPACE
namespace nn {

struct QatConfig {
  int weight_bits = 8;               ///< 2 to 8
  bool per_channel_weights = true;
  float averaging_constant = 0.01f;  ///< the activation observers' moving average
  bool float_output = true;          ///< the last Conv2d / Linear keeps an fp32 output (see StaticQuantConfig)
  /// false: plain fp32 training (fine-tuning, e.g. after pruning); the activation observers still update, so
  /// convert() gives a PTQ model of the tuned weights.
  bool fake_quantize = true;
  /// LSQ (learned step size): the weight scales (per channel) and each activation's scale and zero point become
  /// trained parameters (torch's _LearnableFakeQuantize, gradients scaled by 1 / sqrt(numel * qmax)), initialised
  /// from the min / max of the first training batch; convert() uses the learned values.
  bool learnable_scales = false;
  isa path = isa::none;              ///< GEMM kernels of the converted model
};

namespace detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Fake-quantized activation: a moving-average observer and the parameters it gives, or (LSQ) a learned scale and
/// zero point initialised from the first batch's range.
struct ActivationFakeQuant {
  MovingAverageMinMaxObserver observer;
  std::vector<std::uint8_t> mask;
  bool learnable = false;
  LearnableQParams learned{per_tensor(), {1.0f}, {0.0f}, 0, 255};
  float grad_scale = 0.0f, grad_zero_point = 0.0f;
  SgdState scale_state, zero_point_state;
  Tensor4 input;  // LSQ: the values before quantization, from the last training forward

  ActivationFakeQuant(float averaging_constant, bool lsq) : observer(per_tensor(), averaging_constant), learnable(lsq) {}

  static ActivationQParams from_range(const MovingAverageMinMaxObserver& o) {
    const QParams<std::uint8_t> p = choose_qparams<std::uint8_t>(o.ranges().min[0], o.ranges().max[0]);
    return {p.scale[0], p.zero_point[0]};
  }

  ActivationQParams qparams(const char* fn) const {
    if (observer.empty()) qmath::detail::fail(fn, "an activation observer has seen no finite value: run a training forward first");
    if (learnable) {  // the forward's zero point: rounded half to even into [0, 255]
      const float z = std::nearbyint(std::min(std::max(learned.zero_point[0], 0.0f), 255.0f));
      return {learned.scale[0], static_cast<std::int32_t>(z)};
    }
    return from_range(observer);
  }

  void apply(Tensor4& x, bool training, bool quantize, const char* fn) {
    const auto n = static_cast<std::size_t>(x.size());
    const bool first = observer.empty();
    if (training && (!learnable || first))
      observer.update(x.data(), TensorShape{{static_cast<std::int64_t>(n)}, storage_order::row_major});
    mask.assign(n, 1);
    if (!quantize) return;
    if (learnable) {
      if (observer.empty()) qparams(fn);  // throws: nothing observed yet
      if (first) {
        const ActivationQParams start = from_range(observer);
        learned.scale = {start.scale};
        learned.zero_point = {static_cast<float>(start.zero_point)};
      }
      if (training) input = x;
      fake_quantize_learnable(x.data(), TensorShape{{static_cast<std::int64_t>(n)}, storage_order::row_major}, learned,
                              x.data());
      return;
    }
    const ActivationQParams p = qparams(fn);
    fake_quantize(x.data(), n, p.scale, p.zero_point, 0, 255, x.data(), mask.data());
  }

  /// The gradient through the quantizer, in place (LSQ also accumulates the scale and zero point gradients).
  void backward(Tensor4& grad) {
    const auto n = static_cast<std::size_t>(grad.size());
    if (!learnable) {
      for (std::size_t i = 0; i < n; ++i)
        if (!mask[i]) grad.data()[i] = 0.0f;
      return;
    }
    float gs = 0.0f, gz = 0.0f;
    fake_quantize_learnable_backward(grad.data(), input.data(), TensorShape{{static_cast<std::int64_t>(n)}, storage_order::row_major},
                                     learned, lsq_grad_factor(n, 255), grad.data(), &gs, &gz);
    grad_scale += gs;
    grad_zero_point += gz;
  }

  void step(const Sgd& sgd) {
    if (!learnable || observer.empty()) return;
    scale_state.step(sgd, learned.scale.data(), &grad_scale, 1);
    zero_point_state.step(sgd, learned.zero_point.data(), &grad_zero_point, 1);
    learned.scale[0] = std::max(learned.scale[0], FLT_EPSILON);  // torch clamps the learned scale to eps
    grad_scale = grad_zero_point = 0.0f;
  }
};

/// A Conv2d, or a Linear seen as a 1x1 convolution on [N, 1, 1, features], with its fused activation.
struct QatAffine {
  bool linear;
  ConvParams filter;
  std::vector<float> weight, bias, weight_grad, bias_grad;
  SgdState weight_state, bias_state;
  fused_activation act = fused_activation::none;
  bool fake_quantize_output = true;
  ActivationFakeQuant output;
  ActivationQParams input_qparams{0.0f, 0};  // set by QatModel before each forward; scale 0: not quantized
  // Caches of the last training forward.
  Tensor4 input;
  ConvParams geometry;
  std::vector<float> packed_fq;             // fake-quantized weights, K x OCg per group
  std::vector<float> bias_used;             // the bias on the accumulator grid
  std::vector<std::uint8_t> weight_mask;    // STE mask, weight order
  std::vector<std::uint8_t> prune_mask;     // pruning: 0 = weight held at zero (empty: none)
  std::vector<std::uint8_t> bias_mask;      // 0 = a removed channel's bias, held at zero (empty: none)
  std::vector<std::uint8_t> active;         // where the fused activation passes the gradient

  // LSQ: the learned weight scales (zero points stay 0: symmetric weights).
  LearnableQParams learned_weights{per_tensor(), {}, {}, -128, 127};
  std::vector<float> weight_scale_grad;
  SgdState weight_scale_state;

  QatAffine(bool is_linear, const ConvParams& f, std::vector<float> w, std::vector<float> b, float averaging, bool lsq)
      : linear(is_linear), filter(f), weight(std::move(w)), bias(std::move(b)), weight_grad(weight.size(), 0.0f),
        bias_grad(bias.size(), 0.0f), output(averaging, lsq) {}

  QParams<std::int8_t> weight_qparams(const QatConfig& c) const {
    QParams<std::int8_t> p =
        symmetric_weight_qparams(weight.data(), weight.size(), filter.out_channels, c.per_channel_weights, c.weight_bits);
    if (c.learnable_scales && learned_weights.scale.size() == p.scale.size()) p.scale = learned_weights.scale;
    return p;
  }

  void apply_prune_mask() {
    for (std::size_t i = 0; i < prune_mask.size(); ++i)
      if (!prune_mask[i]) weight[i] = 0.0f;
    for (std::size_t i = 0; i < bias_mask.size(); ++i)
      if (!bias_mask[i]) bias[i] = 0.0f;
  }

  Tensor4 forward(const Tensor4& x_in, bool training, const QatConfig& c) {
    constexpr const char* fn = "qmath::nn::QatModel::forward";
    Tensor4 x = x_in;
    if (linear) {
      const std::ptrdiff_t k = x.dimension(1) * x.dimension(2) * x.dimension(3);
      if (k != filter.in_channels)
        qmath::detail::fail(fn, "a Linear taking " + std::to_string(filter.in_channels) + " features got " + dims_text(x));
      x = Tensor4(x.reshape(Eigen::array<Eigen::Index, 4>{x.dimension(0), 1, 1, k}));
    }
    const ConvParams p = conv_geometry(filter, x.dimension(0), x.dimension(1), x.dimension(2), x.dimension(3), fn);
    std::vector<float> w_fq = weight;
    bias_used = bias;
    weight_mask.assign(weight.size(), 1);
    if (c.fake_quantize) {
      const TensorShape shape{{filter.out_channels, static_cast<std::int64_t>(weight.size()) / filter.out_channels},
                              storage_order::row_major};
      if (c.learnable_scales && learned_weights.scale.empty()) {  // LSQ starts from the min / max parameters
        const QParams<std::int8_t> start = weight_qparams(c);
        learned_weights = LearnableQParams{start.granularity, start.scale, std::vector<float>(start.scale.size(), 0.0f),
                                           start.qmin, start.qmax};
        weight_scale_grad.assign(start.scale.size(), 0.0f);
      }
      const QParams<std::int8_t> wq = weight_qparams(c);
      if (c.learnable_scales)
        fake_quantize_learnable(weight.data(), shape, learned_weights, w_fq.data());
      else
        fake_quantize(weight.data(), shape, wq, w_fq.data(), weight_mask.data());
      // The bias on the int32 grid of Sx * Sw[n], as the int8 layer rounds it (the gradient passes straight); a last
      // layer with an fp32 output keeps its float bias, as its converted form (forward_float) does.
      if (input_qparams.scale > 0.0f && fake_quantize_output)
        for (std::size_t o = 0; o < bias.size(); ++o) {
          const float unit = input_qparams.scale * wq.scale[wq.scale.size() == 1 ? 0 : o];
          bias_used[o] = static_cast<float>(std::nearbyint(static_cast<double>(bias[o]) / static_cast<double>(unit))) * unit;
        }
    }
    packed_fq = pack_filter(filter, w_fq.data());

    const std::ptrdiff_t pixels = p.out_h() * p.out_w(), oc = p.out_channels, ocg = oc / p.groups;
    const std::ptrdiff_t kg = p.kernel_h * p.kernel_w * (p.in_channels / p.groups);
    Tensor4 y(p.batch, p.out_h(), p.out_w(), oc);
    RowMatrix columns(pixels, kg);
    for (std::ptrdiff_t b = 0; b < p.batch; ++b)
      for (std::ptrdiff_t g = 0; g < p.groups; ++g) {
        im2col_image(p, x.data(), b, g, columns.data());
        Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>> out(y.data() + b * pixels * oc + g * ocg, pixels, ocg,
                                                           Eigen::OuterStride<>(oc));
        out.noalias() = columns * Eigen::Map<const RowMatrix>(packed_fq.data() + g * kg * ocg, kg, ocg);
        out.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias_used.data() + g * ocg, ocg);
      }
    const float cap = act == fused_activation::relu6 ? 6.0f : std::numeric_limits<float>::infinity();
    active.resize(static_cast<std::size_t>(y.size()));
    for (Eigen::Index i = 0; i < y.size(); ++i) {
      float& v = y.data()[i];
      const bool pass = act == fused_activation::none || (v > 0.0f && v < cap);
      active[static_cast<std::size_t>(i)] = pass;
      if (act != fused_activation::none) v = std::min(std::max(v, 0.0f), cap);
    }
    if (fake_quantize_output) output.apply(y, training, c.fake_quantize, fn);
    if (training) {
      input = std::move(x);
      geometry = p;
    }
    return y;
  }

  Tensor4 backward(const Tensor4& grad_y_in, const QatConfig& c) {
    const ConvParams& p = geometry;
    Tensor4 grad_y = grad_y_in;
    if (fake_quantize_output && c.fake_quantize) output.backward(grad_y);
    for (Eigen::Index i = 0; i < grad_y.size(); ++i)
      if (!active[static_cast<std::size_t>(i)]) grad_y.data()[i] = 0.0f;
    const std::ptrdiff_t pixels = p.out_h() * p.out_w(), oc = p.out_channels, ocg = oc / p.groups;
    const std::ptrdiff_t kg = p.kernel_h * p.kernel_w * (p.in_channels / p.groups);
    Tensor4 grad_x(input.dimensions());
    grad_x.setZero();
    RowMatrix columns(pixels, kg), grad_columns(pixels, kg);
    RowMatrix packed_grad = RowMatrix::Zero(p.groups * kg, ocg);
    for (std::ptrdiff_t b = 0; b < p.batch; ++b)
      for (std::ptrdiff_t g = 0; g < p.groups; ++g) {
        Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>> gy(grad_y.data() + b * pixels * oc + g * ocg, pixels, ocg,
                                                                Eigen::OuterStride<>(oc));
        im2col_image(p, input.data(), b, g, columns.data());
        packed_grad.middleRows(g * kg, kg).noalias() += columns.transpose() * gy;
        grad_columns.noalias() = gy * Eigen::Map<const RowMatrix>(packed_fq.data() + g * kg * ocg, kg, ocg).transpose();
        col2im_image(p, grad_columns.data(), b, g, grad_x.data());
        for (std::ptrdiff_t r = 0; r < pixels; ++r)
          for (std::ptrdiff_t j = 0; j < ocg; ++j) bias_grad[static_cast<std::size_t>(g * ocg + j)] += gy(r, j);
      }
    // Back to the weights' OIHW order: the gradient with respect to the fake-quantized weights.
    const std::ptrdiff_t cg = p.in_channels / p.groups;
    std::vector<float> grad_w_fq(weight.size());
    for (std::ptrdiff_t o = 0; o < oc; ++o)
      for (std::ptrdiff_t ch = 0; ch < cg; ++ch)
        for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
          for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw) {
            const auto at = static_cast<std::size_t>(((o * cg + ch) * p.kernel_h + kh) * p.kernel_w + kw);
            const std::ptrdiff_t g = o / ocg, k = (kh * p.kernel_w + kw) * cg + ch;
            grad_w_fq[at] = packed_grad(g * kg + k, o % ocg);
          }
    // Through the weights' quantizer: the STE mask, or LSQ (which also gives the scales' gradients).
    if (c.fake_quantize && c.learnable_scales) {
      const TensorShape shape{{filter.out_channels, static_cast<std::int64_t>(weight.size()) / filter.out_channels},
                              storage_order::row_major};
      std::vector<float> grad_w(weight.size()), gs(learned_weights.scale.size()), gz(learned_weights.scale.size());
      fake_quantize_learnable_backward(grad_w_fq.data(), weight.data(), shape, learned_weights,
                                       lsq_grad_factor(weight.size(), learned_weights.qmax), grad_w.data(), gs.data(),
                                       gz.data());
      for (std::size_t i = 0; i < weight.size(); ++i) weight_grad[i] += grad_w[i];
      for (std::size_t s = 0; s < gs.size(); ++s) weight_scale_grad[s] += gs[s];
    } else {
      for (std::size_t i = 0; i < weight.size(); ++i)
        if (weight_mask[i]) weight_grad[i] += grad_w_fq[i];
    }
    return grad_x;
  }
};

struct QatMaxPool {
  MaxPool2d window;
  std::vector<std::ptrdiff_t> argmax;  // input index of each output element
  Eigen::DSizes<Eigen::Index, 4> input_dims;

  Tensor4 forward(const Tensor4& x, bool training, const QatConfig&) {
    Tensor4 y = window.forward(x);
    if (!training) return y;
    input_dims = x.dimensions();
    const std::ptrdiff_t h = x.dimension(1), w = x.dimension(2), c = x.dimension(3);
    const std::ptrdiff_t oh = y.dimension(1), ow = y.dimension(2);
    argmax.assign(static_cast<std::size_t>(y.size()), -1);
    for (std::ptrdiff_t b = 0; b < y.dimension(0); ++b)
      for (std::ptrdiff_t i = 0; i < oh; ++i)
        for (std::ptrdiff_t j = 0; j < ow; ++j)
          for (std::ptrdiff_t ch = 0; ch < c; ++ch) {
            const std::ptrdiff_t out = ((b * oh + i) * ow + j) * c + ch;
            for (std::ptrdiff_t di = 0; di < window.kernel && argmax[static_cast<std::size_t>(out)] < 0; ++di)
              for (std::ptrdiff_t dj = 0; dj < window.kernel; ++dj) {
                const std::ptrdiff_t ih = i * window.stride - window.padding + di, iw = j * window.stride - window.padding + dj;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                const std::ptrdiff_t in = ((b * h + ih) * w + iw) * c + ch;
                if (x.data()[in] == y.data()[out]) {  // the first maximum, as torch's max_pool2d backward
                  argmax[static_cast<std::size_t>(out)] = in;
                  break;
                }
              }
          }
    return y;
  }

  Tensor4 backward(const Tensor4& grad_y, const QatConfig&) const {
    Tensor4 grad_x(input_dims);
    grad_x.setZero();
    for (std::size_t i = 0; i < argmax.size(); ++i)
      if (argmax[i] >= 0) grad_x.data()[argmax[i]] += grad_y.data()[i];
    return grad_x;
  }
};

struct QatFlatten {
  Eigen::DSizes<Eigen::Index, 4> input_dims;
  Tensor4 forward(const Tensor4& x, bool training, const QatConfig&) {
    if (training) input_dims = x.dimensions();
    return Flatten{}.forward(x);
  }
  Tensor4 backward(const Tensor4& grad_y, const QatConfig&) const {
    const std::ptrdiff_t n = input_dims[0], h = input_dims[1], w = input_dims[2], c = input_dims[3];
    Tensor4 grad_x(input_dims);
    for (std::ptrdiff_t b = 0; b < n; ++b)
      for (std::ptrdiff_t i = 0; i < h; ++i)
        for (std::ptrdiff_t j = 0; j < w; ++j)
          for (std::ptrdiff_t ch = 0; ch < c; ++ch)
            grad_x.data()[((b * h + i) * w + j) * c + ch] = grad_y.data()[b * c * h * w + (ch * h + i) * w + j];
    return grad_x;
  }
};

struct QatReLU {
  float cap;
  std::vector<std::uint8_t> pass;
  Tensor4 forward(const Tensor4& x, bool training, const QatConfig&) {
    if (training) {
      pass.resize(static_cast<std::size_t>(x.size()));
      for (Eigen::Index i = 0; i < x.size(); ++i) pass[static_cast<std::size_t>(i)] = x.data()[i] > 0.0f && x.data()[i] < cap;
    }
    return ReLU{cap}.forward(x);
  }
  Tensor4 backward(const Tensor4& grad_y, const QatConfig&) const {
    Tensor4 grad_x = grad_y;
    for (Eigen::Index i = 0; i < grad_x.size(); ++i)
      if (!pass[static_cast<std::size_t>(i)]) grad_x.data()[i] = 0.0f;
    return grad_x;
  }
};

}  // namespace detail

/// A Sequential prepared for quantization-aware training (see the top of this file).
class QatModel {
 public:
  /// @throws qmath::error on a layer with no int8 form (as prepare()) or an invalid config.
  explicit QatModel(const Sequential& fp32, const QatConfig& config = {})
      : config_(config), input_(config.averaging_constant, config.learnable_scales) {
    constexpr const char* fn = "qmath::nn::QatModel";
    qmath::detail::require(config.weight_bits >= 2 && config.weight_bits <= 8, fn, "weight_bits must be in [2, 8]");
    qmath::detail::require(config.averaging_constant >= 0.0f && config.averaging_constant <= 1.0f, fn,
                           "averaging_constant must be in [0, 1]");
    const Sequential model = fold_batchnorm(fp32);
    const auto& layers = model.layers();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Layer& layer = layers[i];
      const bool fuse = i + 1 < layers.size() && std::holds_alternative<ReLU>(layers[i + 1]);
      const float cap = fuse ? std::get<ReLU>(layers[i + 1]).cap : 0.0f;
      if (fuse && !std::isinf(cap) && cap != 6.0f) qmath::detail::fail(fn, "only ReLU and ReLU6 fuse into a layer");
      const fused_activation act = !fuse ? fused_activation::none : std::isinf(cap) ? fused_activation::relu
                                                                                    : fused_activation::relu6;
      if (const auto* conv = std::get_if<Conv2d>(&layer)) {
        nodes_.emplace_back(detail::QatAffine(false, conv->filter(), conv->weight(), conv->bias(), config.averaging_constant, config.learnable_scales));
      } else if (const auto* linear = std::get_if<Linear>(&layer)) {
        ConvParams f;
        f.in_channels = linear->in_features();
        f.out_channels = linear->out_features();
        nodes_.emplace_back(detail::QatAffine(true, f, std::vector<float>(linear->weight().data(), linear->weight().data() + linear->weight().size()),
                                              std::vector<float>(linear->bias().data(), linear->bias().data() + linear->bias().size()),
                                              config.averaging_constant, config.learnable_scales));
      } else if (const auto* pool = std::get_if<MaxPool2d>(&layer)) {
        nodes_.emplace_back(detail::QatMaxPool{*pool, {}, {}});
        continue;
      } else if (std::holds_alternative<Flatten>(layer)) {
        nodes_.emplace_back(detail::QatFlatten{});
        continue;
      } else if (const auto* relu = std::get_if<ReLU>(&layer)) {
        nodes_.emplace_back(detail::QatReLU{relu->cap, {}});
        continue;
      } else {
        qmath::detail::fail(fn, std::string("layer ") + std::to_string(i) + " (" + layer_name(layer) + ") has no int8 form");
      }
      std::get<detail::QatAffine>(nodes_.back()).act = act;
      if (fuse) ++i;
    }
    last_affine_ = nodes_.size();
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (std::holds_alternative<detail::QatAffine>(nodes_[i])) last_affine_ = i;
    if (config.float_output && last_affine_ + 1 == nodes_.size())
      std::get<detail::QatAffine>(nodes_.back()).fake_quantize_output = false;
  }

  const QatConfig& config() const noexcept { return config_; }

  /// The fake-quantized forward pass. training: update the activation observers and keep what backward() needs.
  /// @throws qmath::error on a bad input shape, or in eval mode before any training forward.
  Tensor4 forward(const Tensor4& x, bool training) {
    constexpr const char* fn = "qmath::nn::QatModel::forward";
    Tensor4 y = x;
    input_.apply(y, training, config_.fake_quantize, fn);
    ActivationQParams current = config_.fake_quantize ? input_.qparams(fn) : ActivationQParams{0.0f, 0};
    for (auto& node : nodes_) {
      auto* affine = std::get_if<detail::QatAffine>(&node);
      if (affine) affine->input_qparams = current;
      y = std::visit([&](auto& n) { return n.forward(y, training, config_); }, node);
      if (affine && config_.fake_quantize && affine->fake_quantize_output) current = affine->output.qparams(fn);
    }
    trained_forward_ = trained_forward_ || training;
    backward_ready_ = training;
    return y;
  }

  /// Gradients of the last training forward's output; parameter gradients accumulate until step().
  /// @throws qmath::error when the last forward was not a training one or the gradient's shape differs.
  void backward(const Tensor4& grad_output) {
    qmath::detail::require(backward_ready_, "qmath::nn::QatModel::backward", "the last forward was not a training forward");
    Tensor4 g = grad_output;
    for (std::size_t i = nodes_.size(); i-- > 0;) {
      g = std::visit([&](auto& n) { return n.backward(g, config_); }, nodes_[i]);
    }
    if (config_.fake_quantize && config_.learnable_scales) input_.backward(g);  // the input quantizer's LSQ gradients
  }

  /// Pruning masks kept through training: one per Conv2d / Linear in model order (map_weight_layers' order), each
  /// empty (no mask) or one byte per weight in the layer's weight order (OIHW, [out, in]), 0 = pruned. The pruned
  /// weights are zeroed now and after every step(), and get no gradient. An empty list removes all masks.
  /// zero_dead_biases: an output channel whose weights are all masked is a removed channel (structured pruning), so
  /// its bias is held at zero too; otherwise it keeps training (the channel then outputs a constant).
  /// @throws qmath::error on a count or size mismatch (nothing is changed then).
  void set_weight_masks(const std::vector<std::vector<std::uint8_t>>& masks, bool zero_dead_biases = false) {
    constexpr const char* fn = "qmath::nn::QatModel::set_weight_masks";
    std::vector<detail::QatAffine*> affine;
    for (auto& node : nodes_)
      if (auto* a = std::get_if<detail::QatAffine>(&node)) affine.push_back(a);
    qmath::detail::require(masks.empty() || masks.size() == affine.size(), fn,
                           std::to_string(masks.size()) + " masks for " + std::to_string(affine.size()) + " Conv2d / Linear layers");
    for (std::size_t i = 0; i < masks.size(); ++i)
      qmath::detail::require(masks[i].empty() || masks[i].size() == affine[i]->weight.size(), fn,
                             "mask " + std::to_string(i) + " has " + std::to_string(masks[i].size()) + " entries, the layer " +
                                 std::to_string(affine[i]->weight.size()) + " weights");
    for (std::size_t i = 0; i < affine.size(); ++i) {
      detail::QatAffine& a = *affine[i];
      a.prune_mask = masks.empty() ? std::vector<std::uint8_t>{} : masks[i];
      a.bias_mask.assign(zero_dead_biases && !a.prune_mask.empty() ? a.bias.size() : 0, 0);
      const std::size_t per_channel = a.weight.size() / a.bias.size();
      for (std::size_t k = 0; k < a.prune_mask.size(); ++k)
        if (a.prune_mask[k] && !a.bias_mask.empty()) a.bias_mask[k / per_channel] = 1;
      a.apply_prune_mask();
    }
  }

  /// SGD on every weight and bias (and LSQ scale / zero point) with the accumulated gradients, then zeroes them.
  void step(const Sgd& sgd) {
    input_.step(sgd);
    for (auto& node : nodes_)
      if (auto* a = std::get_if<detail::QatAffine>(&node)) {
        for (std::size_t i = 0; i < a->prune_mask.size(); ++i)
          if (!a->prune_mask[i]) a->weight_grad[i] = 0.0f;
        for (std::size_t i = 0; i < a->bias_mask.size(); ++i)
          if (!a->bias_mask[i]) a->bias_grad[i] = 0.0f;
        a->weight_state.step(sgd, a->weight.data(), a->weight_grad.data(), a->weight.size());
        a->bias_state.step(sgd, a->bias.data(), a->bias_grad.data(), a->bias.size());
        a->apply_prune_mask();  // momentum from before the mask would move the pruned values
        if (config_.learnable_scales && !a->learned_weights.scale.empty()) {
          a->weight_scale_state.step(sgd, a->learned_weights.scale.data(), a->weight_scale_grad.data(),
                                     a->weight_scale_grad.size());
          for (float& v : a->learned_weights.scale) v = std::max(v, FLT_EPSILON);
          std::fill(a->weight_scale_grad.begin(), a->weight_scale_grad.end(), 0.0f);
        }
        a->output.step(sgd);
        std::fill(a->weight_grad.begin(), a->weight_grad.end(), 0.0f);
        std::fill(a->bias_grad.begin(), a->bias_grad.end(), 0.0f);
      }
  }

  /// The current fp32 weights as a Sequential (BatchNorm folded, ReLUs as layers again).
  Sequential fp32_model() const {
    Sequential out;
    for (const auto& node : nodes_) {
      if (const auto* a = std::get_if<detail::QatAffine>(&node)) {
        if (a->linear)
          out.add(Linear(a->weight.data(), a->filter.out_channels, a->filter.in_channels, a->bias.data()));
        else
          out.add(Conv2d(a->filter, a->weight.data(), a->bias.data()));
        if (a->act != fused_activation::none) out.add(ReLU{a->act == fused_activation::relu6 ? 6.0f : std::numeric_limits<float>::infinity()});
      } else if (const auto* p = std::get_if<detail::QatMaxPool>(&node)) {
        out.add(p->window);
      } else if (std::holds_alternative<detail::QatFlatten>(node)) {
        out.add(Flatten{});
      } else {
        out.add(ReLU{std::get<detail::QatReLU>(node).cap});
      }
    }
    return out;
  }

  /// torch.ao.quantization.convert: the static int8 model of the current weights and observers.
  /// @throws qmath::error before any training forward.
  QuantizedModel convert() const {
    constexpr const char* fn = "qmath::nn::QatModel::convert";
    qmath::detail::require(trained_forward_, fn, "no training forward yet: the activation observers are empty");
    const ActivationQParams input = input_.qparams(fn);
    ActivationQParams current = input;
    std::vector<QuantizedLayer> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const auto& node = nodes_[i];
      if (const auto* a = std::get_if<detail::QatAffine>(&node)) {
        const bool float_last = !a->fake_quantize_output;
        const ActivationQParams output = float_last ? ActivationQParams{1.0f, 0} : a->output.qparams(fn);
        if (a->linear)
          out.emplace_back(StaticQuantizedLinear(Linear(a->weight.data(), a->filter.out_channels, a->filter.in_channels, a->bias.data()),
                                                 a->weight_qparams(config_), current, output, a->act, config_.path));
        else
          out.emplace_back(StaticQuantizedConv2d(Conv2d(a->filter, a->weight.data(), a->bias.data()), a->weight_qparams(config_),
                                                 current, output, a->act, config_.path));
        current = output;
      } else if (const auto* p = std::get_if<detail::QatMaxPool>(&node)) {
        out.emplace_back(QuantizedMaxPool2d{p->window});
      } else if (std::holds_alternative<detail::QatFlatten>(node)) {
        out.emplace_back(QuantizedFlatten{});
      } else {
        out.emplace_back(QuantizedReLU{std::get<detail::QatReLU>(node).cap});
      }
    }
    const bool float_output = !out.empty() && last_affine_ + 1 == nodes_.size() &&
                              !std::get<detail::QatAffine>(nodes_.back()).fake_quantize_output;
    return QuantizedModel(input, std::move(out), float_output);
  }

 private:
  using Node = std::variant<detail::QatAffine, detail::QatMaxPool, detail::QatFlatten, detail::QatReLU>;
  QatConfig config_;
  detail::ActivationFakeQuant input_;
  std::vector<Node> nodes_;
  std::size_t last_affine_ = 0;
  bool trained_forward_ = false, backward_ready_ = false;
};

}  // namespace nn
QMATH_END_NAMESPACE  // qmath
