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
#include <utility>

#include <xsimd/xsimd.hpp>

#include "qmath/core/config.hpp"

#include "qmath/kernels/simd/gcc_warnings.hpp"

#include "qmath/kernels/arm/dot_int8.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/kernels/ref/pack.hpp"
#include "qmath/kernels/simd/pieces.hpp"
#include "qmath/kernels/simd/quantize.hpp"
#include "qmath/kernels/x86/dot_int8.hpp"
#include "qmath/kernels/x86/pack_a.hpp"

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
  // Vector registers (16 ymm; 32 zmm or NEON q).
  static constexpr int kRegisters = sizeof(I) == 32 ? 16 : 32;
  static constexpr std::ptrdiff_t kGroupBBytes = static_cast<std::ptrdiff_t>(kNr * kKr * sizeof(BElem));
  static constexpr std::ptrdiff_t kGroupABytes = static_cast<std::ptrdiff_t>(kMr * kKr * sizeof(AElem));
  // Blocking (docs/gemm.md): a K slice of one B panel (kSliceBytes) stays in L1 while every row panel of a row
  // block passes over it; the block's packed A (kABlockBytes over all of K) stays in L2 while the column panels
  // pass over it. With several K slices, the int32 partial sums of a block (at most kPartialRows x kNr) wait on
  // the stack between slices.
  static constexpr std::ptrdiff_t kSliceBytes = 32 * 1024;
  static constexpr std::ptrdiff_t kABlockBytes = 384 * 1024;
  static constexpr std::ptrdiff_t kPartialBytes = 32 * 1024;
  static constexpr std::ptrdiff_t kPartialRows = ref::max_of<std::ptrdiff_t>(kMr, kPartialBytes / (kNr * 4) / kMr * kMr);
  static constexpr std::ptrdiff_t kSliceGroups = ref::max_of<std::ptrdiff_t>(1, kSliceBytes / kGroupBBytes);
  // Streaming B (few rows): prefetch this far ahead, one request per cache line read.
  static constexpr std::ptrdiff_t kPrefetchBytes = 2048;
  // Up to this many rows, tiles span several column panels (GEMV is bound by reading the weights: more
  // independent sums per byte of A, one pass over B).
  static constexpr int kWideRows = 4;
  template <int R>
  static constexpr int wide_panels() noexcept {
    // R * W * kNv sums, R broadcasts of A kept over the group, one B batch and one temporary, one register spare
    // (clang spilled the ymm tiles that used all 16).
    return ref::max_of(1, ref::min_of(4, (kRegisters - 1 - R - 2) / (R * kNv)));
  }

  // Keeps a loaded batch in a register: when a B batch feeds one multiply-add only, GCC folds the load into
  // vpdpbusd's memory operand and then copies every accumulator twice per iteration (docs/gemm.md).
  static void in_register(I& v) noexcept {
#if defined(__GNUC__) && QMATH_ARCH_X86_64
    __asm__("" : "+v"(v.data));
#elif defined(__GNUC__) && QMATH_ARCH_AARCH64
    __asm__("" : "+w"(v.data));
#else
    (void)v;
#endif
  }

  template <bool Prefetch>
  static void prefetch_b(const BElem* b, std::ptrdiff_t g) noexcept {
    if constexpr (Prefetch) {
      const char* at = reinterpret_cast<const char*>(b) + kPrefetchBytes;
      if constexpr (kGroupBBytes >= 64) {
        for (std::ptrdiff_t line = 0; line < kGroupBBytes; line += 64) __builtin_prefetch(at + line);
      } else if ((g * kGroupBBytes) % 64 == 0) {
        __builtin_prefetch(at);
      }
    }
  }

  // The register tile: R rows x W column panels over `groups` groups of kKr, added to acc (which the caller
  // initializes). Its own function so that the sums stay in registers across the loop (docs/gemm.md says how
  // that is checked); b_stride is the distance between column panels, in BElem.
  template <int R, int W, bool Prefetch>
  QMATH_NOINLINE static void tile(const AElem* a, const BElem* b, std::ptrdiff_t b_stride,
                                             std::ptrdiff_t groups, I (&acc)[W][kMr][kNv]) noexcept {
    I sum[W][R][kNv];
    // Wide tiles always start from zero (they cover all of K); starting block tiles from acc carries partial sums.
    for (int w = 0; w < W; ++w)
      for (int m = 0; m < R; ++m)
        for (int v = 0; v < kNv; ++v) sum[w][m][v] = W > 1 ? I(0) : acc[w][m][v];
    for (std::ptrdiff_t g = 0; g < groups; ++g) {
      if constexpr (W == 1) {
        prefetch_b<Prefetch>(b, g);
        I bv[kNv];
        for (int v = 0; v < kNv; ++v) bv[v] = D::load_b(b + v * kL * kKr);
        for (int m = 0; m < R; ++m) {
          const I av = D::broadcast_a(a + m * kKr);
          for (int v = 0; v < kNv; ++v) sum[0][m][v] = D::madd(sum[0][m][v], av, bv[v]);
        }
      } else {
        I av[R];
        for (int m = 0; m < R; ++m) av[m] = D::broadcast_a(a + m * kKr);
        for (int w = 0; w < W; ++w) {
          prefetch_b<Prefetch>(b + w * b_stride, g);
          for (int v = 0; v < kNv; ++v) {
            I bv = D::load_b(b + w * b_stride + v * kL * kKr);
            in_register(bv);
            for (int m = 0; m < R; ++m) sum[w][m][v] = D::madd(sum[w][m][v], av[m], bv);
          }
        }
      }
      a += kMr * kKr;
      b += kNr * kKr;
    }
    for (int w = 0; w < W; ++w)
      for (int m = 0; m < R; ++m)
        for (int v = 0; v < kNv; ++v) acc[w][m][v] = sum[w][m][v];
  }

#if defined(__GNUC__) && !defined(__clang__) && QMATH_ARCH_X86_64
  // GCC 12 copies every accumulator of tile_rows' loop once per group (its addresses come from R row pointers, not
  // one packed panel; docs/conv.md). The full tiles of the VNNI paths are asm statements over sums held in named
  // registers instead: per group two B batches, then per row a broadcast of its 4 bytes and two vpdpbusd.
  static constexpr bool kVnniZmm = kKr == 4 && !D::layout.a_signed && D::layout.a_bytes == 1 && sizeof(I) == 64 &&
                                   kMr == 8 && kNv == 2;
  static constexpr bool kVnniYmm = kKr == 4 && !D::layout.a_signed && D::layout.a_bytes == 1 && sizeof(I) == 32 &&
                                   kMr == 6 && kNv == 2;
#define QMATH_DIRECT_ROW(r, REG, VEX)                                   \
  "vpbroadcastd (%[a" #r "],%[at]), %%" REG "2\n\t"                    \
  VEX "vpdpbusd %[b0], %%" REG "2, %[s" #r "0]\n\t"                   \
  VEX "vpdpbusd %[b1], %%" REG "2, %[s" #r "1]\n\t"
#define QMATH_DIRECT_SUMS(r) [s##r##0] "+v"(s##r##0), [s##r##1] "+v"(s##r##1)
#define QMATH_DIRECT_ROWS(REG, VEX, r0, r1, r2, r3)                                                               \
  __asm__(QMATH_DIRECT_ROW(r0, REG, VEX) QMATH_DIRECT_ROW(r1, REG, VEX) QMATH_DIRECT_ROW(r2, REG, VEX)             \
          QMATH_DIRECT_ROW(r3, REG, VEX)                                                                          \
          : QMATH_DIRECT_SUMS(r0), QMATH_DIRECT_SUMS(r1), QMATH_DIRECT_SUMS(r2), QMATH_DIRECT_SUMS(r3)             \
          : [b0] "v"(b0), [b1] "v"(b1), [at] "r"(at), [a##r0] "r"(rows[r0]), [a##r1] "r"(rows[r1]),              \
            [a##r2] "r"(rows[r2]), [a##r3] "r"(rows[r3])                                                           \
          : REG "2")
// Between the statements only integer code runs and no function is called (a call, e.g. an xsimd load at -O0,
// would be free to clobber the named registers): B is loaded by an asm statement too, and the sums leave through
// plain assignments.
#define QMATH_DIRECT_PIN(T, r, REG0, REG1)                    \
  register T s##r##0 __asm__(REG0) = acc[r][0].data;          \
  register T s##r##1 __asm__(REG1) = acc[r][1].data
#define QMATH_DIRECT_UNPIN(r) \
  out[r][0] = s##r##0;        \
  out[r][1] = s##r##1
#define QMATH_DIRECT_LOAD_B(REG, MOV, BYTES)                                                    \
  register T b0 __asm__(REG "0");                                                               \
  register T b1 __asm__(REG "1");                                                               \
  __asm__(MOV " (%[b]), %[b0]\n\t" MOV " " #BYTES "(%[b]), %[b1]"                                 \
          : [b0] "=v"(b0), [b1] "=v"(b1)                                                        \
          : [b] "r"(b), "m"(*reinterpret_cast<const BElem(*)[2 * kL * kKr]>(b)))
  static void tile_rows_vnni(const AElem* const (*taps_rows)[kMr], std::ptrdiff_t taps, const BElem* b,
                             std::ptrdiff_t groups, I (&acc)[kMr][kNv]) noexcept {
    using T = typename I::register_type;
    T out[kMr][kNv];
    if constexpr (kVnniZmm) {
      QMATH_DIRECT_PIN(T, 0, "zmm16", "zmm17"); QMATH_DIRECT_PIN(T, 1, "zmm18", "zmm19");
      QMATH_DIRECT_PIN(T, 2, "zmm20", "zmm21"); QMATH_DIRECT_PIN(T, 3, "zmm22", "zmm23");
      QMATH_DIRECT_PIN(T, 4, "zmm24", "zmm25"); QMATH_DIRECT_PIN(T, 5, "zmm26", "zmm27");
      QMATH_DIRECT_PIN(T, 6, "zmm28", "zmm29"); QMATH_DIRECT_PIN(T, 7, "zmm30", "zmm31");
      for (std::ptrdiff_t t = 0; t < taps; ++t) {
        const AElem* const(&rows)[kMr] = taps_rows[t];
        for (std::ptrdiff_t at = 0; at < groups * kKr; at += kKr, b += kNr * kKr) {
          QMATH_DIRECT_LOAD_B("zmm", "vmovdqa64", 64);
          QMATH_DIRECT_ROWS("zmm", "", 0, 1, 2, 3);
          QMATH_DIRECT_ROWS("zmm", "", 4, 5, 6, 7);
        }
      }
      QMATH_DIRECT_UNPIN(0); QMATH_DIRECT_UNPIN(1); QMATH_DIRECT_UNPIN(2); QMATH_DIRECT_UNPIN(3);
      QMATH_DIRECT_UNPIN(4); QMATH_DIRECT_UNPIN(5); QMATH_DIRECT_UNPIN(6); QMATH_DIRECT_UNPIN(7);
    } else if constexpr (kVnniYmm) {
      QMATH_DIRECT_PIN(T, 0, "ymm4", "ymm5"); QMATH_DIRECT_PIN(T, 1, "ymm6", "ymm7");
      QMATH_DIRECT_PIN(T, 2, "ymm8", "ymm9"); QMATH_DIRECT_PIN(T, 3, "ymm10", "ymm11");
      QMATH_DIRECT_PIN(T, 4, "ymm12", "ymm13"); QMATH_DIRECT_PIN(T, 5, "ymm14", "ymm15");
      for (std::ptrdiff_t t = 0; t < taps; ++t) {
        const AElem* const(&rows)[kMr] = taps_rows[t];
        for (std::ptrdiff_t at = 0; at < groups * kKr; at += kKr, b += kNr * kKr) {
          QMATH_DIRECT_LOAD_B("ymm", "vmovdqa", 32);
          QMATH_DIRECT_ROWS("ymm", "%{vex%} ", 0, 1, 2, 3);
          __asm__(QMATH_DIRECT_ROW(4, "ymm", "%{vex%} ") QMATH_DIRECT_ROW(5, "ymm", "%{vex%} ")
                  : QMATH_DIRECT_SUMS(4), QMATH_DIRECT_SUMS(5)
                  : [b0] "v"(b0), [b1] "v"(b1), [at] "r"(at), [a4] "r"(rows[4]), [a5] "r"(rows[5])
                  : "ymm2");
        }
      }
      QMATH_DIRECT_UNPIN(0); QMATH_DIRECT_UNPIN(1); QMATH_DIRECT_UNPIN(2);
      QMATH_DIRECT_UNPIN(3); QMATH_DIRECT_UNPIN(4); QMATH_DIRECT_UNPIN(5);
    }
    for (int r = 0; r < kMr; ++r)
      for (int v = 0; v < kNv; ++v) acc[r][v] = I(out[r][v]);
  }
#undef QMATH_DIRECT_LOAD_B
#undef QMATH_DIRECT_UNPIN
#undef QMATH_DIRECT_PIN
#undef QMATH_DIRECT_ROWS
#undef QMATH_DIRECT_SUMS
#undef QMATH_DIRECT_ROW
#endif

  // The direct convolution's tile: R rows read in place over `taps` taps, one pointer per row and tap (kKr
  // consecutive stored values per group), B from one panel (the taps' groups follow each other); added to acc.
  template <int R>
  QMATH_NOINLINE static void tile_rows(const AElem* const (*taps_rows)[kMr], std::ptrdiff_t taps, const BElem* b,
                                       std::ptrdiff_t groups, I (&acc)[kMr][kNv]) noexcept {
#if defined(__GNUC__) && !defined(__clang__) && QMATH_ARCH_X86_64
    if constexpr (R == kMr && (kVnniZmm || kVnniYmm)) {
      tile_rows_vnni(taps_rows, taps, b, groups, acc);
      return;
    }
#endif
    I sum[R][kNv];
    for (int m = 0; m < R; ++m)
      for (int v = 0; v < kNv; ++v) sum[m][v] = acc[m][v];
    for (std::ptrdiff_t t = 0; t < taps; ++t) {
      const AElem* const(&rows)[kMr] = taps_rows[t];
      for (std::ptrdiff_t g = 0; g < groups; ++g) {
        I bv[kNv];
        for (int v = 0; v < kNv; ++v) bv[v] = D::load_b(b + v * kL * kKr);
        for (int m = 0; m < R; ++m) {
          const I av = D::broadcast_a(rows[m] + g * kKr);
          for (int v = 0; v < kNv; ++v) sum[m][v] = D::madd(sum[m][v], av, bv[v]);
        }
        b += kNr * kKr;
      }
    }
    for (int m = 0; m < R; ++m)
      for (int v = 0; v < kNv; ++v) acc[m][v] = sum[m][v];
  }

  using RowsTileFn = void (*)(const AElem* const (*)[kMr], std::ptrdiff_t, const BElem*, std::ptrdiff_t,
                              I (&)[kMr][kNv]) noexcept;
  template <int... R>
  static RowsTileFn rows_tile(int rows, std::integer_sequence<int, R...>) noexcept {
    static constexpr RowsTileFn table[] = {&tile_rows<R + 1>...};
    return table[rows - 1];
  }

  // Direct convolution (ConvDirectFn): column panel by column panel (its taps' B stays in cache while the pixels
  // pass), tiles of kMr consecutive output pixels, every tap one tile_rows call over the group's channels.
  template <gemm_output Out>
  static void conv_direct_for(const GemmProblem& p, const ConvGeometry& g, std::ptrdiff_t m_begin,
                              std::ptrdiff_t m_end, std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept {
    m_end = ref::min_of(m_end, p.m);
    n_end = ref::min_of(n_end, p.n);
    const std::ptrdiff_t groups = g.channels / kKr, taps = g.kernel_h * g.kernel_w;
    const std::ptrdiff_t tap_elements = groups * kNr * kKr;
    // The tile's row pointers, every tap, are computed once and serve every column panel when the weights of all
    // panels stay in L2 (kDirectTaps taps at most); otherwise column panels go outside (each panel's B is read from
    // memory once) and the pointers are recomputed per panel.
    const bool tile_outer = taps <= kDirectTaps && (n_end - n_begin) * taps * groups * kKr <= kDirectBBytes;
    if (tile_outer) {
      const AElem* at[kDirectTaps][kMr];
      for (std::ptrdiff_t m0 = m_begin; m0 < m_end; m0 += kMr) {
        const int rows = static_cast<int>(ref::min_of<std::ptrdiff_t>(kMr, m_end - m0));
        direct_rows(g, m0, rows, 0, taps, at);
        for (std::ptrdiff_t n0 = n_begin; n0 < n_end; n0 += kNr) direct_tile<Out>(p, at, taps, groups, m0, rows, n0);
      }
      return;
    }
    for (std::ptrdiff_t n0 = n_begin; n0 < n_end; n0 += kNr)
      for (std::ptrdiff_t m0 = m_begin; m0 < m_end; m0 += kMr) {
        const int rows = static_cast<int>(ref::min_of<std::ptrdiff_t>(kMr, m_end - m0));
        I acc[kMr][kNv];
        for (int r = 0; r < kMr; ++r)
          for (int v = 0; v < kNv; ++v) acc[r][v] = I(0);
        const RowsTileFn tile_fn = rows_tile(rows, std::make_integer_sequence<int, kMr>{});
        for (std::ptrdiff_t t0 = 0; t0 < taps; t0 += kDirectTaps) {
          const AElem* at[kDirectTaps][kMr];
          const std::ptrdiff_t count = ref::min_of<std::ptrdiff_t>(kDirectTaps, taps - t0);
          direct_rows(g, m0, rows, t0, count, at);
          tile_fn(at, count, b_panel(p, n0) + t0 * tap_elements, groups, acc);
        }
        epilogue<Out>(p, m0, n0, rows, acc);
      }
  }

  static constexpr std::ptrdiff_t kDirectTaps = 64;
  static constexpr std::ptrdiff_t kDirectBBytes = 512 * 1024;

  // Row pointers of taps [t0, t0 + count) for the pixels m0 .. m0 + rows - 1 (the padding row outside the input and
  // for rows past `rows`). Neighbouring pixels of one output row whose tap is inside for all of them are one
  // stride apart.
  static void direct_rows(const ConvGeometry& g, std::ptrdiff_t m0, int rows, std::ptrdiff_t t0, std::ptrdiff_t count,
                          const AElem* (&at)[kDirectTaps][kMr]) noexcept {
    const std::ptrdiff_t pixels = g.out_h * g.out_w;
    const auto* pad = reinterpret_cast<const AElem*>(g.padding_row);
    ref::Im2colPixel pixel[kMr];
    pixel[0] = ref::im2col_pixel(g, m0);
    for (int r = 1; r < rows; ++r) pixel[r] = ref::im2col_next(g, pixel[r - 1]);
    const bool one_row = m0 % g.out_w + rows <= g.out_w && m0 % pixels + rows <= pixels;
    const std::ptrdiff_t step = g.stride_w * g.pixel_stride;
    for (std::ptrdiff_t t = 0; t < count; ++t) {
      const std::ptrdiff_t kh = (t0 + t) / g.kernel_w, kw = (t0 + t) % g.kernel_w;
      const std::ptrdiff_t ih = pixel[0].ih0 + kh * g.dilation_h, iw = pixel[0].iw0 + kw * g.dilation_w;
      const std::ptrdiff_t iw_last = iw + (rows - 1) * g.stride_w;
      if (one_row && ih >= 0 && ih < g.in_h && iw >= 0 && iw_last < g.in_w) {
        const auto* first = reinterpret_cast<const AElem*>(pixel[0].image + (ih * g.in_w + iw) * g.pixel_stride);
        for (int r = 0; r < kMr; ++r) at[t][r] = r < rows ? first + r * step : pad;
        continue;
      }
      for (int r = 0; r < kMr; ++r)
        at[t][r] = r < rows ? reinterpret_cast<const AElem*>(ref::im2col_tap(g, pixel[r], kh, kw)) : pad;
    }
  }

  template <gemm_output Out>
  static void direct_tile(const GemmProblem& p, const AElem* const (&at)[kDirectTaps][kMr], std::ptrdiff_t taps,
                          std::ptrdiff_t groups, std::ptrdiff_t m0, int rows, std::ptrdiff_t n0) noexcept {
    I acc[kMr][kNv];
    for (int r = 0; r < kMr; ++r)
      for (int v = 0; v < kNv; ++v) acc[r][v] = I(0);
    const RowsTileFn tile_fn = rows_tile(rows, std::make_integer_sequence<int, kMr>{});
    tile_fn(at, taps, b_panel(p, n0), groups, acc);
    epilogue<Out>(p, m0, n0, rows, acc);
  }

  static void conv_direct(const GemmProblem& p, const ConvGeometry& g, std::ptrdiff_t m_begin, std::ptrdiff_t m_end,
                          std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept {
    switch (p.output) {
      case gemm_output::int32: return conv_direct_for<gemm_output::int32>(p, g, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_s8: return conv_direct_for<gemm_output::requantize_s8>(p, g, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_u8: return conv_direct_for<gemm_output::requantize_u8>(p, g, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_fixed_s8:
        return conv_direct_for<gemm_output::requantize_fixed_s8>(p, g, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_fixed_u8:
        return conv_direct_for<gemm_output::requantize_fixed_u8>(p, g, m_begin, m_end, n_begin, n_end);
      case gemm_output::dequantize_f32:
        return conv_direct_for<gemm_output::dequantize_f32>(p, g, m_begin, m_end, n_begin, n_end);
    }
  }

  // Block tiles: the first row panel over a K slice brings the slice into L1 (with prefetching: it streams from
  // L2, L3 or memory), the others find it there.
  using TileFn = void (*)(const AElem*, const BElem*, std::ptrdiff_t, std::ptrdiff_t, I (&)[1][kMr][kNv]) noexcept;
  template <int... R>
  static TileFn block_tile(int rows, bool prefetch, std::integer_sequence<int, R...>) noexcept {
    static constexpr TileFn cached[] = {&tile<R + 1, 1, false>...};
    static constexpr TileFn streaming[] = {&tile<R + 1, 1, true>...};
    return prefetch ? streaming[rows - 1] : cached[rows - 1];
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

  // The zero-point correction of one row: C = acc - za * (colsum - K zb) - zb * rowsum(A), the first term read
  // precomputed (b_col_offsets) when every row has the same za.
  QMATH_ALWAYS_INLINE static void correct(const GemmProblem& p, std::ptrdiff_t m, std::ptrdiff_t n0, const I (&acc)[kNv],
                                          I (&c)[kNv]) noexcept {
    for (int v = 0; v < kNv; ++v) {
      const std::ptrdiff_t n = n0 + v * kL;
      c[v] = p.b_col_offsets ? acc[v] - I::load_aligned(p.b_col_offsets + n)
                             : acc[v] - I(p.a_zero_points[m]) * I::load_aligned(p.b_col_terms + n);
      if (!p.b_zero_points_zero) c[v] = c[v] - I::load_aligned(p.b_zero_points + n) * I(p.a_row_sums[m]);
    }
  }

  // Calls write(out, c, r) for each valid row r of a tile: c the row's corrected sums, out its first element in C.
  template <class T, class Write>
  static void for_each_row(const GemmProblem& p, std::ptrdiff_t m0, std::ptrdiff_t n0, int rows,
                           const I (&acc)[kMr][kNv], const Write& write) noexcept {
    for (int r = 0; r < rows; ++r) {
      I c[kNv];
      correct(p, m0 + r, n0, acc[r], c);
      write(static_cast<T*>(p.c) + (m0 + r) * p.ldc + n0, c, r);
    }
  }

  // Writes the valid rows and columns of one tile through the output stage Out. Column parameters are read once
  // per tile; partial batches go through a stack buffer so nothing past C's row is written.
  template <gemm_output Out>
  QMATH_ALWAYS_INLINE static void epilogue(const GemmProblem& p, std::ptrdiff_t m0, std::ptrdiff_t n0, int rows,
                                           const I (&acc)[kMr][kNv]) noexcept {
    const int valid_cols = static_cast<int>(ref::min_of<std::ptrdiff_t>(kNr, p.n - n0));
    int count[kNv];
    for (int v = 0; v < kNv; ++v) count[v] = ref::max_of(0, ref::min_of(kL, valid_cols - v * kL));
    if constexpr (Out == gemm_output::int32) {
      for_each_row<std::int32_t>(p, m0, n0, rows, acc, [&](std::int32_t* out, const I (&c)[kNv], int) QMATH_ALWAYS_INLINE {
        for (int v = 0; v < kNv; ++v)
          if (count[v] > 0) store_lanes(out + v * kL, c[v], count[v]);
      });
    } else if constexpr (Out == gemm_output::requantize_s8 || Out == gemm_output::requantize_u8) {
      using Q = std::conditional_t<Out == gemm_output::requantize_s8, std::int8_t, std::uint8_t>;
      const I zo(p.out_zero_point);
      const F lo = xsimd::to_float(I(p.out_min) - zo), hi = xsimd::to_float(I(p.out_max) - zo);
      I bias[kNv];
      F multiplier[kNv];
      for (int v = 0; v < kNv; ++v) {
        bias[v] = I::load_aligned(p.bias_i32 + n0 + v * kL);
        multiplier[v] = F::load_aligned(p.multiplier + n0 + v * kL);
      }
      for_each_row<Q>(p, m0, n0, rows, acc, [&](Q* out, const I (&c)[kNv], int) QMATH_ALWAYS_INLINE {
        for (int v = 0; v < kNv; ++v) {
          if (count[v] <= 0) continue;
          const I q = QuantizeVectors<Arch>::template codes<scale_op::multiply_reciprocal, rounding::half_even>(
              xsimd::to_float(c[v] + bias[v]), multiplier[v], lo, hi, zo);
          store_bytes(out + v * kL, q, count[v]);
        }
      });
    } else if constexpr (Out == gemm_output::requantize_fixed_s8 || Out == gemm_output::requantize_fixed_u8) {
      using Q = std::conditional_t<Out == gemm_output::requantize_fixed_s8, std::int8_t, std::uint8_t>;
      for_each_row<Q>(p, m0, n0, rows, acc, [&](Q* out, const I (&c)[kNv], int) QMATH_ALWAYS_INLINE {
        for (int v = 0; v < kNv; ++v) {
          if (count[v] <= 0) continue;
          const std::ptrdiff_t n = n0 + v * kL;
          const I v_biased = c[v] + I::load_aligned(p.bias_i32 + n);
          if (p.fixed_left_shift) {
            // Multipliers above 1 (a positive shift) need a saturating left shift first: the scalar stage (its
            // own <Arch> copy), per element. Requantization multipliers are below 1 in practice.
            alignas(64) std::int32_t values[kL];
            v_biased.store_aligned(values);
            for (int j = 0; j < count[v]; ++j)
              out[v * kL + j] = static_cast<Q>(ref::requantize_fixed<Arch>(values[j], p.fixed_multiplier[n + j],
                                                                           p.fixed_shift[n + j], p.out_zero_point,
                                                                           p.out_min, p.out_max));
            continue;
          }
          const I q = fixed_point_codes(v_biased, I::load_aligned(p.fixed_multiplier + n),
                                        I(0) - I::load_aligned(p.fixed_shift + n), p);
          store_bytes(out + v * kL, q, count[v]);
        }
      });
    } else {
      F b_scale[kNv], bias[kNv];
      for (int v = 0; v < kNv; ++v) {
        b_scale[v] = F::load_aligned(p.b_scale + n0 + v * kL);
        bias[v] = F::load_aligned(p.bias_f32 + n0 + v * kL);
      }
      for_each_row<float>(p, m0, n0, rows, acc, [&](float* out, const I (&c)[kNv], int r) QMATH_ALWAYS_INLINE {
        const F a_scale(p.a_scale[m0 + r]);
        for (int v = 0; v < kNv; ++v)
          if (count[v] > 0)
            store_lanes(out + v * kL, fused_multiply_add(xsimd::to_float(c[v]), a_scale * b_scale[v], bias[v]),
                        count[v]);
      });
    }
  }

  static const AElem* a_panel(const GemmProblem& p, std::ptrdiff_t m0) noexcept {
    return reinterpret_cast<const AElem*>(static_cast<const unsigned char*>(p.a_packed) + (m0 / kMr) * p.a_panel_bytes);
  }
  static const BElem* b_panel(const GemmProblem& p, std::ptrdiff_t n0) noexcept {
    return reinterpret_cast<const BElem*>(static_cast<const unsigned char*>(p.b_packed) + (n0 / kNr) * p.b_panel_bytes);
  }

  // Few rows: every tile covers W column panels and all of K, B streams once with prefetching.
  template <gemm_output Out, int R>
  static void compute_wide(const GemmProblem& p, std::ptrdiff_t m0, std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept {
    constexpr int W = wide_panels<R>();
    const std::ptrdiff_t b_stride = p.b_panel_bytes / static_cast<std::ptrdiff_t>(sizeof(BElem));
    const AElem* a = a_panel(p, m0);
    std::ptrdiff_t n0 = n_begin;
    for (; n0 + (W - 1) * kNr < n_end; n0 += W * kNr) wide_step<Out, R, W>(p, a, m0, n0, b_stride);
    for (; n0 < n_end; n0 += kNr) wide_step<Out, R, 1>(p, a, m0, n0, b_stride);
  }

  template <gemm_output Out, int R, int W>
  static void wide_step(const GemmProblem& p, const AElem* a, std::ptrdiff_t m0, std::ptrdiff_t n0,
                        std::ptrdiff_t b_stride) noexcept {
    I acc[W][kMr][kNv];
    for (int w = 0; w < W; ++w)
      for (int m = 0; m < kMr; ++m)
        for (int v = 0; v < kNv; ++v) acc[w][m][v] = I(0);
    tile<R, W, true>(a, b_panel(p, n0), b_stride, p.k_groups, acc);
    for (int w = 0; w < W; ++w) epilogue<Out>(p, m0, n0 + w * kNr, R, acc[w]);
  }

  template <gemm_output Out, int... R>
  static void dispatch_wide(int rows, const GemmProblem& p, std::ptrdiff_t m0, std::ptrdiff_t n_begin,
                            std::ptrdiff_t n_end, std::integer_sequence<int, R...>) noexcept {
    using Fn = void (*)(const GemmProblem&, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t) noexcept;
    static constexpr Fn table[] = {&compute_wide<Out, R + 1>...};
    table[rows - 1](p, m0, n_begin, n_end);
  }

  static void compute(const GemmProblem& p, std::ptrdiff_t m_begin, std::ptrdiff_t m_end, std::ptrdiff_t n_begin,
                      std::ptrdiff_t n_end) noexcept {
    switch (p.output) {
      case gemm_output::int32: return compute_for<gemm_output::int32>(p, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_s8: return compute_for<gemm_output::requantize_s8>(p, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_u8: return compute_for<gemm_output::requantize_u8>(p, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_fixed_s8:
        return compute_for<gemm_output::requantize_fixed_s8>(p, m_begin, m_end, n_begin, n_end);
      case gemm_output::requantize_fixed_u8:
        return compute_for<gemm_output::requantize_fixed_u8>(p, m_begin, m_end, n_begin, n_end);
      case gemm_output::dequantize_f32:
        return compute_for<gemm_output::dequantize_f32>(p, m_begin, m_end, n_begin, n_end);
    }
  }

  template <gemm_output Out>
  static void compute_for(const GemmProblem& p, std::ptrdiff_t m_begin, std::ptrdiff_t m_end, std::ptrdiff_t n_begin,
                          std::ptrdiff_t n_end) noexcept {
    m_end = ref::min_of(m_end, p.m);
    n_end = ref::min_of(n_end, p.n);
    if (m_begin >= m_end || n_begin >= n_end) return;
    if (m_end - m_begin <= ref::min_of(kWideRows, kMr - 1)) {
      dispatch_wide<Out>(static_cast<int>(m_end - m_begin), p, m_begin, n_begin, n_end,
                    std::make_integer_sequence<int, ref::min_of(kWideRows, kMr - 1)>{});
      return;
    }
    const std::ptrdiff_t groups = p.k_groups;
    const std::ptrdiff_t slices = (groups + kSliceGroups - 1) / kSliceGroups;
    const std::ptrdiff_t slice = (groups + slices - 1) / slices;
    std::ptrdiff_t block_rows = ref::max_of<std::ptrdiff_t>(1, kABlockBytes / (groups * kGroupABytes)) * kMr;
    if (slices > 1) block_rows = ref::min_of(block_rows, kPartialRows);
    alignas(64) std::int32_t partial[kPartialRows * kNr];
    for (std::ptrdiff_t mb = m_begin; mb < m_end; mb += block_rows) {
      const std::ptrdiff_t mb_end = ref::min_of(m_end, mb + block_rows);
      for (std::ptrdiff_t n0 = n_begin; n0 < n_end; n0 += kNr) {
        const BElem* b = b_panel(p, n0);
        for (std::ptrdiff_t s = 0; s < slices; ++s) {
          const std::ptrdiff_t g0 = s * slice, count = ref::min_of(slice, groups - g0);
          const bool first = s == 0, last = s == slices - 1;
          for (std::ptrdiff_t m0 = mb; m0 < mb_end; m0 += kMr) {
            const int rows = static_cast<int>(ref::min_of<std::ptrdiff_t>(kMr, m_end - m0));
            // One slice keeps no partial sums (and block_rows may then pass kPartialRows): no pointer past the array.
            std::int32_t* part = partial + (slices > 1 ? (m0 - mb) * kNr : 0);
            I acc[1][kMr][kNv];
            // Only the tile's real rows carry sums (tile<rows> reads and writes no others).
            for (int m = 0; m < rows; ++m)
              for (int v = 0; v < kNv; ++v)
                acc[0][m][v] = first ? I(0) : I::load_aligned(part + (m * kNv + v) * kL);
            block_tile(rows, m0 == mb, std::make_integer_sequence<int, kMr>{})(a_panel(p, m0) + g0 * kMr * kKr,
                                                                     b + g0 * kNr * kKr, 0, count, acc);
            if (last) {
              epilogue<Out>(p, m0, n0, rows, acc[0]);
            } else {
              for (int m = 0; m < rows; ++m)
                for (int v = 0; v < kNv; ++v) acc[0][m][v].store_aligned(part + (m * kNv + v) * kL);
            }
          }
        }
      }
    }
  }
};

}  // namespace detail

namespace detail {
/// The A packer's policy on Arch (see ref::ScalarPackPolicy): fp32 rows to uint8 codes with xsimd, and the x86
/// four-row word transposition.
template <class Arch>
struct SimdPackPolicy {
  template <int Bytes, bool Signed>
  static std::ptrdiff_t pack_quad(const unsigned char* const (&src)[4], std::ptrdiff_t groups, std::ptrdiff_t mr,
                                  unsigned flip, unsigned char* dst, std::uint32_t (&sums)[4]) noexcept {
#if QMATH_ARCH_X86_64
    return x86::pack_a_quad<Arch, Bytes, Signed>(src, groups, mr, flip, dst, sums);
#else
    return ref::ScalarPackPolicy::pack_quad<Bytes, Signed>(src, groups, mr, flip, dst, sums);
#endif
  }

  static void quantize(const float* x, std::ptrdiff_t count, float factor, std::int32_t zero_point,
                       std::uint8_t* codes) noexcept {
    using V = QuantizeVectors<Arch>;
    using F = typename V::F;
    using I = typename V::I;
    constexpr std::ptrdiff_t W = static_cast<std::ptrdiff_t>(V::kWidth);
    const F f(factor);
    const I z(zero_point);
    const F lo = xsimd::to_float(I(0) - z), hi = xsimd::to_float(I(255) - z);
    std::ptrdiff_t i = 0;
    for (; i + W <= count; i += W)
      V::template store_codes<std::uint8_t>(
          codes + i, V::template codes<scale_op::multiply_reciprocal, rounding::half_even>(F::load_unaligned(x + i), f, lo, hi, z));
    if (i < count) {
      alignas(64) float rest[W] = {};
      alignas(64) std::uint8_t out[W];
      std::memcpy(rest, x + i, static_cast<std::size_t>(count - i) * sizeof(float));
      V::template store_codes<std::uint8_t>(
          out, V::template codes<scale_op::multiply_reciprocal, rounding::half_even>(F::load_aligned(rest), f, lo, hi, z));
      std::memcpy(codes + i, out, static_cast<std::size_t>(count - i));
    }
  }
};
}  // namespace detail

/// The A packer entry of Arch.
template <class Arch>
void gemm_pack_a(const GemmLayout& l, const GemmASource& src, std::ptrdiff_t m, std::ptrdiff_t k,
                 std::ptrdiff_t k_groups, std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end, unsigned char* out,
                 std::ptrdiff_t panel_bytes, std::int32_t* row_sums) noexcept {
  ref::pack_a<Arch, detail::SimdPackPolicy<Arch>>(l, src, m, k, k_groups, panel_begin, panel_end, out, panel_bytes,
                                                    row_sums);
}

/// The range of n floats on Arch (GemmRangeFn): the reference's comparisons on whole batches, so NaN is skipped
/// the same way and the result is the same; the tail is padded with copies of its first value.
template <class Arch>
void gemm_range_f32(const float* x, std::ptrdiff_t n, float* lo, float* hi) noexcept {
  using F = xsimd::batch<float, Arch>;
  constexpr std::ptrdiff_t W = static_cast<std::ptrdiff_t>(F::size);
  F mins[4] = {F(*lo), F(*lo), F(*lo), F(*lo)}, maxs[4] = {F(*hi), F(*hi), F(*hi), F(*hi)};
  auto update = [](F v, F& mn, F& mx) {
    mn = xsimd::select(v < mn, v, mn);
    mx = xsimd::select(v > mx, v, mx);
  };
  std::ptrdiff_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W)
    for (int j = 0; j < 4; ++j) update(F::load_unaligned(x + i + j * W), mins[j], maxs[j]);
  for (; i + W <= n; i += W) update(F::load_unaligned(x + i), mins[0], maxs[0]);
  if (i < n) {
    alignas(64) float rest[W];
    for (std::ptrdiff_t j = 0; j < W; ++j) rest[j] = x[i];
    std::memcpy(rest, x + i, static_cast<std::size_t>(n - i) * sizeof(float));
    update(F::load_aligned(rest), mins[0], maxs[0]);
  }
  alignas(64) float lanes_min[4 * W], lanes_max[4 * W];
  for (int j = 0; j < 4; ++j) {
    mins[j].store_aligned(lanes_min + j * W);
    maxs[j].store_aligned(lanes_max + j * W);
  }
  for (std::ptrdiff_t j = 0; j < 4 * W; ++j) {
    *lo = lanes_min[j] < *lo ? lanes_min[j] : *lo;
    *hi = lanes_max[j] > *hi ? lanes_max[j] : *hi;
  }
}

/// The kernel table entry of Arch (requires has_gemm_body<Arch>).
template <class Arch>
void gemm_compute(const GemmProblem& p, std::ptrdiff_t m_begin, std::ptrdiff_t m_end, std::ptrdiff_t n_begin,
                  std::ptrdiff_t n_end) noexcept {
  detail::GemmBody<Arch>::compute(p, m_begin, m_end, n_begin, n_end);
}

template <class Arch>
void gemm_conv_direct(const GemmProblem& p, const ConvGeometry& g, std::ptrdiff_t m_begin, std::ptrdiff_t m_end,
                      std::ptrdiff_t n_begin, std::ptrdiff_t n_end) noexcept {
  detail::GemmBody<Arch>::conv_direct(p, g, m_begin, m_end, n_begin, n_end);
}


template <class Arch>
constexpr GemmKernels make_gemm_kernels(isa path) noexcept {
  using Body = detail::GemmBody<Arch>;
  GemmLayout layout = GemmDot<Arch>::layout;
  layout.k_slice_groups = static_cast<int>(Body::kSliceGroups);
  layout.partial_rows = static_cast<int>(Body::kPartialRows);
  // The direct convolution reads stored A values in place: paths that store one input type's bytes unchanged.
  const bool direct = layout.a_bytes == 1 && (layout.a_offset_u8 == 0 || layout.a_offset_s8 == 0);
  return GemmKernels{path, layout, &gemm_compute<Arch>, &gemm_pack_a<Arch>, &gemm_range_f32<Arch>,
                     direct ? &gemm_conv_direct<Arch> : nullptr};
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
