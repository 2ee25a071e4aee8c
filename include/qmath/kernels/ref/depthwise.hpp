// SPDX-License-Identifier: Apache-2.0
// kernels/ref/depthwise.hpp: the scalar path of the depthwise convolution family (kernels layer): the definition
// on the problem's repacked weights, then the GEMM's output stage per element (ref::store_output).
#pragma once

#include "qmath/core/config.hpp"

#include <cstddef>
#include <cstdint>

#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace ref {

/// One input code of a depthwise problem as int32.
inline std::int32_t depthwise_code(const DepthwiseProblem& d, std::ptrdiff_t at) noexcept {
  return d.input_signed ? static_cast<std::int32_t>(static_cast<const std::int8_t*>(d.input)[at])
                        : static_cast<std::int32_t>(static_cast<const std::uint8_t*>(d.input)[at]);
}

/// The scalar table's DepthwiseFn.
inline void depthwise_scalar(const DepthwiseProblem& d, const GemmProblem& out, std::ptrdiff_t row_begin,
                             std::ptrdiff_t row_end) noexcept {
  const std::ptrdiff_t channels_out = d.channels * d.multiplier;
  for (std::ptrdiff_t row = row_begin; row < row_end; ++row) {
    const std::ptrdiff_t image = row / d.out_h, oh = row % d.out_h;
    for (std::ptrdiff_t ow = 0; ow < d.out_w; ++ow)
      for (std::ptrdiff_t o = 0; o < channels_out; ++o) {
        std::int32_t sum = 0;
        for (std::ptrdiff_t kh = 0; kh < d.kernel_h; ++kh)
          for (std::ptrdiff_t kw = 0; kw < d.kernel_w; ++kw) {
            const std::ptrdiff_t ih = oh * d.stride_h - d.pad_top + kh * d.dilation_h;
            const std::ptrdiff_t iw = ow * d.stride_w - d.pad_left + kw * d.dilation_w;
            if (ih < 0 || ih >= d.in_h || iw < 0 || iw >= d.in_w) continue;
            const std::int32_t x = depthwise_code(d, ((image * d.in_h + ih) * d.in_w + iw) * d.channels + o / d.multiplier);
            sum += (x - d.input_zero_point) * d.weights[(kh * d.kernel_w + kw) * d.weight_stride + o];
          }
        store_output(out, row * d.out_w + ow, o, sum);
      }
  }
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
