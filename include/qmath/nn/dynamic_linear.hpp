// SPDX-License-Identifier: Apache-2.0
// nn/dynamic_linear.hpp: PyTorch's dynamic quantization mode as a C++ building block: a Linear layer with int8
// weights whose fp32 activations are quantized on the fly (layers).
//
//   y[m][n] = sum_k x[m][k] * W[n][k] + bias[n], computed as
//   W ~ Sw[n] * Wq[n][k]           int8, symmetric per output channel (PyTorch per_channel_symmetric: Sw = max|W[n]|
//                                  / 127.5, codes [-128, 127], zero point 0), quantized once at construction
//   x ~ Sx * (xq - Zx)             uint8 affine over the full [0, 255] range, from the min / max of the whole input
//                                  (per tensor, PyTorch's default) or of each row (per_row: one (Sx, Zx) per token)
//   y = fma(float(C), Sx * Sw[n], bias[n]),  C = sum_k (xq - Zx) * Wq       exact int32 (kernels/gemm.hpp)
// PyTorch's x86 backend quantizes activations with reduce_range (7 bits) because its AVX2 kernel saturates; qmath's
// kernels are exact for all 8 bits, so the full range is used. NaN inputs are ignored by the range and quantize to
// the zero point (0.0); an infinite input has no finite scale, so forward() throws (finite input up to +-FLT_MAX is
// accepted; an output beyond float's range is +-Inf). K (in_features) is limited to
// 65793 (the int32 exactness bound for these ranges).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/gemm.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"

QMATH_BEGIN_NAMESPACE

struct DynamicLinearOptions {
  bool per_row = false;  ///< one activation (scale, zero point) per row instead of one for the whole input
  int threads = 0;       ///< as GemmOptions::threads
  Eigen::ThreadPoolInterface* pool = nullptr;  ///< as GemmOptions::pool
};

class DynamicQuantizedLinear {
 public:
  /// weight: [out_features, in_features] row-major (PyTorch's nn.Linear.weight); bias: out_features entries or
  /// nullptr. `path` picks the GEMM kernels (isa::none: active_gemm_isa()). Throws qmath::error on bad sizes,
  /// non-finite weights or bias, or an unusable path.
  DynamicQuantizedLinear(const float* weight, std::ptrdiff_t out_features, std::ptrdiff_t in_features,
                         const float* bias, isa path = isa::none)
      : out_features_(out_features), in_features_(in_features) {
    constexpr const char* fn = "qmath::DynamicQuantizedLinear";
    detail::require(out_features >= 1 && in_features >= 1, fn, "out_features and in_features must be >= 1");
    detail::require(in_features <= 65793, fn, "in_features = " + std::to_string(in_features) +
                                                  " exceeds 65793, the int32 exactness bound");
    detail::require(weight != nullptr, fn, "null weight");
    const std::size_t count = static_cast<std::size_t>(out_features) * static_cast<std::size_t>(in_features);
    for (std::size_t i = 0; i < count; ++i)
      if (!std::isfinite(weight[i])) detail::fail(fn, "weight element " + std::to_string(i) + " is not finite");
    if (bias) {
      bias_.assign(bias, bias + out_features);
      for (std::ptrdiff_t i = 0; i < out_features; ++i)
        if (!std::isfinite(bias[i])) detail::fail(fn, "bias element " + std::to_string(i) + " is not finite");
    }
    ChooseOptions symmetric;
    symmetric.kind = scheme::symmetric;
    const TensorShape shape{{out_features, in_features}, storage_order::row_major};
    const QParams<std::int8_t> qp = choose_qparams<std::int8_t>(weight, shape, per_channel(0), symmetric);
    std::vector<std::int8_t> codes(count);
    quantize<std::int8_t>(weight, shape, qp, codes.data());
    weight_scales_ = qp.scale;
    const std::int32_t zero = 0;
    packed_ = pack_gemm_b(codes.data(), in_features, out_features, in_features, gemm_b_order::n_by_k, &zero, 1, path);
  }

  std::ptrdiff_t in_features() const noexcept { return in_features_; }
  std::ptrdiff_t out_features() const noexcept { return out_features_; }
  const PackedGemmB& packed_weights() const noexcept { return packed_; }
  const std::vector<float>& weight_scales() const noexcept { return weight_scales_; }

  /// y[m][:] = Linear(x[m][:]) for m < rows; x has leading dimension ldx >= in_features, y ldy >= out_features.
  /// Throws qmath::error on bad sizes or strides or an infinite input. Concurrent calls are safe (scratch is per thread).
  void forward(const float* x, std::ptrdiff_t rows, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
               const DynamicLinearOptions& options = {}) const {
    constexpr const char* fn = "qmath::DynamicQuantizedLinear::forward";
    if (rows < 0) detail::fail(fn, "rows must be >= 0");
    if (ldx < in_features_) detail::fail(fn, "ldx is below in_features");
    if (ldy < out_features_) detail::fail(fn, "ldy is below out_features");
    if (rows != 0 && (x == nullptr || y == nullptr)) detail::fail(fn, "null input or output");
    if (rows == 0) return;
    const std::ptrdiff_t k = in_features_;
    thread_local std::vector<float> scales;
    thread_local std::vector<std::int32_t> zero_points;
    const std::ptrdiff_t slots = options.per_row ? rows : 1;
    scales.resize(static_cast<std::size_t>(slots));
    zero_points.resize(static_cast<std::size_t>(slots));

    // One pass for the ranges; the GEMM quantizes while it packs (GemmAF32: the bits of quantize<uint8_t>).
    for (std::ptrdiff_t s = 0; s < slots; ++s) {
      const std::ptrdiff_t first = options.per_row ? s : 0, last = options.per_row ? s + 1 : rows;
      float lo = 0.0f, hi = 0.0f;  // the range always holds 0 (affine quantization represents 0.0 exactly)
      for (std::ptrdiff_t r = first; r < last; ++r) packed_.kernels().range_f32(x + r * ldx, k, &lo, &hi);
      if (!(std::isfinite(lo) && std::isfinite(hi))) detail::fail(fn, "the input holds an infinite value");
      // choose_qparams<uint8_t>(lo, hi)'s arithmetic, without its per-call vectors.
      const detail::SlotParams qp = detail::choose_slot<std::uint8_t>(lo, hi, ChooseOptions{}, 0, 255);
      scales[static_cast<std::size_t>(s)] = qp.scale;
      zero_points[static_cast<std::size_t>(s)] = qp.zero_point;
    }
    gemm(GemmAF32{x, rows, ldx, scales.data(), zero_points.data(), static_cast<std::size_t>(slots)}, packed_,
         GemmOutputDequantize{y, ldy, scales.data(), static_cast<std::size_t>(slots), weight_scales_.data(),
                              weight_scales_.size(), bias_.empty() ? nullptr : bias_.data()},
         GemmOptions{options.threads, options.pool});
  }

 private:
  std::ptrdiff_t out_features_, in_features_;
  PackedGemmB packed_;
  std::vector<float> weight_scales_;
  std::vector<float> bias_;
};

QMATH_END_NAMESPACE  // qmath
