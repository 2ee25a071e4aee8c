// SPDX-License-Identifier: Apache-2.0
// kernels/gemm_table.hpp: the int8 GEMM's plain data: the packed layouts, the resolved problem a kernel runs and
// the function table of one ISA path (kernels layer). The public entry points are in kernels/gemm.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"

// The table types are shared by every mode and every ISA unit (the units fill them, the registry and the API read
// them), so they live outside the mode namespace, in qmath::kernel_abi, and are named into qmath::kernels.
namespace qmath {
namespace kernel_abi {

/// What the epilogue writes (see kernels/gemm.hpp for the formulas).
enum class gemm_output : std::uint8_t {
  int32,                ///< raw int32 C
  requantize_s8,        ///< float multiplier, int8 codes
  requantize_u8,        ///< float multiplier, uint8 codes
  requantize_fixed_s8,  ///< gemmlowp / TFLite Q31 multiplier and shift, int8 codes
  requantize_fixed_u8,  ///< same, uint8 codes
  dequantize_f32,       ///< fp32: fma(float(C), a_scale * b_scale, bias)
};

/// How one ISA path stores its operands. Packed A is a sequence of panels of kMr rows; inside a panel, groups of
/// `kr` consecutive k of each row sit together ([k / kr][mr][kr]). Packed B is a sequence of panels of nr columns
/// stored [k / kr][nr][kr]. K is padded with zeros to a multiple of kr, M and N to multiples of mr and nr.
/// Stored A values are a + a_offset (a_offset depends on the A type, see a_offset_u8 / a_offset_s8) so that the
/// dot-product instruction sees the operand type it needs; the zero point moves by the same offset, which
/// leaves every (a - za) unchanged.
struct GemmLayout {
  int mr, nr, kr;
  int a_bytes;        ///< 1 or 2 (int16, sign- or zero-extended)
  bool a_signed;      ///< for a_bytes == 1: stored A is int8 (else uint8)
  int b_bytes;        ///< 1 (int8) or 2 (int16)
  int a_offset_u8;    ///< added to uint8 A values: 0 or -128
  int a_offset_s8;    ///< added to int8 A values: 0 or +128
  // The loop nest's blocking (docs/gemm.md), for tests that aim at its boundaries: K is cut into slices of at most
  // k_slice_groups groups of kr (0: never cut) and, when it is cut, rows into blocks of at most partial_rows.
  int k_slice_groups = 0;
  int partial_rows = 0;
};

/// Everything a kernel needs for one call, already packed, padded and expanded. Per-row arrays have
/// round_up(m, mr) entries, per-column arrays round_up(n, nr); the padding entries are zeros (ones for scales).
struct GemmProblem {
  std::ptrdiff_t m, n, k;                 ///< logical sizes
  std::ptrdiff_t k_groups;                ///< round_up(k, kr) / kr
  const void* a_packed;                   ///< panels of mr rows, a_panel_bytes apart
  std::ptrdiff_t a_panel_bytes;
  const std::int32_t* a_row_sums;         ///< sum_k of the stored A values of each row
  const std::int32_t* a_zero_points;      ///< za + a_offset per row
  const void* b_packed;                   ///< panels of nr columns, b_panel_bytes apart
  std::ptrdiff_t b_panel_bytes;
  const std::int32_t* b_col_terms;        ///< colsum_k(B) - k * zb, per column (mod 2^32)
  const std::int32_t* b_zero_points;      ///< zb per column
  bool b_zero_points_zero;                ///< every zb is 0: skip the zb * rowsum term
  const std::int32_t* b_col_offsets;      ///< za * b_col_terms per column when every row has the same za, else null

  gemm_output output;
  void* c;                                ///< element type from `output`
  std::ptrdiff_t ldc;                     ///< in elements
  const std::int32_t* bias_i32;           ///< requantize: per column (zeros when the caller gave none)
  const float* bias_f32;                  ///< dequantize: per column
  const float* multiplier;                ///< requantize: per column
  const std::int32_t* fixed_multiplier;   ///< requantize_fixed: per column, Q31
  const std::int32_t* fixed_shift;        ///< requantize_fixed: per column, in [-31, 30]
  bool fixed_left_shift;                  ///< requantize_fixed: some shift is > 0
  std::int32_t out_zero_point, out_min, out_max;
  const float* a_scale;                   ///< dequantize: per row
  const float* b_scale;                   ///< dequantize: per column
};

/// What the A packer reads.
enum class gemm_a_source : std::uint8_t {
  u8,   ///< uint8 codes
  s8,   ///< int8 codes
  f32,  ///< fp32, quantized to uint8 on the way: clamp(round_half_even(x * factor) + zero_point, 0, 255), NaN ->
        ///< zero_point (PyTorch numerics, factor = 1 / scale), as quantize<uint8_t> does
  im2col_u8,  ///< the im2col matrix of a convolution's uint8 NHWC input (ConvGeometry), gathered on the way
  im2col_s8,  ///< the same for int8 input
};

/// A convolution's im2col matrix over one group of an NHWC input. Row m is output pixel (b, oh, ow) in raster
/// order; column k = (kh * kernel_w + kw) * channels + c is input channel c of the group at row
/// ih = oh * stride_h - pad_top + kh * dilation_h and column iw = ow * stride_w - pad_left + kw * dilation_w, or
/// the padding code (the input zero point, so padding taps contribute exactly 0) when (ih, iw) is outside the input.
struct ConvGeometry {
  const void* input;             ///< channel 0 of the group at pixel (0, 0, 0); one byte per code
  std::ptrdiff_t in_h, in_w;
  std::ptrdiff_t pixel_stride;   ///< codes between neighbouring pixels (the input's channel count)
  std::ptrdiff_t channels;       ///< of the group
  std::ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
  std::ptrdiff_t out_h, out_w;
  unsigned char padding_code;
  /// `channels` padding codes, or null. With it, and channels a multiple of the layout's kr, the packer reads each
  /// tap's channels in place (four rows at a time) instead of gathering rows into a buffer first.
  const unsigned char* padding_row = nullptr;
};

/// A row-major M x K source of A: element (m, k) at data[m * ld + k] (in elements of its kind).
struct GemmASource {
  gemm_a_source kind;
  const void* data;
  std::ptrdiff_t ld;
  const float* factor = nullptr;             ///< f32: one per row when per_row, else one
  const std::int32_t* zero_point = nullptr;  ///< f32: in [0, 255], as many as factor
  bool per_row = false;
  const ConvGeometry* conv = nullptr;        ///< im2col sources
};

/// Packs the row panels [panel_begin, panel_end) of the M x K source into `out` (panels panel_bytes apart) with the
/// layout's stored values, and the row sums of the stored values (round_up(m, mr) entries, zero past M).
using GemmPackAFn = void (*)(const GemmLayout&, const GemmASource&, std::ptrdiff_t m, std::ptrdiff_t k,
                             std::ptrdiff_t k_groups, std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end,
                             unsigned char* out, std::ptrdiff_t panel_bytes, std::int32_t* row_sums) noexcept;

/// lo = min(lo, x[i]), hi = max(hi, x[i]) over n floats, NaN skipped (it fails both comparisons): the range a
/// dynamic quantization of fp32 activations starts from.
using GemmRangeFn = void (*)(const float* x, std::ptrdiff_t n, float* lo, float* hi) noexcept;

/// A kernel computes the tiles of C in rows [m_begin, m_end) and columns [n_begin, n_end); the bounds are
/// multiples of mr and nr (m_end, n_end may be the padded sizes: rows and columns past m, n are not written).
using GemmComputeFn = void (*)(const GemmProblem&, std::ptrdiff_t m_begin, std::ptrdiff_t m_end,
                               std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept;

/// Direct convolution: C = the GEMM of the im2col matrix of `conv` by the packed weights, with the im2col matrix
/// never materialized: each output pixel's taps are read in place from the NHWC input as stored A values, so only
/// on paths whose layout stores the input type's codes unchanged (a_bytes == 1, offset 0), and only for channels
/// that are whole groups of kr. Computes pixels [m_begin, m_end) (m_begin a multiple of mr) and columns
/// [n_begin, n_end) (multiples of nr). The problem's a_row_sums must hold the im2col rows' sums when some zb != 0.
using ConvDirectFn = void (*)(const GemmProblem&, const ConvGeometry& conv, std::ptrdiff_t m_begin,
                              std::ptrdiff_t m_end, std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept;

struct GemmKernels {
  isa path;
  GemmLayout layout;
  GemmComputeFn compute;
  GemmPackAFn pack_a;
  GemmRangeFn range_f32;
  ConvDirectFn conv_direct = nullptr;  ///< where the layout allows it (see ConvDirectFn)
};

/// A depthwise convolution (groups == input channels, `multiplier` output channels per input channel) over an
/// NHWC input: output channel o reads input channel o / multiplier with weights[tap * weight_stride + o] =
/// w - zw (tap = kh * kernel_w + kw, zero past the real channels), as int32, or where the table says
/// int16_weights as int16 in the low half of each int32 with a zero high half (the operand of x86's vpmaddwd).
/// Padding taps are skipped (they would add (zx - zx) * w = 0).
struct DepthwiseProblem {
  const void* input;
  bool input_signed;
  std::int32_t input_zero_point;
  std::ptrdiff_t in_h, in_w, channels, multiplier;
  std::ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
  std::ptrdiff_t out_h, out_w;
  const std::int32_t* weights;
  std::ptrdiff_t weight_stride;  ///< >= output channels, a multiple of 64
  const unsigned char* padding_row;  ///< `channels` codes of the zero point: what taps outside the input read
};

/// Computes the output rows [row_begin, row_end) (row r is image r / out_h, output row r % out_h) and writes them
/// through the output stage of `out` (a GemmProblem with M = pixels, N = output channels, whose zero-point terms are
/// zero: b_col_offsets all 0, b_zero_points_zero).
using DepthwiseFn = void (*)(const DepthwiseProblem&, const GemmProblem& out, std::ptrdiff_t row_begin,
                             std::ptrdiff_t row_end) noexcept;

struct DepthwiseKernels {
  isa path;
  DepthwiseFn run;
  bool int16_weights = false;
};

}  // namespace kernel_abi
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
namespace kernels {
using ::qmath::kernel_abi::gemm_output;
using ::qmath::kernel_abi::GemmLayout;
using ::qmath::kernel_abi::GemmProblem;
using ::qmath::kernel_abi::GemmComputeFn;
using ::qmath::kernel_abi::GemmKernels;
using ::qmath::kernel_abi::gemm_a_source;
using ::qmath::kernel_abi::GemmASource;
using ::qmath::kernel_abi::GemmPackAFn;
using ::qmath::kernel_abi::GemmRangeFn;
using ::qmath::kernel_abi::ConvGeometry;
using ::qmath::kernel_abi::ConvDirectFn;
using ::qmath::kernel_abi::DepthwiseProblem;
using ::qmath::kernel_abi::DepthwiseFn;
using ::qmath::kernel_abi::DepthwiseKernels;

/// Whether the source's codes are int8 (the layout's a_offset_s8 applies) rather than uint8. In the mode namespace:
/// an inline function of kernel_abi would be a weak symbol every ISA unit defines (tests/isa/leak_check.cmake).
constexpr bool a_source_signed(gemm_a_source kind) noexcept {
  return kind == gemm_a_source::s8 || kind == gemm_a_source::im2col_s8;
}
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
