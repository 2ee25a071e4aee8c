// SPDX-License-Identifier: Apache-2.0
// kernels/simd/depthwise.hpp: the depthwise convolution family, one xsimd body templated on Arch, bit-exact with
// kernels/ref/depthwise.hpp (kernels layer).
//
// NHWC puts the channels of a pixel side by side, so a vector holds kL channels of one output pixel and every
// tap is one widening load of input codes, a subtraction of the zero point and an int32 multiply-add by the
// tap's (w - zw) (exact: |x - zx| * |w - zw| <= 255 * 255 per tap). A tile is kRows neighbouring output pixels of
// one row x kNr channels; it is written through the GEMM body's epilogue, so every output stage is the GEMM's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"

#include "qmath/kernels/simd/gcc_warnings.hpp"

#include "qmath/kernels/arm/dot_int8.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"
#include "qmath/kernels/x86/dot_int8.hpp"

QMATH_SIMD_WARNINGS_PUSH

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace simd {
namespace detail {

template <class Arch>
struct DepthwiseBody {
  using Body = GemmBody<Arch>;
  using I = typename Body::I;
  static constexpr int kL = Body::kL, kNv = Body::kNv, kNr = Body::kNr, kMr = Body::kMr;
  // kRows x kNv sums, kNv weights and a temporary stay in registers (16 ymm on AVX2, 32 zmm on AVX-512).
  static constexpr int kRows = ref::min_of(kMr, sizeof(I) == 64 ? 8 : 4);
  // x86 multiplies by vpmaddwd: (x - zx) and the weight fit int16, and the weight's zero high half drops the
  // other product of the pair.
  static constexpr bool kInt16Weights = QMATH_ARCH_X86_64 != 0;

  template <bool Signed>
  static I load_codes(const unsigned char* p) noexcept {
#if XSIMD_WITH_AVX2
    return x86::load_codes_i32<Arch, Signed>(p);
#elif XSIMD_WITH_NEON64
    return arm::load_codes_i32<Arch, Signed>(p);
#else
    static_assert(sizeof(Arch) == 0, "the depthwise body needs a GEMM body's arch");
    return I(*p);
#endif
  }

  // Output channels [o0, o0 + count) of one input pixel as int32 (channel o reads input channel o / multiplier);
  // lanes past count are 0. Whole batches with multiplier 1 are read directly.
  template <bool Signed>
  static I load_input(const unsigned char* pixel, std::ptrdiff_t o0, int count, std::ptrdiff_t multiplier) noexcept {
    if (multiplier == 1 && count == kL) return load_codes<Signed>(pixel + o0);
    alignas(64) std::int32_t lanes[kL] = {};
    for (int j = 0; j < count; ++j) {
      const unsigned char code = pixel[(o0 + j) / multiplier];
      lanes[j] = Signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(code)) : static_cast<std::int32_t>(code);
    }
    return I::load_aligned(lanes);
  }

  static I multiply_add(I acc, I a, I b) noexcept {
#if XSIMD_WITH_AVX2
    return x86::madd_i16<Arch>(acc, a, b);
#elif XSIMD_WITH_NEON64
    return arm::mla_i32<Arch>(acc, a, b);
#else
    return acc + a * b;  // never instantiated: no GEMM body
#endif
  }

  // The sums of one tile: `rows` output pixels from (image, oh, ow0), channels [n0, n0 + kNr). A tap outside the
  // input, and every tap of the rows past `rows`, reads the padding row (zero points: it adds 0), so the loop has no
  // branch. Full: multiplier 1 and whole batches, read directly.
  template <bool Signed, bool Full>
  static void accumulate(const DepthwiseProblem& d, std::ptrdiff_t image, std::ptrdiff_t oh, std::ptrdiff_t ow0,
                         int rows, std::ptrdiff_t n0, const int (&count)[kNv], I (&acc)[kMr][kNv]) noexcept {
    const auto* input = static_cast<const unsigned char*>(d.input);
    const I zx(d.input_zero_point);
    for (std::ptrdiff_t kh = 0; kh < d.kernel_h; ++kh) {
      const std::ptrdiff_t ih = oh * d.stride_h - d.pad_top + kh * d.dilation_h;
      const bool row_inside = ih >= 0 && ih < d.in_h;
      const unsigned char* line = input + (image * d.in_h + (row_inside ? ih : 0)) * d.in_w * d.channels;
      for (std::ptrdiff_t kw = 0; kw < d.kernel_w; ++kw) {
        const std::int32_t* w = d.weights + (kh * d.kernel_w + kw) * d.weight_stride + n0;
        I weight[kNv];
        for (int v = 0; v < kNv; ++v) weight[v] = I::load_aligned(w + v * kL);
        for (int r = 0; r < kRows; ++r) {
          const std::ptrdiff_t iw = (ow0 + r) * d.stride_w - d.pad_left + kw * d.dilation_w;
          const bool inside = row_inside && r < rows && iw >= 0 && iw < d.in_w;
          const unsigned char* pixel = inside ? line + iw * d.channels : d.padding_row;
          for (int v = 0; v < kNv; ++v) {
            const I x = Full ? load_codes<Signed>(pixel + n0 + v * kL)
                             : load_input<Signed>(pixel, n0 + v * kL, count[v], d.multiplier);
            acc[r][v] = multiply_add(acc[r][v], x - zx, weight[v]);
          }
        }
      }
    }
  }

  // Stride 1, dilation 1, kernel width 3, multiplier 1, whole batches (MobileNet's depthwise layers): per kernel
  // row, the kRows + 2 input pixels of the tile are loaded once and each feeds up to three taps.
  template <bool Signed>
  static void accumulate_w3(const DepthwiseProblem& d, std::ptrdiff_t image, std::ptrdiff_t oh, std::ptrdiff_t ow0,
                            std::ptrdiff_t n0, I (&acc)[kMr][kNv]) noexcept {
    constexpr int kPositions = kRows + 2;
    const auto* input = static_cast<const unsigned char*>(d.input);
    const I zx(d.input_zero_point);
    for (std::ptrdiff_t kh = 0; kh < d.kernel_h; ++kh) {
      const std::ptrdiff_t ih = oh * d.stride_h - d.pad_top + kh * d.dilation_h;
      const bool row_inside = ih >= 0 && ih < d.in_h;
      const unsigned char* line = input + (image * d.in_h + (row_inside ? ih : 0)) * d.in_w * d.channels;
      const unsigned char* pixel[kPositions];
      for (int j = 0; j < kPositions; ++j) {
        const std::ptrdiff_t iw = ow0 - d.pad_left + j;
        pixel[j] = row_inside && iw >= 0 && iw < d.in_w ? line + iw * d.channels : d.padding_row;
      }
      const std::int32_t* w = d.weights + kh * 3 * d.weight_stride + n0;
      for (int v = 0; v < kNv; ++v) {
        const I w0 = I::load_aligned(w + v * kL), w1 = I::load_aligned(w + d.weight_stride + v * kL);
        const I w2 = I::load_aligned(w + 2 * d.weight_stride + v * kL);
        I x[kPositions];
        for (int j = 0; j < kPositions; ++j) x[j] = load_codes<Signed>(pixel[j] + n0 + v * kL) - zx;
        for (int r = 0; r < kRows; ++r)
          acc[r][v] = multiply_add(multiply_add(multiply_add(acc[r][v], x[r], w0), x[r + 1], w1), x[r + 2], w2);
      }
    }
  }

  template <gemm_output Out, bool Signed>
  static void run_for(const DepthwiseProblem& d, const GemmProblem& p, std::ptrdiff_t row_begin,
                      std::ptrdiff_t row_end) noexcept {
    const std::ptrdiff_t channels_out = d.channels * d.multiplier;
    for (std::ptrdiff_t row = row_begin; row < row_end; ++row) {
      const std::ptrdiff_t image = row / d.out_h, oh = row % d.out_h;
      for (std::ptrdiff_t n0 = 0; n0 < channels_out; n0 += kNr) {
        int count[kNv];
        for (int v = 0; v < kNv; ++v)
          count[v] = static_cast<int>(ref::max_of<std::ptrdiff_t>(0, ref::min_of<std::ptrdiff_t>(kL, channels_out - n0 - v * kL)));
        const bool full = d.multiplier == 1 && count[kNv - 1] == kL;
        const bool width3 = full && d.kernel_w == 3 && d.stride_w == 1 && d.dilation_w == 1;
        for (std::ptrdiff_t ow = 0; ow < d.out_w; ow += kRows) {
          const int rows = static_cast<int>(ref::min_of<std::ptrdiff_t>(kRows, d.out_w - ow));
          I acc[kMr][kNv];
          for (int r = 0; r < kMr; ++r)
            for (int v = 0; v < kNv; ++v) acc[r][v] = I(0);
          if (width3)
            accumulate_w3<Signed>(d, image, oh, ow, n0, acc);  // rows past `rows` read what they read: unwritten
          else if (full)
            accumulate<Signed, true>(d, image, oh, ow, rows, n0, count, acc);
          else
            accumulate<Signed, false>(d, image, oh, ow, rows, n0, count, acc);
          Body::template epilogue<Out>(p, row * d.out_w + ow, n0, rows, acc);
        }
      }
    }
  }

  template <gemm_output Out>
  static void run_output(const DepthwiseProblem& d, const GemmProblem& p, std::ptrdiff_t row_begin,
                         std::ptrdiff_t row_end) noexcept {
    if (d.input_signed) run_for<Out, true>(d, p, row_begin, row_end);
    else run_for<Out, false>(d, p, row_begin, row_end);
  }

  static void run(const DepthwiseProblem& d, const GemmProblem& p, std::ptrdiff_t row_begin,
                  std::ptrdiff_t row_end) noexcept {
    switch (p.output) {
      case gemm_output::int32: return run_output<gemm_output::int32>(d, p, row_begin, row_end);
      case gemm_output::requantize_s8: return run_output<gemm_output::requantize_s8>(d, p, row_begin, row_end);
      case gemm_output::requantize_u8: return run_output<gemm_output::requantize_u8>(d, p, row_begin, row_end);
      case gemm_output::requantize_fixed_s8: return run_output<gemm_output::requantize_fixed_s8>(d, p, row_begin, row_end);
      case gemm_output::requantize_fixed_u8: return run_output<gemm_output::requantize_fixed_u8>(d, p, row_begin, row_end);
      case gemm_output::dequantize_f32: return run_output<gemm_output::dequantize_f32>(d, p, row_begin, row_end);
    }
  }
};

}  // namespace detail

/// The depthwise table entry of Arch (requires has_gemm_body<Arch>: the tiles reuse its epilogue).
template <class Arch>
void depthwise_run(const DepthwiseProblem& d, const GemmProblem& p, std::ptrdiff_t row_begin,
                   std::ptrdiff_t row_end) noexcept {
  detail::DepthwiseBody<Arch>::run(d, p, row_begin, row_end);
}

template <class Arch>
constexpr DepthwiseKernels make_depthwise_kernels(isa path) noexcept {
  return DepthwiseKernels{path, &depthwise_run<Arch>, detail::DepthwiseBody<Arch>::kInt16Weights};
}

}  // namespace simd
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

QMATH_SIMD_WARNINGS_POP
