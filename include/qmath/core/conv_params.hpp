// SPDX-License-Identifier: Apache-2.0
// core/conv_params.hpp: the shape of a 2-D convolution as one plain struct (core layer), shared by the spec
// (kernels/ref/conv2d_u8s8.hpp) and the API (conv.hpp). Conv1d is the same with in_h = kernel_h = 1.
#pragma once

#include "qmath/core/config.hpp"

#include <cstddef>

QMATH_BEGIN_NAMESPACE

/// A convolution over NHWC activations: batch x in_h x in_w x in_channels in, batch x out_h() x out_w() x
/// out_channels out. Channels are split into `groups` groups (in_channels / groups inputs, out_channels / groups
/// outputs each); groups == in_channels is depthwise. Padding is per side; padded taps read the input zero point.
struct ConvParams {
  std::ptrdiff_t batch = 1;
  std::ptrdiff_t in_h = 1, in_w = 1;
  std::ptrdiff_t in_channels = 1, out_channels = 1;
  std::ptrdiff_t groups = 1;
  std::ptrdiff_t kernel_h = 1, kernel_w = 1;
  std::ptrdiff_t stride_h = 1, stride_w = 1;
  std::ptrdiff_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::ptrdiff_t dilation_h = 1, dilation_w = 1;

  /// (in + pads - dilation * (kernel - 1) - 1) / stride + 1, PyTorch's and ONNX's formula (floor); <= 0 when the
  /// dilated kernel does not fit the padded input. Meaningful for parameters that pass conv2d's checks.
  std::ptrdiff_t out_h() const noexcept { return out_size(in_h, pad_top + pad_bottom, kernel_h, stride_h, dilation_h); }
  std::ptrdiff_t out_w() const noexcept { return out_size(in_w, pad_left + pad_right, kernel_w, stride_w, dilation_w); }
  std::ptrdiff_t in_group_channels() const noexcept { return groups > 0 ? in_channels / groups : 0; }
  std::ptrdiff_t out_group_channels() const noexcept { return groups > 0 ? out_channels / groups : 0; }

  static constexpr std::ptrdiff_t out_size(std::ptrdiff_t in, std::ptrdiff_t pads, std::ptrdiff_t kernel,
                                           std::ptrdiff_t stride, std::ptrdiff_t dilation) noexcept {
    const std::ptrdiff_t span = in + pads - dilation * (kernel - 1) - 1;
    return span < 0 || stride < 1 ? 0 : span / stride + 1;
  }
};

/// Sets the padding to "same": out = ceil(in / stride) on each axis, the total padding split evenly with the odd
/// one at the bottom / right (ONNX auto_pad SAME_UPPER, TensorFlow's SAME) or, with extra_at_start, at the top /
/// left (SAME_LOWER). Returns the changed parameters.
constexpr ConvParams with_same_padding(ConvParams p, bool extra_at_start = false) noexcept {
  auto split = [extra_at_start](std::ptrdiff_t in, std::ptrdiff_t kernel, std::ptrdiff_t stride,
                                std::ptrdiff_t dilation, std::ptrdiff_t& before, std::ptrdiff_t& after) {
    const std::ptrdiff_t out = stride > 0 ? (in + stride - 1) / stride : 0;
    std::ptrdiff_t total = (out - 1) * stride + dilation * (kernel - 1) + 1 - in;
    if (total < 0) total = 0;
    before = extra_at_start ? total - total / 2 : total / 2;
    after = total - before;
  };
  split(p.in_h, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom);
  split(p.in_w, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right);
  return p;
}

QMATH_END_NAMESPACE  // qmath
