// SPDX-License-Identifier: Apache-2.0
// nn/model.hpp: a sequential model and PyTorch's workflows on it (layers).
//
//   nn::Sequential model({nn::Conv2d(...), nn::ReLU{}, nn::MaxPool2d{2, 2}, nn::Flatten{}, nn::Linear(...)});
//   // dynamic: Linear layers get int8 weights, activations are quantized per call
//   nn::Sequential dynamic = nn::quantize_dynamic(model);
//   // static: observe activations on calibration batches, then convert to int8 layers
//   nn::PreparedModel prepared = nn::prepare(model, {nn::calibrator::histogram_l2, /*per_channel_weights=*/true});
//   for (const nn::Tensor4& batch : calibration) prepared.calibrate(batch);
//   nn::QuantizedModel int8 = prepared.convert();
//   nn::Tensor4 logits = int8.forward(images);
//
// prepare() folds every Conv2d + BatchNorm2d pair (fold_batchnorm) and plans the int8 network: a Conv2d or Linear,
// with a ReLU / ReLU6 right after it fused into its clamp, becomes a static layer with an observer on its output;
// MaxPool2d, Flatten and a ReLU elsewhere run on codes and keep their input's parameters; one more observer sits on
// the model's input. A layer with no int8 form (AvgPool2d, a BatchNorm2d not after a Conv2d, a dynamic Linear)
// makes prepare() throw, naming it. Activations are uint8 affine per tensor (torch's quint8 default); weights int8
// symmetric per tensor or per output channel (torch's default observers; S = max|w| / 127.5).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qmath/calib/histogram.hpp"
#include "qmath/calib/mse_sweep.hpp"
#include "qmath/calib/observers.hpp"
#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/nn/dynamic_linear.hpp"
#include "qmath/nn/layers.hpp"
#include "qmath/nn/static_layers.hpp"

QMATH_BEGIN_NAMESPACE
namespace nn {

/// PyTorch's dynamic mode on a Linear layer of the model (DynamicQuantizedLinear on Tensor4).
class DynamicLinear {
 public:
  explicit DynamicLinear(const Linear& fp32, isa path = isa::none)
      : layer_(std::make_shared<DynamicQuantizedLinear>(fp32.weight().data(), fp32.out_features(), fp32.in_features(),
                                                        fp32.bias().data(), path)) {}
  const DynamicQuantizedLinear& layer() const noexcept { return *layer_; }
  std::size_t parameter_bytes() const noexcept {
    return static_cast<std::size_t>(layer_->out_features() * layer_->in_features()) +
           8 * static_cast<std::size_t>(layer_->out_features());
  }
  Tensor4 forward(const Tensor4& x) const {
    const std::ptrdiff_t n = x.dimension(0), k = x.dimension(1) * x.dimension(2) * x.dimension(3);
    if (k != layer_->in_features())
      qmath::detail::fail("qmath::nn::DynamicLinear::forward", "the input " + detail::dims_text(x) + " has " +
                                                                   std::to_string(k) + " features per image, the layer takes " +
                                                                   std::to_string(layer_->in_features()));
    Tensor4 y(n, 1, 1, layer_->out_features());
    layer_->forward(x.data(), n, k, y.data(), layer_->out_features());
    return y;
  }

 private:
  std::shared_ptr<const DynamicQuantizedLinear> layer_;  // immutable once built; copies share it
};

class Sequential;

/// A residual block: y = body(x) + x, then a ReLU when `relu` (ResNet's basic block puts it after the add). The
/// body must keep the input's shape. Copies share the (immutable) body.
struct Residual {
  std::shared_ptr<const Sequential> body;
  bool relu = false;
  Tensor4 forward(const Tensor4& x) const;  // after Sequential
};

using Layer = std::variant<Conv2d, Linear, ReLU, MaxPool2d, AvgPool2d, Flatten, BatchNorm2d, DynamicLinear, Residual>;

inline const char* layer_name(const Layer& layer) noexcept {
  static const char* const names[] = {"Conv2d", "Linear", "ReLU", "MaxPool2d", "AvgPool2d", "Flatten", "BatchNorm2d",
                                      "DynamicLinear", "Residual"};
  return names[layer.index()];
}

/// A chain of layers run in order.
class Sequential {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<Layer> layers) : layers_(std::move(layers)) {}

  Sequential& add(Layer layer) {
    layers_.push_back(std::move(layer));
    return *this;
  }
  const std::vector<Layer>& layers() const noexcept { return layers_; }
  std::vector<Layer>& layers() noexcept { return layers_; }

  Tensor4 forward(const Tensor4& x) const {
    return forward(x, [](std::size_t, Tensor4&) {});
  }

  /// Runs the layers, calling after_each(i, y) on each layer i's output y (which it may change: a simulation hook).
  template <class AfterEach>
  Tensor4 forward(const Tensor4& x, AfterEach&& after_each) const {
    Tensor4 y = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      y = std::visit([&](const auto& layer) { return layer.forward(y); }, layers_[i]);
      after_each(i, y);
    }
    return y;
  }

  /// fp32 parameter bytes (int8 bytes for dynamic Linear layers).
  std::size_t parameter_bytes() const {
    std::size_t bytes = 0;
    for (const Layer& layer : layers_) {
      if (const auto* c = std::get_if<Conv2d>(&layer)) bytes += 4 * (c->weight().size() + c->bias().size());
      if (const auto* l = std::get_if<Linear>(&layer)) bytes += 4 * static_cast<std::size_t>(l->weight().size() + l->bias().size());
      if (const auto* b = std::get_if<BatchNorm2d>(&layer)) bytes += 16 * static_cast<std::size_t>(b->channels());
      if (const auto* d = std::get_if<DynamicLinear>(&layer)) bytes += d->parameter_bytes();
      if (const auto* r = std::get_if<Residual>(&layer)) bytes += r->body ? r->body->parameter_bytes() : 0;
    }
    return bytes;
  }

 private:
  std::vector<Layer> layers_;
};

inline Tensor4 Residual::forward(const Tensor4& x) const {
  qmath::detail::require(body != nullptr, "qmath::nn::Residual::forward", "the block has no body");
  Tensor4 y = add(body->forward(x), x);
  return relu ? ReLU{}.forward(y) : y;
}

/// Calls visit(index, layer) on each Conv2d and Linear of a copy of `model`, depth-first through residual bodies,
/// index counting them from 0 in that order (the order of StaticQuantConfig::layer_weight_bits); returns the copy,
/// in which visit may have changed those layers' parameters. `counter` carries the index into nested bodies.
template <class Visit>
Sequential map_weight_layers(const Sequential& model, Visit&& visit, std::size_t* counter = nullptr) {
  std::size_t first = 0;
  std::size_t& index = counter ? *counter : first;
  Sequential out = model;
  for (Layer& layer : out.layers()) {
    if (std::holds_alternative<Conv2d>(layer) || std::holds_alternative<Linear>(layer)) {
      visit(index++, layer);
    } else if (auto* r = std::get_if<Residual>(&layer); r && r->body) {
      r->body = std::make_shared<const Sequential>(map_weight_layers(*r->body, visit, &index));
    }
  }
  return out;
}

/// Number of Conv2d and Linear layers, residual bodies included.
inline std::size_t weight_layer_count(const Sequential& model) {
  std::size_t n = 0;
  map_weight_layers(model, [&](std::size_t, Layer&) { ++n; });
  return n;
}


/// Every Conv2d directly followed by a BatchNorm2d becomes one Conv2d (fold_batchnorm), inside residual blocks too;
/// other layers are copied.
inline Sequential fold_batchnorm(const Sequential& model) {
  Sequential out;
  const auto& layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto* conv = std::get_if<Conv2d>(&layers[i]);
    const auto* bn = i + 1 < layers.size() ? std::get_if<BatchNorm2d>(&layers[i + 1]) : nullptr;
    if (conv && bn) {
      out.add(fold_batchnorm(*conv, *bn));
      ++i;
    } else if (const auto* r = std::get_if<Residual>(&layers[i]); r && r->body) {
      out.add(Residual{std::make_shared<const Sequential>(fold_batchnorm(*r->body)), r->relu});
    } else {
      out.add(layers[i]);
    }
  }
  return out;
}

/// PyTorch's quantize_dynamic: every Linear (inside residual blocks too) becomes a DynamicLinear; the rest stays fp32.
inline Sequential quantize_dynamic(const Sequential& model, isa path = isa::none) {
  Sequential out;
  for (const Layer& layer : model.layers()) {
    if (const auto* linear = std::get_if<Linear>(&layer))
      out.add(DynamicLinear(*linear, path));
    else if (const auto* r = std::get_if<Residual>(&layer); r && r->body)
      out.add(Residual{std::make_shared<const Sequential>(quantize_dynamic(*r->body, path)), r->relu});
    else
      out.add(layer);
  }
  return out;
}

/// How an activation observer turns what it saw into a range (calib/).
enum class calibrator {
  minmax,          ///< MinMaxObserver: the full range seen
  moving_average,  ///< MovingAverageMinMaxObserver (averaging_constant)
  histogram_l2,    ///< HistogramObserver::l2_range (torch's HistogramObserver)
  percentile,      ///< HistogramObserver::percentile_range(percentile)
  entropy,         ///< HistogramObserver::entropy_range (TensorRT's KL calibration)
  mse,             ///< mse_sweep_range over a subsample of the values seen
};

inline const char* calibrator_name(calibrator c) noexcept {
  switch (c) {
    case calibrator::minmax: return "minmax";
    case calibrator::moving_average: return "moving_average";
    case calibrator::histogram_l2: return "histogram_l2";
    case calibrator::percentile: return "percentile";
    case calibrator::entropy: return "entropy";
    case calibrator::mse: return "mse";
  }
  return "?";
}

struct StaticQuantConfig {
  calibrator activations = calibrator::minmax;
  bool per_channel_weights = true;
  int weight_bits = 8;                   ///< 2 to 8: int8 codes in [-2^(bits-1), 2^(bits-1) - 1] (W4A8 with 4)
  /// Mixed precision: one weight width per Conv2d / Linear in map_weight_layers' order (a recipe from
  /// compress/mixed_precision.hpp), each in [2, 8]; empty: weight_bits everywhere.
  std::vector<int> layer_weight_bits;
  double percentile = 99.99;             ///< for calibrator::percentile, in [0, 100]
  float averaging_constant = 0.01f;      ///< for calibrator::moving_average
  std::size_t mse_samples = 1u << 20;    ///< values kept (evenly decimated) for calibrator::mse
  isa path = isa::none;                  ///< GEMM kernels of the converted layers (isa::none: the active ones)
  /// The last Conv2d / Linear writes fp32 (GemmOutputDequantize) instead of uint8 codes, when it is the model's
  /// last step: logits keep their precision (torch instead quantizes them and dequantizes after).
  bool float_output = true;
};

/// One activation's observer, as the config's calibrator asks.
class ActivationObserver {
 public:
  explicit ActivationObserver(const StaticQuantConfig& config)
      : kind_(config.activations), percentile_(config.percentile), mse_capacity_(std::max<std::size_t>(config.mse_samples, 2)),
        moving_(per_tensor(), config.averaging_constant) {
    qmath::detail::require(config.weight_bits >= 2 && config.weight_bits <= 8, "qmath::nn::prepare",
                           "weight_bits must be in [2, 8]");
    qmath::detail::require(config.percentile >= 0.0 && config.percentile <= 100.0, "qmath::nn::ActivationObserver",
                           "percentile must be in [0, 100]");
    if (kind_ == calibrator::histogram_l2 || kind_ == calibrator::percentile || kind_ == calibrator::entropy)
      histogram_.emplace();
  }

  void update(const float* x, std::size_t n) {
    const TensorShape shape{{static_cast<std::int64_t>(n)}, storage_order::row_major};
    switch (kind_) {
      case calibrator::minmax: minmax_.update(x, shape); break;
      case calibrator::moving_average: moving_.update(x, shape); break;
      case calibrator::histogram_l2:
      case calibrator::percentile:
      case calibrator::entropy: histogram_->update(x, n); break;
      case calibrator::mse:
        for (std::size_t i = 0; i < n; ++i) {
          if (seen_++ % stride_ != 0) continue;
          samples_.push_back(x[i]);
          if (samples_.size() == mse_capacity_) {  // keep every other value, sample half as often from now on
            for (std::size_t k = 0; 2 * k < samples_.size(); ++k) samples_[k] = samples_[2 * k];
            samples_.resize((samples_.size() + 1) / 2);
            stride_ *= 2;
          }
        }
        break;
    }
  }

  /// @throws qmath::error when nothing finite has been observed.
  ActivationQParams qparams() const {
    constexpr const char* fn = "qmath::nn::ActivationObserver::qparams";
    Range r{0.0f, 0.0f};
    switch (kind_) {
      case calibrator::minmax:
        qmath::detail::require(!minmax_.empty(), fn, "no finite value observed");
        r = {minmax_.ranges().min[0], minmax_.ranges().max[0]};
        break;
      case calibrator::moving_average:
        qmath::detail::require(!moving_.empty(), fn, "no finite value observed");
        r = {moving_.ranges().min[0], moving_.ranges().max[0]};
        break;
      case calibrator::histogram_l2: r = histogram_->l2_range<std::uint8_t>(); break;
      case calibrator::percentile: r = histogram_->percentile_range(percentile_); break;
      case calibrator::entropy: r = histogram_->entropy_range<std::uint8_t>(); break;
      case calibrator::mse:
        qmath::detail::require(!samples_.empty(), fn, "no value observed");
        r = mse_sweep_range<std::uint8_t>(samples_.data(), samples_.size());
        break;
    }
    const QParams<std::uint8_t> p = choose_qparams<std::uint8_t>(r.min, r.max);
    return {p.scale[0], p.zero_point[0]};
  }

 private:
  calibrator kind_;
  double percentile_;
  std::size_t mse_capacity_, seen_ = 0, stride_ = 1;
  MinMaxObserver minmax_;
  MovingAverageMinMaxObserver moving_;
  std::optional<HistogramObserver> histogram_;
  std::vector<float> samples_;
};

/// ReLU / ReLU6 on codes: clamp to [Z, Z + round(6 / S)] (capped at 255); the parameters stay.
struct QuantizedReLU {
  float cap = std::numeric_limits<float>::infinity();
  QuantizedTensor forward(const QuantizedTensor& x) const {
    QuantizedTensor y = x;
    const double top = std::isinf(cap) ? 255.0 : std::min(255.0, x.zero_point + std::nearbyint(static_cast<double>(cap) / x.scale));
    const auto lo = static_cast<std::uint8_t>(x.zero_point);
    const auto hi = static_cast<std::uint8_t>(std::max(top, static_cast<double>(lo)));
    for (Eigen::Index i = 0; i < y.codes.size(); ++i) y.codes.data()[i] = std::min(std::max(y.codes.data()[i], lo), hi);
    return y;
  }
};

class QuantizedModel;

/// A residual block on codes: y = quantized_add(x, body(x)) into the block's calibrated output parameters, with the
/// block's ReLU fused into the add's clamp.
struct QuantizedResidual {
  std::shared_ptr<const QuantizedModel> body;
  ActivationQParams output;
  bool relu = false;
  QuantizedTensor forward(const QuantizedTensor& x, const GemmOptions& options = {}) const;  // after QuantizedModel
};

using QuantizedLayer = std::variant<StaticQuantizedConv2d, StaticQuantizedLinear, QuantizedMaxPool2d, QuantizedFlatten,
                                    QuantizedReLU, QuantizedResidual>;

/// The converted int8 network: quantize the input, int8 layers, dequantize the output.
class QuantizedModel {
 public:
  /// float_output: the last layer is a StaticQuantizedConv2d / Linear run through forward_float.
  QuantizedModel(ActivationQParams input, std::vector<QuantizedLayer> layers, bool float_output = false)
      : input_(input), layers_(std::move(layers)), float_output_(float_output) {
    qmath::detail::require(!float_output_ || (!layers_.empty() && layers_.back().index() <= 1), "qmath::nn::QuantizedModel",
                           "float_output needs a static Conv2d or Linear as the last layer");
  }
  bool float_output() const noexcept { return float_output_; }

  ActivationQParams input_qparams() const noexcept { return input_; }
  const std::vector<QuantizedLayer>& layers() const noexcept { return layers_; }

  /// The int8 layers on codes (all of them, even with float_output: the last one then writes codes too).
  QuantizedTensor forward_codes(const QuantizedTensor& x, const GemmOptions& options = {}) const {
    return run(x, layers_.size(), options);
  }

  Tensor4 forward(const Tensor4& x, const GemmOptions& options = {}) const {
    const QuantizedTensor q = quantize_activation(x, input_);
    if (!float_output_) return dequantize_activation(run(q, layers_.size(), options));
    const QuantizedTensor h = run(q, layers_.size() - 1, options);
    return std::visit(
        [&](const auto& l) -> Tensor4 {
          if constexpr (std::is_same_v<std::decay_t<decltype(l)>, StaticQuantizedConv2d> ||
                        std::is_same_v<std::decay_t<decltype(l)>, StaticQuantizedLinear>)
            return l.forward_float(h, options);
          else
            return {};  // excluded by the constructor
        },
        layers_.back());
  }

  /// int8 weights, int32 bias and per-channel float scale / multiplier.
  std::size_t parameter_bytes() const {
    std::size_t bytes = 0;
    for (const QuantizedLayer& layer : layers_) {
      if (const auto* c = std::get_if<StaticQuantizedConv2d>(&layer)) bytes += c->parameter_bytes();
      if (const auto* l = std::get_if<StaticQuantizedLinear>(&layer)) bytes += l->parameter_bytes();
      if (const auto* r = std::get_if<QuantizedResidual>(&layer)) bytes += r->body->parameter_bytes();
    }
    return bytes;
  }

 private:
  QuantizedTensor run(const QuantizedTensor& x, std::size_t count, const GemmOptions& options) const {
    QuantizedTensor y = x;
    for (std::size_t i = 0; i < count; ++i)
      y = std::visit(
          [&](const auto& l) {
            if constexpr (std::is_same_v<std::decay_t<decltype(l)>, StaticQuantizedConv2d> ||
                          std::is_same_v<std::decay_t<decltype(l)>, StaticQuantizedLinear> ||
                          std::is_same_v<std::decay_t<decltype(l)>, QuantizedResidual>)
              return l.forward(y, options);
            else
              return l.forward(y);
          },
          layers_[i]);
    return y;
  }

  ActivationQParams input_;
  std::vector<QuantizedLayer> layers_;
  bool float_output_;
};

inline QuantizedTensor QuantizedResidual::forward(const QuantizedTensor& x, const GemmOptions& options) const {
  const QuantizedTensor b = body->forward_codes(x, options);
  return quantized_add(x, b, output, relu ? fused_activation::relu : fused_activation::none);
}

/// A model with observers, ready for calibration batches (see the top of this file).
class PreparedModel {
 public:
  /// @throws qmath::error on a layer with no int8 form, or an invalid config.
  PreparedModel(const Sequential& model, const StaticQuantConfig& config) : PreparedModel(model, config, nullptr) {
    const std::size_t layers = weight_layer_count(model_);
    const auto& bits = config.layer_weight_bits;
    qmath::detail::require(bits.empty() || bits.size() == layers, "qmath::nn::prepare",
                           "layer_weight_bits has " + std::to_string(bits.size()) + " entries, the model " +
                               std::to_string(layers) + " Conv2d / Linear layers");
    for (int b : bits) qmath::detail::require(b >= 2 && b <= 8, "qmath::nn::prepare", "layer_weight_bits must be in [2, 8]");
  }

  const Sequential& model() const noexcept { return model_; }
  std::size_t observer_count() const noexcept { return observers_.size(); }
  const ActivationObserver& observer(std::size_t i) const { return observers_.at(i); }

  /// Runs the fp32 model on one batch, observing the model's input and each static layer's output (inside residual
  /// blocks too).
  void calibrate(const Tensor4& batch) {
    observers_[0].update(batch.data(), static_cast<std::size_t>(batch.size()));
    run_observed(batch);
    calibrated_ = true;
  }

  /// The int8 model. @throws qmath::error before any calibration batch, or when an observer saw no finite value.
  QuantizedModel convert() const { return convert(config_.path); }

  /// The int8 model with the GEMM kernels of `path` (isa::none: the active ones) instead of the config's.
  QuantizedModel convert(isa path) const {
    qmath::detail::require(calibrated_, "qmath::nn::PreparedModel::convert", "no calibration batch seen");
    const ActivationQParams input = observers_[0].qparams();
    std::vector<QuantizedLayer> out = convert_layers(input, path);
    const bool float_output = config_.float_output && !out.empty() && out.back().index() <= 1;
    return QuantizedModel(input, std::move(out), float_output);
  }

 private:
  static constexpr std::size_t kNoObserver = static_cast<std::size_t>(-1);
  // weight_index: the map_weight_layers index of the next Conv2d / Linear (nullptr: a whole model, from 0).
  PreparedModel(const Sequential& model, const StaticQuantConfig& config, std::size_t* weight_index)
      : model_(fold_batchnorm(model)), config_(config) {
    constexpr const char* fn = "qmath::nn::prepare";
    std::size_t first = 0;
    if (!weight_index) weight_index = &first;
    const auto& layers = model_.layers();
    observers_.emplace_back(config_);  // the model's input
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Layer& layer = layers[i];
      if (std::holds_alternative<Conv2d>(layer) || std::holds_alternative<Linear>(layer)) {
        const bool fuse = i + 1 < layers.size() && std::holds_alternative<ReLU>(layers[i + 1]);
        steps_.push_back({i, fuse ? i + 1 : i, observers_.size(), nullptr, (*weight_index)++});
        observers_.emplace_back(config_);
        if (fuse) ++i;
      } else if (std::holds_alternative<MaxPool2d>(layer) || std::holds_alternative<Flatten>(layer) ||
                 std::holds_alternative<ReLU>(layer)) {
        steps_.push_back({i, i, kNoObserver, nullptr, 0});
      } else if (const auto* r = std::get_if<Residual>(&layer); r && r->body) {
        steps_.push_back({i, i, observers_.size(), std::shared_ptr<PreparedModel>(new PreparedModel(*r->body, config_, weight_index)), 0});
        observers_.emplace_back(config_);  // the block's output, after the add (and its ReLU)
      } else {
        qmath::detail::fail(fn, std::string("layer ") + std::to_string(i) + " (" + layer_name(layer) +
                                    ") has no static int8 form");
      }
    }
  }

  struct Step {
    std::size_t first, last, observer;      // layers [first, last] of model_; observer of its output
    std::shared_ptr<PreparedModel> nested;  // a residual block's body
    std::size_t weight_layer;               // a Conv2d / Linear step's index in layer_weight_bits
  };

  Tensor4 run_observed(const Tensor4& x) {
    const auto& layers = model_.layers();
    Tensor4 y = x;
    for (const Step& s : steps_) {
      for (std::size_t i = s.first; i <= s.last; ++i) {
        if (s.nested) {
          const Tensor4 body = s.nested->run_observed(y);
          y = add(body, y);
          if (std::get<Residual>(layers[i]).relu) y = ReLU{}.forward(y);
        } else {
          y = std::visit([&](const auto& layer) { return layer.forward(y); }, layers[i]);
        }
      }
      if (s.observer != kNoObserver) observers_[s.observer].update(y.data(), static_cast<std::size_t>(y.size()));
    }
    return y;
  }

  int weight_bits_of(const Step& s) const {
    return config_.layer_weight_bits.empty() ? config_.weight_bits : config_.layer_weight_bits[s.weight_layer];
  }

  // The int8 layers of this (sub)model for an input with parameters `input`.
  std::vector<QuantizedLayer> convert_layers(ActivationQParams input, isa path) const {
    const auto& layers = model_.layers();
    ActivationQParams current = input;
    std::vector<QuantizedLayer> out;
    for (const Step& s : steps_) {
      if (s.nested) {
        const ActivationQParams output = observers_[s.observer].qparams();
        auto body = std::make_shared<const QuantizedModel>(current, s.nested->convert_layers(current, path), false);
        out.emplace_back(QuantizedResidual{std::move(body), output, std::get<Residual>(layers[s.first]).relu});
        current = output;
        continue;
      }
      const Layer& first = layers[s.first];
      fused_activation act = fused_activation::none;
      if (s.last != s.first) act = std::isinf(std::get<ReLU>(layers[s.last]).cap) ? fused_activation::relu : fused_activation::relu6;
      if (const auto* conv = std::get_if<Conv2d>(&first)) {
        if (act == fused_activation::relu6 && std::get<ReLU>(layers[s.last]).cap != 6.0f)
          qmath::detail::fail("qmath::nn::PreparedModel::convert", "only ReLU and ReLU6 fuse into a Conv2d");
        const ActivationQParams output = observers_[s.observer].qparams();
        const QParams<std::int8_t> wq = symmetric_weight_qparams(conv->weight().data(), conv->weight_count(),
                                                                 conv->filter().out_channels, config_.per_channel_weights,
                                                                 weight_bits_of(s));
        out.emplace_back(StaticQuantizedConv2d(*conv, wq, current, output, act, path));
        current = output;
      } else if (const auto* linear = std::get_if<Linear>(&first)) {
        if (act == fused_activation::relu6 && std::get<ReLU>(layers[s.last]).cap != 6.0f)
          qmath::detail::fail("qmath::nn::PreparedModel::convert", "only ReLU and ReLU6 fuse into a Linear");
        const ActivationQParams output = observers_[s.observer].qparams();
        const QParams<std::int8_t> wq = symmetric_weight_qparams(
            linear->weight().data(), static_cast<std::size_t>(linear->weight().size()), linear->out_features(),
            config_.per_channel_weights, weight_bits_of(s));
        out.emplace_back(StaticQuantizedLinear(*linear, wq, current, output, act, path));
        current = output;
      } else if (const auto* pool = std::get_if<MaxPool2d>(&first)) {
        out.emplace_back(QuantizedMaxPool2d{*pool});
      } else if (std::holds_alternative<Flatten>(first)) {
        out.emplace_back(QuantizedFlatten{});
      } else {
        out.emplace_back(QuantizedReLU{std::get<ReLU>(first).cap});
      }
    }
    return out;
  }

  Sequential model_;
  StaticQuantConfig config_;
  std::vector<ActivationObserver> observers_;
  std::vector<Step> steps_;
  bool calibrated_ = false;
};

/// torch.ao.quantization.prepare: see PreparedModel.
inline PreparedModel prepare(const Sequential& model, const StaticQuantConfig& config = {}) {
  return PreparedModel(model, config);
}

}  // namespace nn
QMATH_END_NAMESPACE  // qmath
