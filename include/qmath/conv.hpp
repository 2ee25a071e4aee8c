// SPDX-License-Identifier: Apache-2.0
// conv.hpp: the int8 convolution's API (API layer): pack int8 weights once, then convolve uint8 / int8 NHWC
// activations with them through one of the GEMM's output stages. Every argument is checked, and qmath::error thrown,
// before anything is written. docs/conv.md has the design.
//
//   y[b][oh][ow][o] = sum_{kh, kw, c} (x[b][ih][iw][g * Cg + c] - zx) * (w[o][c][kh][kw] - zw[o]),  g = o / OCg
//   ih = oh * stride_h - pad_top + kh * dilation_h,  iw = ow * stride_w - pad_left + kw * dilation_w,
//
// where a tap outside the input reads zx (contributes 0); Cg = in_channels / groups, OCg = out_channels / groups.
// kernels/ref/conv2d_u8s8.hpp is the specification every path is tested against, bit for bit.
//
// Shape: ConvParams (core/conv_params.hpp): batch, input height / width, channels, groups, kernel, stride, padding
//    per side (with_same_padding() for "same"), dilation. Conv1d is in_h = kernel_h = 1.
// Activations: NHWC (channels last), uint8 or int8 with one zero point; nchw_to_nhwc() / nhwc_to_nchw() convert
//    at the API edge for callers that hold PyTorch's layout.
// Weights: int8 (or uint8), from PyTorch's OIHW, TFLite's OHWI or TensorFlow's HWIO, with one zero point per tensor
//    or per output channel, packed once by pack_conv_weights for one ISA path.
// Output: the output is an M x out_channels matrix, M = batch * out_h * out_w pixels in raster order, written through
//    a GEMM output stage (gemm.hpp): GemmOutputInt32, GemmOutputRequantize<Q>, GemmOutputRequantizeFixed<Q>,
//    GemmOutputDequantize (a_scale: 1 entry or M), with per-channel multipliers, int32 bias, output zero point and
//    clamp (fused ReLU / ReLU6). ldc >= out_channels lets a convolution write into a wider (concatenated) tensor.
// Kernels: depthwise convolutions (groups == in_channels > 1, any channel multiplier) run their own family,
//    vectorized across the channels of a pixel; every other convolution is the packed GEMM per group with an im2col
//    A source (gathered while A is packed, padding written as the zero point so row sums stay consistent), and a
//    1x1 stride-1 unpadded convolution reads the activations directly, with no copy.
// Exactness and threads: as the GEMM (gemm.hpp): conv2d throws when K = kernel_h * kernel_w * Cg passes the bound
//    of the zero points (conv_max_k); the result never depends on the thread count.
#pragma once

#include "qmath/core/config.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "qmath/core/aligned_buffer.hpp"
#include "qmath/core/conv_params.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/core/error.hpp"
#include "qmath/core/parallel.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/gemm.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/kernels/gemm_table.hpp"

QMATH_BEGIN_NAMESPACE

/// How unpacked convolution weights are laid out (Cg = in_channels / groups input channels per filter).
enum class conv_weight_layout {
  oihw,  ///< [out_channels][Cg][kernel_h][kernel_w]: PyTorch, ONNX
  ohwi,  ///< [out_channels][kernel_h][kernel_w][Cg]: TFLite
  hwio,  ///< [kernel_h][kernel_w][Cg][out_channels]: TensorFlow
};

class PackedConvWeights;
template <class TB>
PackedConvWeights pack_conv_weights(const TB* w, const ConvParams& params, conv_weight_layout layout,
                                    const std::int32_t* zero_points, std::size_t zero_point_count, isa path = isa::none);

/// Convolution weights packed for one ISA path: per group GEMM panels, or the depthwise family's int32 (w - zw)
/// table. Immutable after packing; may be shared by concurrent conv2d() calls.
class PackedConvWeights {
 public:
  PackedConvWeights() = default;

  bool empty() const noexcept { return path_ == isa::none; }
  isa path() const noexcept { return path_; }
  /// Whether conv2d runs the depthwise family (groups == in_channels > 1) rather than the GEMM.
  bool depthwise() const noexcept { return depthwise_; }
  std::ptrdiff_t out_channels() const noexcept { return out_channels_; }
  std::ptrdiff_t in_channels() const noexcept { return group_channels_ * groups_; }
  std::ptrdiff_t groups() const noexcept { return groups_; }
  std::ptrdiff_t kernel_h() const noexcept { return kernel_h_; }
  std::ptrdiff_t kernel_w() const noexcept { return kernel_w_; }
  /// K of each group's GEMM: kernel_h * kernel_w * in_channels / groups.
  std::ptrdiff_t k() const noexcept { return kernel_h_ * kernel_w_ * group_channels_; }
  /// max |w - zw| over every value the weight type allows and every channel: the weights' part of the K bound.
  std::int64_t max_b_distance() const noexcept { return max_b_distance_; }
  /// Bytes held.
  std::size_t bytes() const noexcept {
    std::size_t total = 4 * depthwise_weights_.size();
    for (const PackedGemmB& g : gemm_) total += g.bytes();
    return total;
  }

  const std::vector<PackedGemmB>& gemm_groups() const noexcept { return gemm_; }
  const std::int32_t* depthwise_weights() const noexcept { return depthwise_weights_.data(); }
  std::ptrdiff_t depthwise_weight_stride() const noexcept { return depthwise_stride_; }

 private:
  template <class TB>
  friend PackedConvWeights pack_conv_weights(const TB*, const ConvParams&, conv_weight_layout, const std::int32_t*,
                                             std::size_t, isa);

  isa path_ = isa::none;
  bool depthwise_ = false;
  std::ptrdiff_t out_channels_ = 0, group_channels_ = 0, groups_ = 0, kernel_h_ = 0, kernel_w_ = 0;
  std::int64_t max_b_distance_ = 0;
  std::vector<PackedGemmB> gemm_;
  AlignedBuffer<std::int32_t> depthwise_weights_;
  std::ptrdiff_t depthwise_stride_ = 0;
};

namespace detail {

/// The weight part of the parameters: channels, groups and kernel (shared by packing and conv2d).
inline void check_conv_filter(const ConvParams& p, const char* fn) {
  auto positive = [fn](std::ptrdiff_t v, const char* what) {
    if (v < 1) fail(fn, std::string(what) + " must be >= 1 (got " + std::to_string(v) + ")");
  };
  positive(p.in_channels, "in_channels");
  positive(p.out_channels, "out_channels");
  positive(p.groups, "groups");
  positive(p.kernel_h, "kernel_h");
  positive(p.kernel_w, "kernel_w");
  if (p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0)
    fail(fn, "groups = " + std::to_string(p.groups) + " does not divide in_channels = " + std::to_string(p.in_channels) +
                 " and out_channels = " + std::to_string(p.out_channels));
  checked_mul(checked_mul(p.kernel_h, p.kernel_w, fn, "the kernel"), p.in_channels / p.groups, fn, "K");
  checked_mul(checked_mul(p.kernel_h * p.kernel_w, p.in_channels, fn, "the weights"), p.out_channels, fn, "the weights");
}

/// The spatial part: sizes, strides, dilations and padding, and an output of at least one pixel.
inline void check_conv_geometry(const ConvParams& p, const char* fn) {
  auto at_least = [fn](std::ptrdiff_t v, std::ptrdiff_t lo, const char* what) {
    if (v < lo) fail(fn, std::string(what) + " must be >= " + std::to_string(lo) + " (got " + std::to_string(v) + ")");
  };
  at_least(p.batch, 0, "batch");
  at_least(p.in_h, 1, "in_h");
  at_least(p.in_w, 1, "in_w");
  at_least(p.stride_h, 1, "stride_h");
  at_least(p.stride_w, 1, "stride_w");
  at_least(p.dilation_h, 1, "dilation_h");
  at_least(p.dilation_w, 1, "dilation_w");
  at_least(p.pad_top, 0, "pad_top");
  at_least(p.pad_left, 0, "pad_left");
  at_least(p.pad_bottom, 0, "pad_bottom");
  at_least(p.pad_right, 0, "pad_right");
  // Every term of the output-size formula must be representable.
  checked_add(checked_add(p.in_h, p.pad_top, fn, "the padded input"), p.pad_bottom, fn, "the padded input");
  checked_add(checked_add(p.in_w, p.pad_left, fn, "the padded input"), p.pad_right, fn, "the padded input");
  checked_mul(p.dilation_h, p.kernel_h - 1, fn, "the dilated kernel");
  checked_mul(p.dilation_w, p.kernel_w - 1, fn, "the dilated kernel");
  if (p.out_h() < 1 || p.out_w() < 1)
    fail(fn, "the output would be " + std::to_string(p.out_h()) + " x " + std::to_string(p.out_w()) +
                 ": the dilated kernel does not fit the padded input");
  // Input and output extents, and the offsets the kernels compute from them.
  checked_mul(checked_mul(checked_mul(p.batch, p.in_h, fn, "the input"), p.in_w, fn, "the input"), p.in_channels, fn,
              "the input");
  checked_mul(checked_mul(checked_mul(p.batch, p.out_h(), fn, "the output"), p.out_w(), fn, "the output"),
              p.out_channels, fn, "the output");
}

inline std::ptrdiff_t weight_index(conv_weight_layout layout, std::ptrdiff_t o, std::ptrdiff_t c, std::ptrdiff_t kh,
                                   std::ptrdiff_t kw, std::ptrdiff_t oc, std::ptrdiff_t cg, std::ptrdiff_t kh_n,
                                   std::ptrdiff_t kw_n) noexcept {
  switch (layout) {
    case conv_weight_layout::oihw: return ((o * cg + c) * kh_n + kh) * kw_n + kw;
    case conv_weight_layout::ohwi: return ((o * kh_n + kh) * kw_n + kw) * cg + c;
    case conv_weight_layout::hwio: break;
  }
  return ((kh * kw_n + kw) * cg + c) * oc + o;
}

// Output stages shifted to the columns of one group: C, the per-channel parameters and the bias start at column
// `first` and count `n` columns.
inline GemmOutputInt32 group_columns(const GemmOutputInt32& o, std::ptrdiff_t first, std::ptrdiff_t) noexcept {
  return GemmOutputInt32{o.c + first, o.ldc};
}
template <class Q>
GemmOutputRequantize<Q> group_columns(const GemmOutputRequantize<Q>& o, std::ptrdiff_t first, std::ptrdiff_t n) noexcept {
  GemmOutputRequantize<Q> g = o;
  g.c = o.c + first;
  if (o.multiplier_count != 1) {
    g.multiplier = o.multiplier + first;
    g.multiplier_count = static_cast<std::size_t>(n);
  }
  if (o.bias) g.bias = o.bias + first;
  return g;
}
template <class Q>
GemmOutputRequantizeFixed<Q> group_columns(const GemmOutputRequantizeFixed<Q>& o, std::ptrdiff_t first,
                                           std::ptrdiff_t n) noexcept {
  GemmOutputRequantizeFixed<Q> g = o;
  g.c = o.c + first;
  if (o.multiplier_count != 1) {
    g.multiplier = o.multiplier + first;
    g.shift = o.shift + first;
    g.multiplier_count = static_cast<std::size_t>(n);
  }
  if (o.bias) g.bias = o.bias + first;
  return g;
}
inline GemmOutputDequantize group_columns(const GemmOutputDequantize& o, std::ptrdiff_t first, std::ptrdiff_t n) noexcept {
  GemmOutputDequantize g = o;
  g.c = o.c + first;
  if (o.b_scale_count != 1) {
    g.b_scale = o.b_scale + first;
    g.b_scale_count = static_cast<std::size_t>(n);
  }
  if (o.bias) g.bias = o.bias + first;
  return g;
}

/// The sums of the im2col rows [0, m) of a geometry (TA codes as stored: the direct path's offset is 0), for the
/// zero-point correction of weights with some zb != 0 when A is not packed.
template <class TA>
void im2col_row_sums(const kernels::ConvGeometry& g, std::ptrdiff_t m, std::ptrdiff_t k, std::int32_t* sums) noexcept {
  alignas(64) unsigned char codes[kernels::ref::kQuantizeChunk];
  for (std::ptrdiff_t row = 0; row < m; ++row) {
    std::uint32_t sum = 0;
    for (std::ptrdiff_t k0 = 0; k0 < k; k0 += kernels::ref::kQuantizeChunk) {
      const std::ptrdiff_t count = std::min(kernels::ref::kQuantizeChunk, k - k0);
      kernels::ref::im2col_gather<void>(g, row, k0, count, codes);
      for (std::ptrdiff_t i = 0; i < count; ++i)
        sum += static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<TA>(codes[i])));
    }
    sums[row] = static_cast<std::int32_t>(sum);
  }
}

/// Per-thread scratch of the depthwise path's output-stage arrays and the im2col padding row.
inline AlignedBuffer<unsigned char>& conv_scratch() {
  thread_local AlignedBuffer<unsigned char> scratch;
  return scratch;
}

template <class TA, class Output>
void run_depthwise(const ConvParams& p, const TA* input, std::int32_t zx, const PackedConvWeights& w, const Output& out,
                   const GemmOptions& options) {
  constexpr const char* fn = "qmath::conv2d";
  const std::ptrdiff_t oh = p.out_h(), ow = p.out_w();
  const std::ptrdiff_t m = p.batch * oh * ow, n = p.out_channels;
  const std::ptrdiff_t n_padded = w.depthwise_weight_stride();
  const std::ptrdiff_t m_padded = round_up(m, 64);
  const std::ptrdiff_t row_bytes = checked_mul(m_padded, 4, fn, "the scratch"), col_bytes = n_padded * 4;
  AlignedBuffer<unsigned char>& scratch = conv_scratch();
  try {
    scratch.reserve_uninitialized(static_cast<std::size_t>(
        checked_add(checked_add(row_bytes, 8 * col_bytes, fn, "the scratch"), round_up(p.in_channels, 64), fn, "the scratch")));
  } catch (const std::bad_alloc&) {
    fail(fn, "cannot allocate the scratch");
  }
  unsigned char* cursor = scratch.data();
  auto take = [&cursor](std::ptrdiff_t size) {
    unsigned char* at = cursor;
    cursor += size;
    return at;
  };
  ColumnArrays cols{};
  cols.a_scale = reinterpret_cast<float*>(take(row_bytes));
  cols.bias_i32 = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.bias_f32 = reinterpret_cast<float*>(cols.bias_i32);
  cols.multiplier = reinterpret_cast<float*>(take(col_bytes));
  cols.fixed_multiplier = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.fixed_shift = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.b_scale = reinterpret_cast<float*>(take(col_bytes));
  auto* zeros = reinterpret_cast<std::int32_t*>(take(col_bytes));
  std::memset(zeros, 0, static_cast<std::size_t>(col_bytes));
  unsigned char* padding_row = take(round_up(p.in_channels, 64));
  std::memset(padding_row, static_cast<unsigned char>(static_cast<TA>(zx)), static_cast<std::size_t>(p.in_channels));

  kernels::GemmProblem out_problem{};
  fill_output(out, m, n, m_padded, n_padded, out_problem, cols);
  out_problem.m = m;
  out_problem.n = n;
  out_problem.b_col_offsets = zeros;
  out_problem.b_col_terms = zeros;
  out_problem.b_zero_points = zeros;
  out_problem.b_zero_points_zero = true;

  kernels::DepthwiseProblem d{};
  d.input = input;
  d.input_signed = std::is_signed<TA>::value;
  d.input_zero_point = zx;
  d.in_h = p.in_h;
  d.in_w = p.in_w;
  d.channels = p.in_channels;
  d.multiplier = p.out_channels / p.in_channels;
  d.kernel_h = p.kernel_h;
  d.kernel_w = p.kernel_w;
  d.stride_h = p.stride_h;
  d.stride_w = p.stride_w;
  d.pad_top = p.pad_top;
  d.pad_left = p.pad_left;
  d.dilation_h = p.dilation_h;
  d.dilation_w = p.dilation_w;
  d.out_h = oh;
  d.out_w = ow;
  d.weights = w.depthwise_weights();
  d.weight_stride = n_padded;
  d.padding_row = padding_row;

  const kernels::DepthwiseKernels* table = kernels::depthwise_kernels(w.path());
  const std::ptrdiff_t rows = p.batch * oh;
  const bool tiny = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(w.k()) < 1.0e6;
  const int workers = tiny ? 1 : static_cast<int>(std::min<std::ptrdiff_t>(default_threads(options.threads), rows));
  parallel_for(workers, [&](int worker) noexcept {
    std::ptrdiff_t begin = 0, end = 0;
    split_range(rows, workers, worker, begin, end);
    table->run(d, out_problem, begin, end);
  }, options.pool);
}

}  // namespace detail

/// Packs convolution weights (int8_t, or uint8_t) given in `layout` for the filter part of `params` (in / out
/// channels, groups, kernel; the rest is not read) and `path` (isa::none: active_gemm_isa()). zero_points: 1 entry
/// or out_channels, each within TB's range. Throws qmath::error on bad parameters, a null pointer, zero points out
/// of range, sizes beyond the address space, or a path that is not compiled in or not run by this CPU.
template <class TB>
PackedConvWeights pack_conv_weights(const TB* w, const ConvParams& params, conv_weight_layout layout,
                                    const std::int32_t* zero_points, std::size_t zero_point_count, isa path) {
  static_assert(std::is_same<TB, std::int8_t>::value || std::is_same<TB, std::uint8_t>::value,
                "pack_conv_weights: weights are int8_t or uint8_t");
  constexpr const char* fn = "qmath::pack_conv_weights";
  detail::check_conv_filter(params, fn);
  if (w == nullptr) detail::fail(fn, "null weights");
  const std::ptrdiff_t oc = params.out_channels, groups = params.groups;
  const std::ptrdiff_t cg = params.in_channels / groups, ocg = oc / groups;
  const std::ptrdiff_t taps = params.kernel_h * params.kernel_w, k = taps * cg;
  detail::check_weight_zero_points<TB>(zero_points, zero_point_count, oc, fn, "out_channels");
  path = detail::resolve_gemm_path(path, fn);

  PackedConvWeights packed;
  packed.path_ = path;
  packed.out_channels_ = oc;
  packed.group_channels_ = cg;
  packed.groups_ = groups;
  packed.kernel_h_ = params.kernel_h;
  packed.kernel_w_ = params.kernel_w;
  packed.depthwise_ = cg == 1 && groups > 1;
  for (std::size_t i = 0; i < zero_point_count; ++i)
    packed.max_b_distance_ = std::max(packed.max_b_distance_, detail::max_distance<TB>(zero_points[i]));
  auto weight = [&](std::ptrdiff_t o, std::ptrdiff_t c, std::ptrdiff_t kh, std::ptrdiff_t kw) {
    return w[detail::weight_index(layout, o, c, kh, kw, oc, cg, params.kernel_h, params.kernel_w)];
  };
  try {
    if (packed.depthwise_) {
      // Padded to 64 channels: every path's tile (at most 64 channels) loads whole aligned batches.
      packed.depthwise_stride_ = detail::checked_round_up(oc, 64, fn, "out_channels");
      const bool int16_weights = kernels::depthwise_kernels(path)->int16_weights;
      packed.depthwise_weights_ = AlignedBuffer<std::int32_t>(
          static_cast<std::size_t>(detail::checked_mul(taps, packed.depthwise_stride_, fn, "the packed weights")), true);
      for (std::ptrdiff_t o = 0; o < oc; ++o) {
        const std::int32_t zw = zero_points[zero_point_count == 1 ? 0 : o];
        for (std::ptrdiff_t kh = 0; kh < params.kernel_h; ++kh)
          for (std::ptrdiff_t kw = 0; kw < params.kernel_w; ++kw)
            packed.depthwise_weights_[static_cast<std::size_t>((kh * params.kernel_w + kw) * packed.depthwise_stride_ + o)] =
                int16_weights ? static_cast<std::int32_t>(static_cast<std::uint16_t>(static_cast<std::int16_t>(weight(o, 0, kh, kw) - zw)))
                              : static_cast<std::int32_t>(weight(o, 0, kh, kw)) - zw;
      }
      return packed;
    }
    // Each group's filters as ocg x K rows, k = (kh * kernel_w + kw) * cg + c: the im2col column order.
    std::vector<TB> rows(static_cast<std::size_t>(detail::checked_mul(ocg, k, fn, "the weights")));
    packed.gemm_.reserve(static_cast<std::size_t>(groups));
    for (std::ptrdiff_t g = 0; g < groups; ++g) {
      for (std::ptrdiff_t j = 0; j < ocg; ++j)
        for (std::ptrdiff_t kh = 0; kh < params.kernel_h; ++kh)
          for (std::ptrdiff_t kw = 0; kw < params.kernel_w; ++kw)
            for (std::ptrdiff_t c = 0; c < cg; ++c)
              rows[static_cast<std::size_t>(j * k + (kh * params.kernel_w + kw) * cg + c)] = weight(g * ocg + j, c, kh, kw);
      const bool per_channel = zero_point_count != 1;
      packed.gemm_.push_back(pack_gemm_b<TB>(rows.data(), k, ocg, k, gemm_b_order::n_by_k,
                                             zero_points + (per_channel ? g * ocg : 0),
                                             per_channel ? static_cast<std::size_t>(ocg) : 1, path));
    }
  } catch (const std::bad_alloc&) {
    detail::fail(fn, "cannot allocate the packed weights");
  }
  return packed;
}

/// The largest K = kernel_h * kernel_w * in_channels / groups whose sums are exact in int32 for these zero points.
template <class TA>
std::int64_t conv_max_k(std::int32_t input_zero_point, const PackedConvWeights& w) noexcept {
  return detail::gemm_max_k_for(detail::max_distance<TA>(input_zero_point), w.max_b_distance());
}

/// y = conv(x - zx, w - zw) through the output stage `out` (see the top of this file). TA is uint8_t or int8_t;
/// `input` is batch x in_h x in_w x in_channels (NHWC); the output is M = batch * out_h * out_w rows of
/// out_channels, ldc apart. `params` must have the channels, groups and kernel the weights were packed with.
/// Throws qmath::error (before writing anything) on bad parameters, a mismatch with the weights, a null pointer,
/// a zero point outside TA, K beyond conv_max_k, bad output-stage parameters, sizes beyond the address space, or a
/// packed path this CPU cannot run. Input, weights and output must not overlap.
template <class TA, class Output>
void conv2d(const ConvParams& params, const TA* input, std::int32_t input_zero_point, const PackedConvWeights& w,
            const Output& out, const GemmOptions& options = {}) {
  static_assert(std::is_same<TA, std::uint8_t>::value || std::is_same<TA, std::int8_t>::value,
                "qmath::conv2d: activations are uint8_t or int8_t");
  constexpr const char* fn = "qmath::conv2d";
  if (w.empty()) detail::fail(fn, "the weights are not packed");
  if (options.threads < 0) detail::fail(fn, "threads = " + std::to_string(options.threads) + " is negative");
  if (!has(supported_isas(), w.path()))
    detail::fail(fn, std::string("this CPU cannot run ISA path '") + isa_name(w.path()) + "' the weights were packed for");
  detail::check_conv_filter(params, fn);
  detail::check_conv_geometry(params, fn);
  if (params.in_channels != w.in_channels() || params.out_channels != w.out_channels() || params.groups != w.groups() ||
      params.kernel_h != w.kernel_h() || params.kernel_w != w.kernel_w())
    detail::fail(fn, "the parameters' channels, groups or kernel differ from those the weights were packed with");
  if (input == nullptr && params.batch > 0) detail::fail(fn, "null input");
  if (input_zero_point < int_traits<TA>::kMin || input_zero_point > int_traits<TA>::kMax)
    detail::fail(fn, "input zero point " + std::to_string(input_zero_point) + " is outside the input type's range");
  const std::ptrdiff_t m = params.batch * params.out_h() * params.out_w();
  detail::check_output(out, m, params.out_channels, fn);
  const std::int64_t max_k = conv_max_k<TA>(input_zero_point, w);
  if (w.k() > max_k)
    detail::fail(fn, "K = " + std::to_string(w.k()) + " (kernel_h * kernel_w * in_channels / groups) exceeds " +
                         std::to_string(max_k) + ", the largest K whose sums are exact in int32 for these zero points");
  if (m == 0) return;

  if (w.depthwise()) {
    detail::run_depthwise(params, input, input_zero_point, w, out, options);
    return;
  }
  const std::ptrdiff_t cg = params.in_channels / params.groups, ocg = params.out_channels / params.groups;
  const bool direct = params.kernel_h == 1 && params.kernel_w == 1 && params.stride_h == 1 && params.stride_w == 1 &&
                      params.pad_top == 0 && params.pad_left == 0 && params.pad_bottom == 0 && params.pad_right == 0;
  const std::int64_t da = detail::max_distance<TA>(input_zero_point);
  const kernels::GemmKernels& kern = w.gemm_groups()[0].kernels();
  const kernels::GemmLayout& l = kern.layout;
  // Where the path stores TA's codes unchanged, the direct kernel reads A in place (no im2col, no packing).
  // Otherwise the packer reads each tap's channels in place when they are whole groups of kr. Both read this row of
  // padding codes for taps outside the input.
  const bool in_place = !direct && kern.conv_direct != nullptr && l.a_bytes == 1 &&
                        (std::is_signed<TA>::value ? l.a_offset_s8 : l.a_offset_u8) == 0 && cg % l.kr == 0;
  const bool per_tap = cg % l.kr == 0;
  if (per_tap) {
    AlignedBuffer<unsigned char>& pad = detail::conv_scratch();
    try {
      pad.reserve_uninitialized(static_cast<std::size_t>(cg));
    } catch (const std::bad_alloc&) {
      detail::fail(fn, "cannot allocate the scratch");
    }
    std::memset(pad.data(), static_cast<unsigned char>(static_cast<TA>(input_zero_point)), static_cast<std::size_t>(cg));
  }
  for (std::ptrdiff_t g = 0; g < params.groups; ++g) {
    kernels::ConvGeometry geometry{};
    geometry.input = input + g * cg;
    geometry.in_h = params.in_h;
    geometry.in_w = params.in_w;
    geometry.pixel_stride = params.in_channels;
    geometry.channels = cg;
    geometry.kernel_h = params.kernel_h;
    geometry.kernel_w = params.kernel_w;
    geometry.stride_h = params.stride_h;
    geometry.stride_w = params.stride_w;
    geometry.pad_top = params.pad_top;
    geometry.pad_left = params.pad_left;
    geometry.dilation_h = params.dilation_h;
    geometry.dilation_w = params.dilation_w;
    geometry.out_h = params.out_h();
    geometry.out_w = params.out_w();
    geometry.padding_code = static_cast<unsigned char>(static_cast<TA>(input_zero_point));
    if (per_tap) geometry.padding_row = detail::conv_scratch().data();
    kernels::GemmASource source{};
    if (in_place) {
      source.kind = std::is_signed<TA>::value ? kernels::gemm_a_source::im2col_s8 : kernels::gemm_a_source::im2col_u8;
      source.data = input;
      source.conv = &geometry;
      detail::ResolvedA a{source, m, &input_zero_point, 1, da, nullptr};
      const PackedGemmB& b = w.gemm_groups()[static_cast<std::size_t>(g)];
      const detail::PreparedGemm prepared = detail::prepare_gemm(a, b, detail::group_columns(out, g * ocg, ocg), false, fn);
      if (!prepared.problem.b_zero_points_zero) detail::im2col_row_sums<TA>(geometry, m, b.k(), prepared.row_sums);
      // Pixels are split when there are enough row panels for every worker to get several; small images with many
      // channels (7x7x512) split the columns instead.
      const bool by_rows = prepared.m_panels >= 4 * detail::default_threads(options.threads) || prepared.n_panels == 1;
      const int workers = detail::gemm_workers(m, ocg, b.k(), by_rows ? prepared.m_panels : prepared.n_panels, options);
      detail::parallel_for(workers, [&](int worker) noexcept {
        std::ptrdiff_t begin = 0, end = 0;
        if (by_rows) {
          detail::split_range(prepared.m_panels, workers, worker, begin, end);
          kern.conv_direct(prepared.problem, geometry, begin * l.mr, end * l.mr, 0, prepared.n_panels * l.nr);
        } else {
          detail::split_range(prepared.n_panels, workers, worker, begin, end);
          kern.conv_direct(prepared.problem, geometry, 0, prepared.m_panels * l.mr, begin * l.nr, end * l.nr);
        }
      }, options.pool);
      continue;
    }
    if (direct) {
      // Row m of A is pixel m's channels of the group: a strided view of the input.
      source.kind = std::is_signed<TA>::value ? kernels::gemm_a_source::s8 : kernels::gemm_a_source::u8;
      source.data = input + g * cg;
      source.ld = params.in_channels;
    } else {
      source.kind = std::is_signed<TA>::value ? kernels::gemm_a_source::im2col_s8 : kernels::gemm_a_source::im2col_u8;
      source.data = input;
      source.ld = 0;
      source.conv = &geometry;
    }
    detail::run_gemm(detail::ResolvedA{source, m, &input_zero_point, 1, da, nullptr}, w.gemm_groups()[static_cast<std::size_t>(g)],
                     detail::group_columns(out, g * ocg, ocg), options, fn);
  }
}

/// Copies an NCHW tensor (PyTorch's layout) to NHWC. src and dst must not overlap.
template <class T>
void nchw_to_nhwc(const T* src, std::ptrdiff_t batch, std::ptrdiff_t channels, std::ptrdiff_t height,
                  std::ptrdiff_t width, T* dst) noexcept {
  for (std::ptrdiff_t b = 0; b < batch; ++b)
    for (std::ptrdiff_t c = 0; c < channels; ++c)
      for (std::ptrdiff_t i = 0; i < height * width; ++i)
        dst[(b * height * width + i) * channels + c] = src[(b * channels + c) * height * width + i];
}

/// Copies an NHWC tensor to NCHW. src and dst must not overlap.
template <class T>
void nhwc_to_nchw(const T* src, std::ptrdiff_t batch, std::ptrdiff_t channels, std::ptrdiff_t height,
                  std::ptrdiff_t width, T* dst) noexcept {
  for (std::ptrdiff_t b = 0; b < batch; ++b)
    for (std::ptrdiff_t c = 0; c < channels; ++c)
      for (std::ptrdiff_t i = 0; i < height * width; ++i)
        dst[(b * channels + c) * height * width + i] = src[(b * height * width + i) * channels + c];
}

QMATH_END_NAMESPACE  // qmath
