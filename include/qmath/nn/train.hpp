// SPDX-License-Identifier: Apache-2.0
// nn/train.hpp: what fine-tuning needs: softmax with temperature, softmax cross-entropy, the distillation loss, each
// with its gradient with respect to the (student) logits, and SGD with momentum as torch.optim.SGD (layers).
//
// Logits are N x C: a Tensor4 [N, 1, 1, C] (a Linear's output). Losses are means over the batch (torch's
// reduction='mean' for cross-entropy, 'batchmean' for KL) and are computed in double; gradients are float.
//   softmax_T(z)_c      = exp(z_c / T) / sum_k exp(z_k / T)                 (max subtracted first)
//   cross_entropy       = -1/N sum_n log softmax(s_n)[y_n]                   d/ds = (softmax(s) - onehot(y)) / N
//   distillation        = T^2 KL(softmax_T(t) || softmax_T(s)) + alpha * cross_entropy(s, y)
//                         d/ds = T (softmax_T(s) - softmax_T(t)) / N + alpha (softmax(s) - onehot(y)) / N
// (Hinton et al.; the T^2 keeps the soft term's gradient scale independent of T.)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/nn/layers.hpp"

QMATH_BEGIN_NAMESPACE
namespace nn {

struct LossResult {
  double loss = 0.0;
  Tensor4 gradient;  ///< d loss / d logits, the logits' shape
};

namespace detail {

inline std::ptrdiff_t check_logits(const Tensor4& logits, const char* fn) {
  if (logits.dimension(1) != 1 || logits.dimension(2) != 1 || logits.dimension(0) < 1 || logits.dimension(3) < 1)
    qmath::detail::fail(fn, "logits must be [N, 1, 1, C] with N, C >= 1, got " + dims_text(logits));
  for (Eigen::Index i = 0; i < logits.size(); ++i)
    if (!std::isfinite(logits.data()[i])) qmath::detail::fail(fn, "logit " + std::to_string(i) + " is not finite");
  return logits.dimension(3);
}

inline void check_labels(const std::vector<int>& labels, std::ptrdiff_t n, std::ptrdiff_t classes, const char* fn) {
  if (static_cast<std::ptrdiff_t>(labels.size()) != n)
    qmath::detail::fail(fn, std::to_string(labels.size()) + " labels for " + std::to_string(n) + " rows");
  for (int y : labels)
    if (y < 0 || y >= classes) qmath::detail::fail(fn, "label " + std::to_string(y) + " is outside [0, classes)");
}

/// Row-wise softmax of z / T in double; returns log-sum-exp per row in lse.
inline std::vector<double> softmax_rows(const float* z, std::ptrdiff_t n, std::ptrdiff_t c, double temperature,
                                        std::vector<double>* log_sum_exp = nullptr) {
  std::vector<double> p(static_cast<std::size_t>(n * c));
  if (log_sum_exp) log_sum_exp->resize(static_cast<std::size_t>(n));
  for (std::ptrdiff_t r = 0; r < n; ++r) {
    const float* row = z + r * c;
    const double top = *std::max_element(row, row + c) / temperature;
    double sum = 0.0;
    for (std::ptrdiff_t k = 0; k < c; ++k) sum += p[static_cast<std::size_t>(r * c + k)] = std::exp(row[k] / temperature - top);
    for (std::ptrdiff_t k = 0; k < c; ++k) p[static_cast<std::size_t>(r * c + k)] /= sum;
    if (log_sum_exp) (*log_sum_exp)[static_cast<std::size_t>(r)] = top + std::log(sum);
  }
  return p;
}

}  // namespace detail

/// softmax(logits / temperature) per row. @throws qmath::error on a bad shape, non-finite logits or T <= 0.
inline Tensor4 softmax(const Tensor4& logits, float temperature = 1.0f) {
  constexpr const char* fn = "qmath::nn::softmax";
  const std::ptrdiff_t c = detail::check_logits(logits, fn);
  qmath::detail::require(std::isfinite(temperature) && temperature > 0.0f, fn, "temperature must be finite and > 0");
  const std::vector<double> p = detail::softmax_rows(logits.data(), logits.dimension(0), c, temperature);
  Tensor4 out(logits.dimensions());
  for (std::size_t i = 0; i < p.size(); ++i) out.data()[i] = static_cast<float>(p[i]);
  return out;
}

/// Mean softmax cross-entropy of the logits against integer labels in [0, C). @throws qmath::error on bad input.
inline LossResult softmax_cross_entropy(const Tensor4& logits, const std::vector<int>& labels) {
  constexpr const char* fn = "qmath::nn::softmax_cross_entropy";
  const std::ptrdiff_t c = detail::check_logits(logits, fn), n = logits.dimension(0);
  detail::check_labels(labels, n, c, fn);
  std::vector<double> lse;
  const std::vector<double> p = detail::softmax_rows(logits.data(), n, c, 1.0, &lse);
  LossResult r{0.0, Tensor4(logits.dimensions())};
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    const int y = labels[static_cast<std::size_t>(i)];
    r.loss += lse[static_cast<std::size_t>(i)] - logits.data()[i * c + y];
    for (std::ptrdiff_t k = 0; k < c; ++k)
      r.gradient.data()[i * c + k] = static_cast<float>((p[static_cast<std::size_t>(i * c + k)] - (k == y ? 1.0 : 0.0)) / n);
  }
  r.loss /= static_cast<double>(n);
  return r;
}

/// T^2 KL(softmax_T(teacher) || softmax_T(student)) + alpha * cross_entropy(student, labels) (see the top of this
/// file); alpha = 0 needs no labels (pass an empty vector). @throws qmath::error on bad input.
inline LossResult distillation_loss(const Tensor4& student, const Tensor4& teacher, const std::vector<int>& labels,
                                    float temperature, float alpha) {
  constexpr const char* fn = "qmath::nn::distillation_loss";
  const std::ptrdiff_t c = detail::check_logits(student, fn), n = student.dimension(0);
  detail::check_logits(teacher, fn);
  if (teacher.dimensions() != student.dimensions())
    qmath::detail::fail(fn, "teacher " + detail::dims_text(teacher) + " and student " + detail::dims_text(student) +
                                " logits differ in shape");
  qmath::detail::require(std::isfinite(temperature) && temperature > 0.0f, fn, "temperature must be finite and > 0");
  qmath::detail::require(std::isfinite(alpha) && alpha >= 0.0f, fn, "alpha must be finite and >= 0");
  LossResult r{0.0, Tensor4(student.dimensions())};
  r.gradient.setZero();
  if (alpha > 0.0f) {
    r = softmax_cross_entropy(student, labels);
    r.loss *= alpha;
    for (Eigen::Index i = 0; i < r.gradient.size(); ++i) r.gradient.data()[i] *= alpha;
  }
  const double t = temperature;
  std::vector<double> lse_s, lse_t;
  const std::vector<double> ps = detail::softmax_rows(student.data(), n, c, t, &lse_s);
  const std::vector<double> pt = detail::softmax_rows(teacher.data(), n, c, t, &lse_t);
  double kl = 0.0;
  for (std::ptrdiff_t i = 0; i < n; ++i)
    for (std::ptrdiff_t k = 0; k < c; ++k) {
      const auto at = static_cast<std::size_t>(i * c + k);
      if (pt[at] > 0.0) {
        const double log_pt = teacher.data()[at] / t - lse_t[static_cast<std::size_t>(i)];
        const double log_ps = student.data()[at] / t - lse_s[static_cast<std::size_t>(i)];
        kl += pt[at] * (log_pt - log_ps);
      }
      r.gradient.data()[at] += static_cast<float>(t * (ps[at] - pt[at]) / n);
    }
  r.loss += t * t * kl / static_cast<double>(n);
  return r;
}

/// torch.optim.SGD for one parameter tensor: buf = momentum * buf + (grad + weight_decay * p) (buf = that
/// gradient on the first step), p -= lr * buf. Keep one SgdState per parameter tensor.
struct Sgd {
  float learning_rate = 0.01f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
};

struct SgdState {
  std::vector<float> buffer;  ///< empty before the first step

  /// @throws qmath::error when the buffer's size does not match n.
  void step(const Sgd& o, float* parameter, const float* gradient, std::size_t n) {
    qmath::detail::require(buffer.empty() || buffer.size() == n, "qmath::nn::SgdState::step",
                           "the parameter changed size between steps");
    const bool first = buffer.empty();
    if (first) buffer.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const float g = gradient[i] + o.weight_decay * parameter[i];
      buffer[i] = first || o.momentum == 0.0f ? g : o.momentum * buffer[i] + g;
      parameter[i] -= o.learning_rate * buffer[i];
    }
  }
};

}  // namespace nn
QMATH_END_NAMESPACE  // qmath
