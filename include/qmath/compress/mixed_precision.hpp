// SPDX-License-Identifier: Apache-2.0
// compress/mixed_precision.hpp: which layers can take fewer bits. Per-layer sensitivity (only layer i's weights
// quantized to each candidate width, the model's output compared with fp32 on calibration data), then a bit
// allocation under a byte budget over each layer's (bytes, error) options, greedy or Lagrangian, giving a recipe
// (one weight width per Conv2d / Linear) that nn::StaticQuantConfig::layer_weight_bits applies at convert().
//
//   const compress::Sensitivity s = compress::layer_sensitivity(model, calibration_batches, {2, 3, 4, 5, 6, 8});
//   const compress::Allocation a = compress::allocate_lagrangian(s.options, s.budget_for_bits_per_weight(4.0));
//   nn::StaticQuantConfig config;
//   config.layer_weight_bits = s.recipe(a);
//
// The error of a choice is the output's noise power (mean squared difference from the fp32 output) with only that
// layer quantized; the allocators add them, the usual assumption that independent layers' quantization noises add
// at the output (HAWQ, and Banner et al.'s per-channel bit allocation, make the same one). The weights are quantized
// as convert() quantizes them (nn::symmetric_weight_qparams, per output channel by default, codes rounded half to
// even as quantize() does), so a layer's measured error is the error its converted form adds.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/nn/model.hpp"
#include "qmath/nn/static_layers.hpp"
#include "qmath/quant/fake_quant.hpp"

QMATH_BEGIN_NAMESPACE
namespace compress {

/// One way to store one layer: its weight width, what it costs and the error it adds.
struct BitOption {
  int bits = 8;
  double bytes = 0.0;
  double error = 0.0;
};

/// A choice of one option per layer and its totals.
struct Allocation {
  std::vector<std::size_t> choice;  ///< index into each layer's options
  double bytes = 0.0, error = 0.0;
};

namespace detail {

inline void check_options(const std::vector<std::vector<BitOption>>& layers, const char* fn) {
  for (std::size_t i = 0; i < layers.size(); ++i) {
    qmath::detail::require(!layers[i].empty(), fn, "layer " + std::to_string(i) + " has no options");
    for (const BitOption& o : layers[i])
      qmath::detail::require(std::isfinite(o.bytes) && o.bytes >= 0.0 && std::isfinite(o.error) && o.error >= 0.0, fn,
                             "layer " + std::to_string(i) + " has an option with negative or non-finite bytes / error");
  }
}

inline Allocation totals(const std::vector<std::vector<BitOption>>& layers, std::vector<std::size_t> choice) {
  Allocation a;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    a.bytes += layers[i][choice[i]].bytes;
    a.error += layers[i][choice[i]].error;
  }
  a.choice = std::move(choice);
  return a;
}

inline double smallest_bytes(const std::vector<std::vector<BitOption>>& layers) {
  double b = 0.0;
  for (const auto& options : layers) {
    double m = options[0].bytes;
    for (const BitOption& o : options) m = std::min(m, o.bytes);
    b += m;
  }
  return b;
}

inline void check_budget(const std::vector<std::vector<BitOption>>& layers, double budget, const char* fn) {
  check_options(layers, fn);
  const double floor = smallest_bytes(layers);
  qmath::detail::require(budget >= floor, fn,
                         "the budget of " + std::to_string(budget) + " bytes is below the smallest choice (" +
                             std::to_string(floor) + " bytes)");
}

}  // namespace detail

/// Greedy: every layer starts at its lowest-error option (ties: fewer bytes); while over budget, the one move to
/// a smaller option of one layer with the least error added per byte saved is taken.
/// @throws qmath::error on a layer without options or a budget below the smallest choice.
inline Allocation allocate_greedy(const std::vector<std::vector<BitOption>>& layers, double byte_budget) {
  constexpr const char* fn = "qmath::compress::allocate_greedy";
  detail::check_budget(layers, byte_budget, fn);
  std::vector<std::size_t> choice(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (std::size_t k = 1; k < layers[i].size(); ++k) {
      const BitOption &o = layers[i][k], &c = layers[i][choice[i]];
      if (o.error < c.error || (o.error == c.error && o.bytes < c.bytes)) choice[i] = k;
    }
  Allocation a = detail::totals(layers, choice);
  while (a.bytes > byte_budget) {
    std::size_t best_layer = layers.size(), best_option = 0;
    double best_rate = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const BitOption& c = layers[i][a.choice[i]];
      for (std::size_t k = 0; k < layers[i].size(); ++k) {
        const BitOption& o = layers[i][k];
        if (o.bytes >= c.bytes) continue;
        const double rate = (o.error - c.error) / (c.bytes - o.bytes);
        if (rate < best_rate) {
          best_rate = rate;
          best_layer = i;
          best_option = k;
        }
      }
    }
    if (best_layer == layers.size()) break;  // cannot happen above the checked floor; kept as a guard
    a.choice[best_layer] = best_option;
    a = detail::totals(layers, a.choice);
  }
  return a;
}

/// Lagrangian: for a multiplier lambda each layer takes the option minimizing error + lambda * bytes; the smallest
/// lambda that fits the budget (bisection) gives the allocation. Optimal among the allocations on the lower convex
/// hull of the (bytes, error) trade-off; then the spare budget is spent greedily on the moves that remove the most
/// error per byte added.
inline Allocation allocate_lagrangian(const std::vector<std::vector<BitOption>>& layers, double byte_budget) {
  constexpr const char* fn = "qmath::compress::allocate_lagrangian";
  detail::check_budget(layers, byte_budget, fn);
  auto pick = [&](double lambda) {
    std::vector<std::size_t> choice(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t k = 0; k < layers[i].size(); ++k) {
        const BitOption& o = layers[i][k];
        const double cost = o.error + lambda * o.bytes;
        const BitOption& c = layers[i][choice[i]];
        if (cost < best || (cost == best && o.bytes < c.bytes)) {
          best = cost;
          choice[i] = k;
        }
      }
    }
    return detail::totals(layers, choice);
  };
  Allocation a = pick(0.0);
  if (a.bytes > byte_budget) {
    double low = 0.0, high = 1.0;
    while (pick(high).bytes > byte_budget && high < 1e300) high *= 2.0;
    for (int it = 0; it < 200; ++it) {
      const double mid = 0.5 * (low + high);
      (pick(mid).bytes > byte_budget ? low : high) = mid;
    }
    a = pick(high);
  }
  // Spend what is left: the upgrade removing the most error per extra byte, while one fits.
  for (;;) {
    std::size_t best_layer = layers.size(), best_option = 0;
    double best_gain = 0.0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const BitOption& c = layers[i][a.choice[i]];
      for (std::size_t k = 0; k < layers[i].size(); ++k) {
        const BitOption& o = layers[i][k];
        if (o.error >= c.error || a.bytes - c.bytes + o.bytes > byte_budget) continue;
        const double gain = (c.error - o.error) / std::max(o.bytes - c.bytes, 1e-12);
        if (gain > best_gain) {
          best_gain = gain;
          best_layer = i;
          best_option = k;
        }
      }
    }
    if (best_layer == layers.size()) break;
    a.choice[best_layer] = best_option;
    a = detail::totals(layers, a.choice);
  }
  return a;
}

/// Exact up to rounding: dynamic programming over the budget cut into steps of equal size (at most `max_steps`, and
/// at most 2^24 / layers so that time (layers x options x steps) and memory (layers x steps bytes) stay bounded),
/// each option's bytes rounded up to whole steps. The result always fits; it is optimal whenever the bytes are
/// multiples of the step (e.g. whole bits with budget * 8 <= steps), and in general at least as good as any
/// allocation that fits budget - layers x step. For thousands of layers prefer allocate_lagrangian.
inline Allocation allocate_optimal(const std::vector<std::vector<BitOption>>& layers, double byte_budget,
                                   std::size_t max_steps = std::size_t{1} << 20) {
  constexpr const char* fn = "qmath::compress::allocate_optimal";
  detail::check_budget(layers, byte_budget, fn);
  qmath::detail::require(max_steps >= 1 && max_steps <= (std::size_t{1} << 28), fn, "max_steps must be in [1, 2^28]");
  max_steps = std::max<std::size_t>(1, std::min(max_steps, (std::size_t{1} << 24) / std::max<std::size_t>(1, layers.size())));
  const double step = std::max(0.125, byte_budget / static_cast<double>(max_steps));
  const auto steps = static_cast<std::size_t>(std::floor(byte_budget / step + 1e-9));
  auto cost = [&](const BitOption& o) { return static_cast<std::size_t>(std::ceil(o.bytes / step - 1e-9)); };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // best[b]: least error of the layers so far using at most b steps; pick[i][b]: layer i's option there.
  std::vector<double> best(steps + 1, 0.0), next(steps + 1);
  std::vector<std::vector<std::uint8_t>> pick(layers.size(), std::vector<std::uint8_t>(steps + 1, 0));
  for (std::size_t i = 0; i < layers.size(); ++i) {
    qmath::detail::require(layers[i].size() <= 255, fn, "at most 255 options per layer");
    for (std::size_t b = 0; b <= steps; ++b) {
      next[b] = kInf;
      for (std::size_t k = 0; k < layers[i].size(); ++k) {
        const std::size_t c = cost(layers[i][k]);
        if (c > b || best[b - c] == kInf) continue;
        const double e = best[b - c] + layers[i][k].error;
        if (e < next[b]) {
          next[b] = e;
          pick[i][b] = static_cast<std::uint8_t>(k);
        }
      }
    }
    best.swap(next);
  }
  qmath::detail::require(best[steps] < kInf, fn, "no choice fits the budget once bytes are rounded to steps of " + std::to_string(step));
  std::vector<std::size_t> choice(layers.size());
  std::size_t b = steps;
  for (std::size_t i = layers.size(); i-- > 0;) {
    choice[i] = pick[i][b];
    b -= cost(layers[i][choice[i]]);
  }
  return detail::totals(layers, choice);
}

/// Bytes of a Conv2d / Linear weight tensor at `bits` per weight: the codes packed, plus an fp32 scale per output
/// channel (per tensor: one). Biases are not counted (they stay int32 / fp32 whatever the width).
inline double weight_bytes(std::size_t weights, std::size_t output_channels, int bits, bool per_channel = true) {
  return static_cast<double>(weights) * bits / 8.0 + 4.0 * static_cast<double>(per_channel ? output_channels : 1);
}

/// The weights of one Conv2d / Linear quantized as convert() does at `bits` (symmetric, per channel or tensor) and
/// dequantized again.
inline void fake_quantize_weights(nn::Layer& layer, int bits, bool per_channel = true) {
  auto fake = [&](const float* w, std::size_t count, std::ptrdiff_t outputs) {
    const QParams<std::int8_t> p = nn::symmetric_weight_qparams(w, count, outputs, per_channel, bits);
    std::vector<float> out(count);
    const TensorShape shape{{outputs, static_cast<std::int64_t>(count) / outputs}, storage_order::row_major};
    if (per_channel)
      fake_quantize(w, shape, 0, p.scale, p.zero_point, p.qmin, p.qmax, out.data());
    else
      fake_quantize(w, count, p.scale[0], 0, p.qmin, p.qmax, out.data());
    return out;
  };
  if (auto* c = std::get_if<nn::Conv2d>(&layer)) {
    c->set_parameters(fake(c->weight().data(), c->weight_count(), c->filter().out_channels).data(), nullptr);
  } else if (auto* l = std::get_if<nn::Linear>(&layer)) {
    l->set_parameters(fake(l->weight().data(), static_cast<std::size_t>(l->weight().size()), l->out_features()).data(), nullptr);
  } else {
    qmath::detail::fail("qmath::compress::fake_quantize_weights", std::string("not a Conv2d or Linear: ") + nn::layer_name(layer));
  }
}

/// Per-layer sensitivity of a model (see the top of this file).
struct Sensitivity {
  std::vector<int> candidate_bits;
  std::vector<std::size_t> weights;                ///< weight count of each Conv2d / Linear (map_weight_layers order)
  std::vector<std::vector<BitOption>> options;     ///< per layer, one per candidate width, in candidate order
  double signal_power = 0.0;                       ///< mean square of the fp32 output (SQNR = signal / error)
  double scale_bytes = 0.0;                        ///< the fp32 scales of all layers (the same at every width)

  std::size_t total_weights() const {
    std::size_t n = 0;
    for (std::size_t w : weights) n += w;
    return n;
  }
  /// Bytes for an average of `bits` per weight plus the scales: uniform int4 fits budget_for_bits_per_weight(4).
  double budget_for_bits_per_weight(double bits) const { return static_cast<double>(total_weights()) * bits / 8.0 + scale_bytes; }
  /// Average bits per weight of an allocation, the scales not counted (the inverse of the budget above).
  double bits_per_weight(const Allocation& a) const { return (a.bytes - scale_bytes) * 8.0 / static_cast<double>(total_weights()); }
  /// The widths an allocation picks, for StaticQuantConfig::layer_weight_bits.
  std::vector<int> recipe(const Allocation& a) const {
    std::vector<int> bits;
    for (std::size_t i = 0; i < options.size(); ++i) bits.push_back(options[i].at(a.choice.at(i)).bits);
    return bits;
  }
  /// The allocation that gives every layer the same width (which must be a candidate).
  Allocation uniform(int bits) const {
    const auto at = std::find(candidate_bits.begin(), candidate_bits.end(), bits);
    qmath::detail::require(at != candidate_bits.end(), "qmath::compress::Sensitivity::uniform", "not a candidate width");
    return detail::totals(options, std::vector<std::size_t>(options.size(), static_cast<std::size_t>(at - candidate_bits.begin())));
  }
};

/// Quantizes one Conv2d / Linear at a time to each candidate width (2 to 8) and measures the output's mean squared
/// error against fp32 over the calibration batches. Cost: layers x candidates forward passes over the batches.
/// @throws qmath::error on no batches, a width outside [2, 8], or a model without Conv2d / Linear layers.
inline Sensitivity layer_sensitivity(const nn::Sequential& model, const std::vector<nn::Tensor4>& batches,
                                     const std::vector<int>& candidate_bits, bool per_channel = true) {
  constexpr const char* fn = "qmath::compress::layer_sensitivity";
  qmath::detail::require(!batches.empty(), fn, "no calibration batches");
  qmath::detail::require(!candidate_bits.empty(), fn, "no candidate widths");
  for (int b : candidate_bits) qmath::detail::require(b >= 2 && b <= 8, fn, "candidate widths must be in [2, 8]");
  Sensitivity s;
  s.candidate_bits = candidate_bits;
  const nn::Sequential folded = nn::fold_batchnorm(model);  // convert() quantizes the folded weights
  std::vector<std::size_t> outputs;
  nn::map_weight_layers(folded, [&](std::size_t, nn::Layer& layer) {
    if (const auto* c = std::get_if<nn::Conv2d>(&layer)) {
      s.weights.push_back(c->weight_count());
      outputs.push_back(static_cast<std::size_t>(c->filter().out_channels));
    } else {
      const auto& l = std::get<nn::Linear>(layer);
      s.weights.push_back(static_cast<std::size_t>(l.weight().size()));
      outputs.push_back(static_cast<std::size_t>(l.out_features()));
    }
  });
  qmath::detail::require(!s.weights.empty(), fn, "the model has no Conv2d or Linear layer");
  std::vector<nn::Tensor4> reference;
  double count = 0.0;
  for (const nn::Tensor4& x : batches) {
    reference.push_back(folded.forward(x));
    const nn::Tensor4& y = reference.back();
    for (Eigen::Index i = 0; i < y.size(); ++i) s.signal_power += static_cast<double>(y.data()[i]) * y.data()[i];
    count += static_cast<double>(y.size());
  }
  s.signal_power /= count;
  s.options.resize(s.weights.size());
  for (std::size_t layer = 0; layer < s.weights.size(); ++layer) s.scale_bytes += weight_bytes(0, outputs[layer], 8, per_channel);
  for (std::size_t layer = 0; layer < s.weights.size(); ++layer)
    for (int bits : candidate_bits) {
      const nn::Sequential q = nn::map_weight_layers(folded, [&](std::size_t i, nn::Layer& l) {
        if (i == layer) fake_quantize_weights(l, bits, per_channel);
      });
      double noise = 0.0;
      for (std::size_t b = 0; b < batches.size(); ++b) {
        const nn::Tensor4 y = q.forward(batches[b]);
        for (Eigen::Index i = 0; i < y.size(); ++i) {
          const double d = static_cast<double>(y.data()[i]) - reference[b].data()[i];
          noise += d * d;
        }
      }
      s.options[layer].push_back({bits, weight_bytes(s.weights[layer], outputs[layer], bits, per_channel), noise / count});
    }
  return s;
}

}  // namespace compress
QMATH_END_NAMESPACE  // qmath
