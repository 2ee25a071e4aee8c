// SPDX-License-Identifier: Apache-2.0
// kernels/simd/gemm_u8s8.hpp: the int8 GEMM's blocked loops, register tile and epilogue, one xsimd body templated
// on Arch, bit-exact with kernels/ref/gemm_u8s8.hpp (kernels layer).
//
// Each Arch contributes only its inner product (GemmDot below, from x86/ and arm/ dot_int8.hpp) and its tile shape.
// The tile keeps kMr x kNv int32 batches in registers over the whole K; B is read from one packed panel, A from
// one packed panel (both laid out so that every load is contiguous, see kernels/gemm_table.hpp). The epilogue
// applies the zero-point correction and the output stage to whole batches and writes only the valid rows and
// columns: partial batches go through a stack buffer, so C is never over-written.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qmath/kernels/simd/gcc_warnings.hpp"

#include "qmath/kernels/arm/dot_int8.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/kernels/simd/pieces.hpp"
#include "qmath/kernels/simd/quantize.hpp"
#include "qmath/kernels/x86/dot_int8.hpp"

QMATH_SIMD_WARNINGS_PUSH

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace simd {

/// The inner product of one Arch: its packed layout, tile shape and three operations.
///   broadcast_a(p): the kr stored A values at p in every int32 lane
///   load_b(p):      one batch of B: lane j holds the kr values of column j
///   madd(acc, a, b): acc + the kr-term dot product in each lane (exact, modulo 2^32)
template <class Arch, class Enable = void>
struct GemmDot {
  static constexpr bool available = false;
};

#if XSIMD_WITH_AVX2 || XSIMD_WITH_AVX512BW
namespace detail {
// The two x86 inner products, shared by the ymm and zmm paths (Mr rows, Nv batches of columns per tile).
// vpmaddwd: int16 A pairs, int8 B sign-extended as loaded (x86/dot_int8.hpp), A stored unshifted.
template <class Arch, int Mr, int Nv>
struct MaddI16Dot {
  static constexpr bool available = true;
  using AElem = std::int16_t;
  using BElem = std::int8_t;
  using I = xsimd::batch<std::int32_t, Arch>;
  static constexpr int kMr = Mr, kNv = Nv, kKr = 2;
  static constexpr GemmLayout layout{kMr, kNv * static_cast<int>(I::size), kKr, 2, true, 1, 0, 0};
  static I broadcast_a(const AElem* p) noexcept { return x86::broadcast_word<Arch>(p); }
  static I load_b(const BElem* p) noexcept { return x86::load_widen_i8<Arch>(p); }
  static I madd(I acc, I a, I b) noexcept { return x86::madd_i16<Arch>(acc, a, b); }
};
}  // namespace detail
#endif
#if defined(QMATH_HAVE_AVX512VNNI_ARCH) || defined(QMATH_HAVE_AVXVNNI_ARCH)
namespace detail {
// vpdpbusd: uint8 A quads (int8 A stored + 128), int8 B quads.
template <class Arch, int Mr, int Nv>
struct DpbusdDot {
  static constexpr bool available = true;
  using AElem = std::uint8_t;
  using BElem = std::int8_t;
  using I = xsimd::batch<std::int32_t, Arch>;
  static constexpr int kMr = Mr, kNv = Nv, kKr = 4;
  static constexpr GemmLayout layout{kMr, kNv * static_cast<int>(I::size), kKr, 1, false, 1, 0, 128};
  static I broadcast_a(const AElem* p) noexcept { return x86::broadcast_word<Arch>(p); }
  static I load_b(const BElem* p) noexcept { return I::load_aligned(reinterpret_cast<const std::int32_t*>(p)); }
  static I madd(I acc, I a, I b) noexcept { return x86::dot_u8s8<Arch>(acc, a, b); }
};
}  // namespace detail
#endif
// Tiles: 6 x 2 ymm batches (12 of 16 registers hold sums), 8 x 2 zmm batches (16 of 32).
#if XSIMD_WITH_AVX2
template <class Arch>
struct GemmDot<Arch, std::enable_if_t<std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value>>
    : detail::MaddI16Dot<Arch, 6, 2> {};
#endif
#if XSIMD_WITH_AVX512BW
template <class Arch>
struct GemmDot<Arch, std::enable_if_t<std::is_same<Arch, xsimd::avx512bw>::value>> : detail::MaddI16Dot<Arch, 8, 2> {};
#endif
#if defined(QMATH_HAVE_AVX512VNNI_ARCH)
template <class Arch>
struct GemmDot<Arch, std::enable_if_t<std::is_same<Arch, x86::avx512vnni>::value>> : detail::DpbusdDot<Arch, 8, 2> {};
#endif
#if defined(QMATH_HAVE_AVXVNNI_ARCH)
template <class Arch>
struct GemmDot<Arch, std::enable_if_t<std::is_same<Arch, x86::avxvnni>::value>> : detail::DpbusdDot<Arch, 6, 2> {};
#endif
#if XSIMD_WITH_NEON64
template <class Arch>
struct GemmDot<Arch, std::enable_if_t<std::is_same<Arch, xsimd::neon64>::value>> {
  static constexpr bool available = true;
  using AElem = std::int16_t;
  using BElem = std::int16_t;
  using I = xsimd::batch<std::int32_t, Arch>;
  static constexpr int kMr = 4, kNv = 4, kKr = 1;
  static constexpr GemmLayout layout{kMr, kNv * static_cast<int>(I::size), kKr, 2, true, 2, 0, 0};
  static I broadcast_a(const AElem* p) noexcept { return I(static_cast<std::int32_t>(*p)); }
  static I load_b(const BElem* p) noexcept { return arm::load_widen_i16<Arch>(p); }
  static I madd(I acc, I a, I b) noexcept { return arm::mla_i32<Arch>(acc, a, b); }
};
#endif
#if defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
template <class Arch>
struct GemmDot<Arch, std::enable_if_t<std::is_same<Arch, arm::neon_dotprod>::value>> {
  static constexpr bool available = true;
  using AElem = std::int8_t;
  using BElem = std::int8_t;
  using I = xsimd::batch<std::int32_t, Arch>;
  static constexpr int kMr = 8, kNv = 2, kKr = 4;
  static constexpr GemmLayout layout{kMr, kNv * static_cast<int>(I::size), kKr, 1, true, 1, -128, 0};
  static I broadcast_a(const AElem* p) noexcept {
    std::int32_t word;
    std::memcpy(&word, p, sizeof(word));
    return I(word);
  }
  static I load_b(const BElem* p) noexcept { return I::load_aligned(reinterpret_cast<const std::int32_t*>(p)); }
  static I madd(I acc, I a, I b) noexcept { return arm::dot_s8s8<Arch>(acc, a, b); }
};
#endif

/// Whether Arch has an int8 GEMM body.
template <class Arch>
struct has_gemm_body : std::integral_constant<bool, GemmDot<Arch>::available> {};

namespace detail {

// The fixed-point pieces of one architecture family.
template <class Arch, class Enable = void>
struct FixedPointPieces;
#if XSIMD_WITH_AVX2 || XSIMD_WITH_AVX512BW
template <class Arch>
struct FixedPointPieces<Arch, std::enable_if_t<x86::is_avx2_family<Arch>::value || x86::is_avx512_family<Arch>::value>> {
  using I = xsimd::batch<std::int32_t, Arch>;
  static I rounding_high_mul(I a, I b) noexcept { return x86::rounding_high_mul<Arch>(a, b); }
  static I shift_right_arithmetic(I a, I count) noexcept { return x86::shift_right_arithmetic<Arch>(a, count); }
};
#endif
#if XSIMD_WITH_NEON64
template <class Arch>
struct FixedPointPieces<Arch, std::enable_if_t<arm::is_neon64_family<Arch>::value>> {
  using I = xsimd::batch<std::int32_t, Arch>;
  static I rounding_high_mul(I a, I b) noexcept { return arm::rounding_high_mul<Arch>(a, b); }
  static I shift_right_arithmetic(I a, I count) noexcept { return arm::shift_right_arithmetic<Arch>(a, count); }
};
#endif

template <class Arch>
struct GemmBody {
  using Fixed = FixedPointPieces<Arch>;
  using D = GemmDot<Arch>;
  using I = xsimd::batch<std::int32_t, Arch>;
  using F = xsimd::batch<float, Arch>;
  using AElem = typename D::AElem;
  using BElem = typename D::BElem;
  static constexpr int kL = static_cast<int>(I::size);
  static constexpr int kMr = D::kMr, kNv = D::kNv, kKr = D::kKr, kNr = kNv * kL;
  // B streams through the tile once per row panel; a prefetch this far ahead hides the L2 / L3 latency that the
  // hardware prefetcher alone leaves exposed when the tile is short (M = 1).
  static constexpr int kPrefetchBytes = 1024;

  // Rows < R of the tile, over k_groups groups of kKr. R is a template argument so that short panels (M = 1)
  // do no wasted work and the tile stays in registers.
  template <int R>
  static void tile(const AElem* a, const BElem* b, std::ptrdiff_t k_groups, I (&acc)[kMr][kNv]) noexcept {
    if constexpr (R == 1) {
      single_row(a, b, k_groups, acc);
      return;
    }
    I sum[R][kNv];
    for (int m = 0; m < R; ++m)
      for (int v = 0; v < kNv; ++v) sum[m][v] = I(0);
    for (std::ptrdiff_t g = 0; g < k_groups; ++g) {
      __builtin_prefetch(reinterpret_cast<const char*>(b) + kPrefetchBytes);
      I bv[kNv];
      for (int v = 0; v < kNv; ++v) bv[v] = D::load_b(b + v * kL * kKr);
      for (int m = 0; m < R; ++m) {
        const I av = D::broadcast_a(a + m * kKr);
        for (int v = 0; v < kNv; ++v) sum[m][v] = D::madd(sum[m][v], av, bv[v]);
      }
      a += kMr * kKr;
      b += kNr * kKr;
    }
    for (int m = 0; m < R; ++m)
      for (int v = 0; v < kNv; ++v) acc[m][v] = sum[m][v];
  }

  // One row (M = 1, GEMV): kNv sums alone would wait on the multiply-add latency, so four consecutive k groups go
  // to four sets of sums, added at the end (integer addition: the order does not change the result).
  static void single_row(const AElem* a, const BElem* b, std::ptrdiff_t k_groups, I (&acc)[kMr][kNv]) noexcept {
    constexpr int kSplit = 4;
    I sum[kSplit][kNv];
    for (int u = 0; u < kSplit; ++u)
      for (int v = 0; v < kNv; ++v) sum[u][v] = I(0);
    std::ptrdiff_t g = 0;
    for (; g + kSplit <= k_groups; g += kSplit) {
      __builtin_prefetch(reinterpret_cast<const char*>(b) + 4 * kPrefetchBytes);
      for (int u = 0; u < kSplit; ++u) {
        const I av = D::broadcast_a(a + u * kMr * kKr);
        for (int v = 0; v < kNv; ++v) sum[u][v] = D::madd(sum[u][v], av, D::load_b(b + (u * kNr + v * kL) * kKr));
      }
      a += kSplit * kMr * kKr;
      b += kSplit * kNr * kKr;
    }
    for (; g < k_groups; ++g) {
      const I av = D::broadcast_a(a);
      for (int v = 0; v < kNv; ++v) sum[0][v] = D::madd(sum[0][v], av, D::load_b(b + v * kL * kKr));
      a += kMr * kKr;
      b += kNr * kKr;
    }
    for (int v = 0; v < kNv; ++v) acc[0][v] = (sum[0][v] + sum[1][v]) + (sum[2][v] + sum[3][v]);
  }

  static void run_tile(int rows, const AElem* a, const BElem* b, std::ptrdiff_t k_groups,
                       I (&acc)[kMr][kNv]) noexcept {
    dispatch_rows(rows, a, b, k_groups, acc, std::integral_constant<int, kMr>{});
  }

  template <int R>
  static void dispatch_rows(int rows, const AElem* a, const BElem* b, std::ptrdiff_t k_groups, I (&acc)[kMr][kNv],
                            std::integral_constant<int, R>) noexcept {
    if constexpr (R > 1) {
      if (rows < R) return dispatch_rows(rows, a, b, k_groups, acc, std::integral_constant<int, R - 1>{});
    }
    tile<R>(a, b, k_groups, acc);
  }

  template <class Q>
  static void store_bytes(Q* dst, I codes, int count) noexcept {
    if (count == kL) {
      QuantizeVectors<Arch>::template store_codes<Q>(dst, codes);
    } else {
      Q tmp[kL];
      QuantizeVectors<Arch>::template store_codes<Q>(tmp, codes);
      std::memcpy(dst, tmp, static_cast<std::size_t>(count) * sizeof(Q));
    }
  }

  template <class T, class V>
  static void store_lanes(T* dst, V value, int count) noexcept {
    if (count == kL) {
      value.store_unaligned(dst);
    } else {
      alignas(64) T tmp[kL];
      value.store_aligned(tmp);
      std::memcpy(dst, tmp, static_cast<std::size_t>(count) * sizeof(T));
    }
  }

  // ref::requantize_fixed for shifts <= 0, on whole batches: the rounding high multiply, then a division by
  // 2^right rounded half away from zero (gemmlowp RoundingDivideByPOT), then the clamp around the zero point (done
  // before adding it, so nothing overflows) and the zero point.
  static I fixed_point_codes(I v, I multiplier, I right, const GemmProblem& p) noexcept {
    using Pieces = detail::Pieces<Arch>;
    const I high = Fixed::rounding_high_mul(v, multiplier);
    const I mask = Pieces::shift_left_lanes(I(1), right) - I(1);
    const I remainder = high & mask;
    const I threshold = (mask >> 1) - (high >> 31);  // + 1 for negative values
    const I rounded = Fixed::shift_right_arithmetic(high, right) + Pieces::select(remainder > threshold, I(1), I(0));
    const I zo(p.out_zero_point);
    return xsimd::min(xsimd::max(rounded, I(p.out_min) - zo), I(p.out_max) - zo) + zo;
  }

  // One rounding, as the reference's std::fma: xsimd::fma on AVX-512 is not fused (see x86/dot_int8.hpp).
  static F fused_multiply_add(F a, F b, F c) noexcept {
#if XSIMD_WITH_AVX512BW
    if constexpr (x86::is_avx512_family<Arch>::value) return x86::fused_multiply_add<Arch>(a, b, c);
#endif
    return xsimd::fma(a, b, c);
  }

  static void epilogue(const GemmProblem& p, std::ptrdiff_t m0, std::ptrdiff_t n0, int rows,
                       const I (&acc)[kMr][kNv]) noexcept {
    const std::ptrdiff_t valid_cols = std::min<std::ptrdiff_t>(kNr, p.n - n0);
    for (int r = 0; r < rows; ++r) {
      const std::ptrdiff_t m = m0 + r;
      const I za(p.a_zero_points[m]);
      const I row_sum(p.a_row_sums[m]);
      for (int v = 0; v < kNv; ++v) {
        const std::ptrdiff_t n = n0 + v * kL;
        const int count = static_cast<int>(std::min<std::ptrdiff_t>(kL, valid_cols - v * kL));
        if (count <= 0) break;
        I c = acc[r][v] - za * I::load_aligned(p.b_col_terms + n);
        if (!p.b_zero_points_zero) c = c - I::load_aligned(p.b_zero_points + n) * row_sum;
        const std::ptrdiff_t at = m * p.ldc + n;
        switch (p.output) {
          case gemm_output::int32: store_lanes(static_cast<std::int32_t*>(p.c) + at, c, count); break;
          case gemm_output::requantize_s8:
          case gemm_output::requantize_u8: {
            const I zo(p.out_zero_point);
            const F lo = xsimd::to_float(I(p.out_min) - zo), hi = xsimd::to_float(I(p.out_max) - zo);
            const I v_biased = c + I::load_aligned(p.bias_i32 + n);
            const I q = QuantizeVectors<Arch>::template codes<scale_op::multiply_reciprocal, rounding::half_even>(
                xsimd::to_float(v_biased), F::load_aligned(p.multiplier + n), lo, hi, zo);
            if (p.output == gemm_output::requantize_s8) store_bytes(static_cast<std::int8_t*>(p.c) + at, q, count);
            else store_bytes(static_cast<std::uint8_t*>(p.c) + at, q, count);
            break;
          }
          case gemm_output::requantize_fixed_s8:
          case gemm_output::requantize_fixed_u8: {
            const I v_biased = c + I::load_aligned(p.bias_i32 + n);
            if (p.fixed_left_shift) {
              // Multipliers above 1 (a positive shift) need a saturating left shift first: the scalar stage (its
              // own <Arch> copy), per element. Requantization multipliers are below 1 in practice.
              alignas(64) std::int32_t values[kL];
              v_biased.store_aligned(values);
              for (int j = 0; j < count; ++j) {
                const std::int32_t q = ref::requantize_fixed<Arch>(values[j], p.fixed_multiplier[n + j],
                                                                   p.fixed_shift[n + j], p.out_zero_point,
                                                                   p.out_min, p.out_max);
                if (p.output == gemm_output::requantize_fixed_s8) static_cast<std::int8_t*>(p.c)[at + j] = static_cast<std::int8_t>(q);
                else static_cast<std::uint8_t*>(p.c)[at + j] = static_cast<std::uint8_t>(q);
              }
              break;
            }
            const I q = fixed_point_codes(v_biased, I::load_aligned(p.fixed_multiplier + n),
                                          I(0) - I::load_aligned(p.fixed_shift + n), p);
            if (p.output == gemm_output::requantize_fixed_s8) store_bytes(static_cast<std::int8_t*>(p.c) + at, q, count);
            else store_bytes(static_cast<std::uint8_t*>(p.c) + at, q, count);
            break;
          }
          case gemm_output::dequantize_f32: {
            const F scale = F(p.a_scale[m]) * F::load_aligned(p.b_scale + n);
            const F y = fused_multiply_add(xsimd::to_float(c), scale, F::load_aligned(p.bias_f32 + n));
            store_lanes(static_cast<float*>(p.c) + at, y, count);
            break;
          }
        }
      }
    }
  }

  static void compute(const GemmProblem& p, std::ptrdiff_t m_begin, std::ptrdiff_t m_end, std::ptrdiff_t n_begin,
                      std::ptrdiff_t n_end) noexcept {
    // Columns per block: as many B panels as fit in about 256 KiB (L2), reused by every row panel.
    constexpr std::ptrdiff_t kBlockBytes = 256 * 1024;
    const std::ptrdiff_t panels_per_block = std::max<std::ptrdiff_t>(1, kBlockBytes / std::max<std::ptrdiff_t>(1, p.b_panel_bytes));
    const auto* a_base = static_cast<const unsigned char*>(p.a_packed);
    const auto* b_base = static_cast<const unsigned char*>(p.b_packed);
    m_end = std::min(m_end, p.m);
    n_end = std::min(n_end, p.n);
    for (std::ptrdiff_t nb = n_begin; nb < n_end; nb += panels_per_block * kNr) {
      const std::ptrdiff_t nb_end = std::min(n_end, nb + panels_per_block * kNr);
      for (std::ptrdiff_t m0 = m_begin; m0 < m_end; m0 += kMr) {
        const int rows = static_cast<int>(std::min<std::ptrdiff_t>(kMr, m_end - m0));
        const auto* a = reinterpret_cast<const AElem*>(a_base + (m0 / kMr) * p.a_panel_bytes);
        for (std::ptrdiff_t n0 = nb; n0 < nb_end; n0 += kNr) {
          const auto* b = reinterpret_cast<const BElem*>(b_base + (n0 / kNr) * p.b_panel_bytes);
          I acc[kMr][kNv];
          run_tile(rows, a, b, p.k_groups, acc);
          epilogue(p, m0, n0, rows, acc);
        }
      }
    }
  }
};

}  // namespace detail

/// The kernel table entry of Arch (requires has_gemm_body<Arch>).
template <class Arch>
void gemm_compute(const GemmProblem& p, std::ptrdiff_t m_begin, std::ptrdiff_t m_end, std::ptrdiff_t n_begin,
                  std::ptrdiff_t n_end) noexcept {
  detail::GemmBody<Arch>::compute(p, m_begin, m_end, n_begin, n_end);
}

template <class Arch>
constexpr GemmKernels make_gemm_kernels(isa path) noexcept {
  return GemmKernels{path, GemmDot<Arch>::layout, &gemm_compute<Arch>};
}

/// The arch a header-only build uses for the GEMM: xsimd's default arch, promoted to its dot-product variant when
/// the compiler flags enable one (xsimd 8.1 has no VNNI or dotprod arch of its own).
#if defined(QMATH_HAVE_AVX512VNNI_ARCH)
using gemm_default_arch = x86::avx512vnni;
#elif defined(QMATH_HAVE_AVXVNNI_ARCH) && !XSIMD_WITH_AVX512BW
using gemm_default_arch = x86::avxvnni;
#elif defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
using gemm_default_arch = arm::neon_dotprod;
#else
using gemm_default_arch = xsimd::default_arch;
#endif

}  // namespace simd
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath

QMATH_SIMD_WARNINGS_POP
