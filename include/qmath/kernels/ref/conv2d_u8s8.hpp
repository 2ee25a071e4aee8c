// SPDX-License-Identifier: Apache-2.0
// kernels/ref/conv2d_u8s8.hpp: the specification of the int8 convolution: the direct loop over the definition in
// int64 on unpacked operands (kernels layer). Every path of conv2d() is tested against it.
//
//   y[b][oh][ow][o] = sum_{kh, kw, c < in_channels / groups} (x(b, ih, iw, g * Cg + c) - zx) * (w[o][c][kh][kw] - zw[o])
//   ih = oh * stride_h - pad_top + kh * dilation_h, iw = ow * stride_w - pad_left + kw * dilation_w, g = o / OCg,
//
// where x outside the input is zx (a padding tap contributes exactly 0). The output stages are the GEMM's
// (ref::store_output on the exact sums).
#pragma once

#include "qmath/core/config.hpp"

#include <cstddef>
#include <cstdint>

#include "qmath/core/conv_params.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace ref {

/// x: NHWC (batch x in_h x in_w x in_channels); w: OIHW (out_channels x in_channels / groups x kernel_h x kernel_w);
/// zw: 1 entry or out_channels (zw_per_channel); y: (batch * out_h * out_w) x out_channels, row stride ldy. Sums are
/// int64, stored as int32 (exact under conv2d's K bound).
template <class TA, class TB>
void conv2d_u8s8_i32(const ConvParams& p, const TA* x, std::int32_t zx, const TB* w, const std::int32_t* zw,
                     bool zw_per_channel, std::int32_t* y, std::ptrdiff_t ldy) noexcept {
  const std::ptrdiff_t oh_count = p.out_h(), ow_count = p.out_w();
  const std::ptrdiff_t cg = p.in_channels / p.groups, ocg = p.out_channels / p.groups;
  for (std::ptrdiff_t b = 0; b < p.batch; ++b)
    for (std::ptrdiff_t oh = 0; oh < oh_count; ++oh)
      for (std::ptrdiff_t ow = 0; ow < ow_count; ++ow)
        for (std::ptrdiff_t o = 0; o < p.out_channels; ++o) {
          const std::ptrdiff_t g = o / ocg;
          const std::int64_t w_zero = zw[zw_per_channel ? o : 0];
          std::int64_t sum = 0;
          for (std::ptrdiff_t c = 0; c < cg; ++c)
            for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
              for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw) {
                const std::ptrdiff_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const std::ptrdiff_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                const bool inside = ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
                const std::int64_t xv = inside ? x[((b * p.in_h + ih) * p.in_w + iw) * p.in_channels + g * cg + c] : zx;
                const std::int64_t wv = w[((o * cg + c) * p.kernel_h + kh) * p.kernel_w + kw];
                sum += (xv - zx) * (wv - w_zero);
              }
          y[((b * oh_count + oh) * ow_count + ow) * ldy + o] = static_cast<std::int32_t>(sum);
        }
}

/// The fp32 convolution on the same layouts (x NHWC, w OIHW, y M x out_channels with row stride ldy), summed in
/// double and rounded once, plus bias[o] (nullptr: none). Padding taps read 0. The reference the fp32 layers and
/// the fake-quantized (QAT) models are checked against.
inline void conv2d_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                       std::ptrdiff_t ldy) noexcept {
  const std::ptrdiff_t oh_count = p.out_h(), ow_count = p.out_w();
  const std::ptrdiff_t cg = p.in_channels / p.groups, ocg = p.out_channels / p.groups;
  for (std::ptrdiff_t b = 0; b < p.batch; ++b)
    for (std::ptrdiff_t oh = 0; oh < oh_count; ++oh)
      for (std::ptrdiff_t ow = 0; ow < ow_count; ++ow)
        for (std::ptrdiff_t o = 0; o < p.out_channels; ++o) {
          const std::ptrdiff_t g = o / ocg;
          double sum = bias ? static_cast<double>(bias[o]) : 0.0;
          for (std::ptrdiff_t c = 0; c < cg; ++c)
            for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
              for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw) {
                const std::ptrdiff_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const std::ptrdiff_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
                sum += static_cast<double>(x[((b * p.in_h + ih) * p.in_w + iw) * p.in_channels + g * cg + c]) *
                       static_cast<double>(w[((o * cg + c) * p.kernel_h + kh) * p.kernel_w + kw]);
              }
          y[((b * oh_count + oh) * ow_count + ow) * ldy + o] = static_cast<float>(sum);
        }
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
