// SPDX-License-Identifier: Apache-2.0
// kernels/ref/pack.hpp: the int8 GEMM's packed panels of A and B with their row and column sums, written once for
// every path (kernels layer; noexcept, no allocation). The layout rules are in kernels/gemm_table.hpp (GemmLayout).
//
// Every function is a template on a Tag (the arch of the translation unit that instantiates it, or void for the
// scalar table) for the ODR reason of ref/fixed_point.hpp: an ISA translation unit gets its own copy, compiled
// with its own flags, that no other unit can be linked to.
//
// A comes from a source (GemmASource): uint8 or int8 codes, or fp32 rows that the packer quantizes to uint8 on the
// way (PyTorch numerics). Each source packs bit for bit what "quantize, then pack the codes" packs.
#pragma once

#include "qmath/core/config.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/kernels/ref/quantize.hpp"

QMATH_BEGIN_NAMESPACE
namespace kernels {
namespace ref {

/// Stores values [k0, k0 + count) of one row (k0 a multiple of Kr; count too, unless the row ends there) into its
/// slot of a panel of mr rows ([k / Kr][mr][Kr] elements), as value + offset, zero-filling the last group past the
/// row's end. Returns the sum of the values (without the offset), modulo 2^32.
template <class Tag, int Kr, int Bytes, class TA>
std::uint32_t pack_a_span(const TA* src, std::ptrdiff_t k0, std::ptrdiff_t count, int mr, int offset,
                          unsigned char* slot) noexcept {
  using Stored = std::conditional_t<Bytes == 2, std::int16_t, std::uint8_t>;
  Stored* dst = reinterpret_cast<Stored*>(slot) + (k0 / Kr) * mr * Kr;
  std::uint32_t sum = 0;
  for (std::ptrdiff_t i = 0; i < count; ++i) sum += static_cast<std::uint32_t>(static_cast<std::int32_t>(src[i]));
  const std::ptrdiff_t full = count / Kr;
  if constexpr (Bytes == 1 && Kr == 4) {
    // One 32-bit word per group; +-128 on a byte is a flip of its top bit, in either direction.
    const std::uint32_t flip = offset != 0 ? 0x80808080u : 0u;
    for (std::ptrdiff_t g = 0; g < full; ++g) {
      std::uint32_t word;
      std::memcpy(&word, src + g * 4, 4);
      word ^= flip;
      std::memcpy(dst + g * mr * 4, &word, 4);
    }
  } else {
    for (std::ptrdiff_t g = 0; g < full; ++g)
      for (int i = 0; i < Kr; ++i)
        dst[g * mr * Kr + i] = static_cast<Stored>(static_cast<std::int32_t>(src[g * Kr + i]) + offset);
  }
  if (full * Kr < count) {
    for (int i = 0; i < Kr; ++i) {
      const std::ptrdiff_t at = full * Kr + i;
      dst[full * mr * Kr + i] = at < count ? static_cast<Stored>(static_cast<std::int32_t>(src[at]) + offset) : Stored(0);
    }
  }
  return sum;
}

/// Zeros the slot of a row past M (every group).
template <class Tag, int Kr, int Bytes>
void pack_a_zero_row(std::ptrdiff_t k_groups, int mr, unsigned char* slot) noexcept {
  for (std::ptrdiff_t g = 0; g < k_groups; ++g) std::memset(slot + g * mr * Kr * Bytes, 0, static_cast<std::size_t>(Kr * Bytes));
}

/// The scalar policy of the A packer: how fp32 sources become uint8 codes (PyTorch numerics, as quantize<uint8_t>:
/// NaN -> the zero point), and no vector loop for four rows of codes (pack_quad packs nothing; see
/// x86/pack_a.hpp for one that does).
struct ScalarPackPolicy {
  template <int Bytes, bool Signed>
  static std::ptrdiff_t pack_quad(const unsigned char* const (&)[4], std::ptrdiff_t, std::ptrdiff_t, unsigned,
                                  unsigned char*, std::uint32_t (&)[4]) noexcept {
    return 0;
  }
  static void quantize(const float* x, std::ptrdiff_t count, float factor, std::int32_t zero_point,
                       std::uint8_t* codes) noexcept {
    constexpr Numerics kPytorch{scale_op::multiply_reciprocal, rounding::half_even};
    for (std::ptrdiff_t i = 0; i < count; ++i)
      codes[i] = static_cast<std::uint8_t>(quantize_value(x[i], factor, zero_point, 0, 255, kPytorch));
  }
};

/// fp32 sources are quantized this many values at a time into a buffer that stays in L1 (a multiple of four
/// groups for every kr).
inline constexpr std::ptrdiff_t kQuantizeChunk = 512;

/// Copies values [k0, k0 + count) of row `row` of a convolution's im2col matrix (see ConvGeometry) into `out`:
/// runs of the group's channels from one input pixel, or the padding code outside the input.
template <class Tag>
void im2col_gather(const ConvGeometry& g, std::ptrdiff_t row, std::ptrdiff_t k0, std::ptrdiff_t count,
                   unsigned char* out) noexcept {
  const std::ptrdiff_t pixels = g.out_h * g.out_w;
  const std::ptrdiff_t image = row / pixels, oh = row % pixels / g.out_w, ow = row % g.out_w;
  const std::ptrdiff_t h0 = oh * g.stride_h - g.pad_top, w0 = ow * g.stride_w - g.pad_left;
  const auto* input = static_cast<const unsigned char*>(g.input) + image * g.in_h * g.in_w * g.pixel_stride;
  const std::ptrdiff_t tap = k0 / g.channels;
  std::ptrdiff_t c = k0 % g.channels, kh = tap / g.kernel_w, kw = tap % g.kernel_w;
  // Whole pixels side by side (one group, no dilation along W): a kernel row inside the input is one run.
  const bool rows_contiguous = g.channels == g.pixel_stride && g.dilation_w == 1;
  const std::ptrdiff_t row_run = g.kernel_w * g.channels;
  for (; count > 0; ++kw) {
    if (kw == g.kernel_w) kw = 0, ++kh;
    const std::ptrdiff_t ih = h0 + kh * g.dilation_h, iw = w0 + kw * g.dilation_w;
    if (rows_contiguous && kw == 0 && c == 0 && count >= row_run && ih >= 0 && ih < g.in_h && iw >= 0 &&
        iw + g.kernel_w <= g.in_w) {
      std::memcpy(out, input + (ih * g.in_w + iw) * g.pixel_stride, static_cast<std::size_t>(row_run));
      out += row_run;
      count -= row_run;
      kw = g.kernel_w - 1;
      continue;
    }
    const std::ptrdiff_t run = min_of(g.channels - c, count);
    const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
    if (run >= 16) {
      if (inside)
        std::memcpy(out, input + (ih * g.in_w + iw) * g.pixel_stride + c, static_cast<std::size_t>(run));
      else
        std::memset(out, g.padding_code, static_cast<std::size_t>(run));
    } else {
      // Few channels (a stem's 3, a first layer's 1): a call per run would cost more than the copy.
      if (inside) {
        const unsigned char* from = input + (ih * g.in_w + iw) * g.pixel_stride + c;
        for (std::ptrdiff_t i = 0; i < run; ++i) out[i] = from[i];
      } else {
        for (std::ptrdiff_t i = 0; i < run; ++i) out[i] = g.padding_code;
      }
    }
    out += run;
    count -= run;
    c = 0;
  }
}

/// Codes of the sources the packer stages (fp32 quantized, im2col gathered) for values [k0, k0 + count) of a row.
template <class Tag, class Policy>
void stage_codes(const GemmASource& src, std::ptrdiff_t row, std::ptrdiff_t k0, std::ptrdiff_t count,
                 std::uint8_t* codes) noexcept {
  if (src.kind == gemm_a_source::f32) {
    const std::size_t s = src.per_row ? static_cast<std::size_t>(row) : 0;
    Policy::quantize(static_cast<const float*>(src.data) + row * src.ld + k0, count, src.factor[s], src.zero_point[s],
                     codes);
  } else {
    im2col_gather<Tag>(*src.conv, row, k0, count, codes);
  }
}

/// Packs one row of the source (all of K) into its slot; returns the sum of its values before the offset.
template <class Tag, int Kr, int Bytes, class Policy>
std::uint32_t pack_a_row(const GemmASource& src, std::ptrdiff_t row, std::ptrdiff_t k, int mr, int offset,
                         unsigned char* slot) noexcept {
  switch (src.kind) {
    case gemm_a_source::u8:
      return pack_a_span<Tag, Kr, Bytes>(static_cast<const std::uint8_t*>(src.data) + row * src.ld, 0, k, mr, offset, slot);
    case gemm_a_source::s8:
      return pack_a_span<Tag, Kr, Bytes>(static_cast<const std::int8_t*>(src.data) + row * src.ld, 0, k, mr, offset, slot);
    default:
      break;
  }
  alignas(64) std::uint8_t codes[kQuantizeChunk];
  const bool is_signed = a_source_signed(src.kind);
  std::uint32_t sum = 0;
  for (std::ptrdiff_t k0 = 0; k0 < k; k0 += kQuantizeChunk) {
    const std::ptrdiff_t count = min_of(kQuantizeChunk, k - k0);
    stage_codes<Tag, Policy>(src, row, k0, count, codes);
    sum += is_signed ? pack_a_span<Tag, Kr, Bytes>(reinterpret_cast<const std::int8_t*>(codes), k0, count, mr, offset, slot)
                     : pack_a_span<Tag, Kr, Bytes>(codes, k0, count, mr, offset, slot);
  }
  return sum;
}

/// Where one output pixel's taps start: its image's first code and the input row / column of its tap (0, 0).
struct Im2colPixel {
  const unsigned char* image;
  std::ptrdiff_t ih0, iw0, oh, ow;
};

inline Im2colPixel im2col_pixel(const ConvGeometry& g, std::ptrdiff_t row) noexcept {
  const std::ptrdiff_t pixels = g.out_h * g.out_w, rest = row % pixels, oh = rest / g.out_w, ow = rest % g.out_w;
  return {static_cast<const unsigned char*>(g.input) + (row / pixels) * g.in_h * g.in_w * g.pixel_stride,
          oh * g.stride_h - g.pad_top, ow * g.stride_w - g.pad_left, oh, ow};
}

/// The pixel after p in raster order (no division: the packer walks rows in order).
inline Im2colPixel im2col_next(const ConvGeometry& g, Im2colPixel p) noexcept {
  p.iw0 += g.stride_w;
  if (++p.ow < g.out_w) return p;
  p.ow = 0;
  p.iw0 = -g.pad_left;
  p.ih0 += g.stride_h;
  if (++p.oh < g.out_h) return p;
  p.oh = 0;
  p.ih0 = -g.pad_top;
  p.image += g.in_h * g.in_w * g.pixel_stride;
  return p;
}

/// The group's channels of tap (kh, kw) for that pixel, in place, or the padding row.
inline const unsigned char* im2col_tap(const ConvGeometry& g, const Im2colPixel& p, std::ptrdiff_t kh,
                                       std::ptrdiff_t kw) noexcept {
  const std::ptrdiff_t ih = p.ih0 + kh * g.dilation_h, iw = p.iw0 + kw * g.dilation_w;
  return ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w ? p.image + (ih * g.in_w + iw) * g.pixel_stride
                                                          : g.padding_row;
}

/// Four rows of an im2col source packed tap by tap from the input itself (each tap's channels are whole groups of
/// Kr, see ConvGeometry::padding_row). Returns false when the policy has no four-row loop.
template <class Tag, int Kr, int Bytes, class Policy>
bool pack_a_quad_taps(const GemmASource& src, std::ptrdiff_t first_row, int mr, int offset, unsigned flip,
                      unsigned char* slot, std::uint32_t (&sums)[4]) noexcept {
  const ConvGeometry& g = *src.conv;
  const bool is_signed = a_source_signed(src.kind);
  Im2colPixel pixel[4];
  pixel[0] = im2col_pixel(g, first_row);
  for (int i = 1; i < 4; ++i) pixel[i] = im2col_next(g, pixel[i - 1]);
  const std::ptrdiff_t groups = g.channels / Kr;
  std::ptrdiff_t k0 = 0;
  for (std::ptrdiff_t kh = 0; kh < g.kernel_h; ++kh)
    for (std::ptrdiff_t kw = 0; kw < g.kernel_w; ++kw, k0 += g.channels) {
      const unsigned char* rows[4];
      for (int i = 0; i < 4; ++i) rows[i] = im2col_tap(g, pixel[i], kh, kw);
      unsigned char* dst = slot + (k0 / Kr) * mr * Kr * Bytes;
      const std::ptrdiff_t done = is_signed ? Policy::template pack_quad<Bytes, true>(rows, groups, mr, flip, dst, sums)
                                            : Policy::template pack_quad<Bytes, false>(rows, groups, mr, flip, dst, sums);
      if (done == 0 && groups >= 4) return false;
      const std::ptrdiff_t at = done * Kr, rest = g.channels - at;
      if (rest == 0) continue;
      for (int i = 0; i < 4; ++i) {
        const std::uint32_t sum = is_signed
            ? pack_a_span<Tag, Kr, Bytes>(reinterpret_cast<const std::int8_t*>(rows[i]) + at, k0 + at, rest, mr, offset, slot + i * Kr * Bytes)
            : pack_a_span<Tag, Kr, Bytes>(rows[i] + at, k0 + at, rest, mr, offset, slot + i * Kr * Bytes);
        sums[i] += sum + static_cast<std::uint32_t>(offset) * static_cast<std::uint32_t>(rest);
      }
    }
  return true;
}

/// The rows of one panel that the policy's four-row loop packs (rows in fours, all below M), in chunks of K: the
/// whole row for codes, 512 values staged in an L1 buffer for fp32 (quantized) and im2col (gathered). What the loop leaves of a chunk (the
/// last groups) goes through pack_a_span. Returns how many rows were packed (0 when the policy has no loop).
template <class Tag, int Kr, int Bytes, class Policy>
std::ptrdiff_t pack_a_quads(const GemmLayout& l, const GemmASource& src, std::ptrdiff_t m, std::ptrdiff_t k,
                            std::ptrdiff_t panel, unsigned char* base, std::int32_t* row_sums) noexcept {
  const bool is_signed = a_source_signed(src.kind);
  const bool staged = src.kind != gemm_a_source::u8 && src.kind != gemm_a_source::s8;
  const int offset = is_signed ? l.a_offset_s8 : l.a_offset_u8;
  // The four-row loops store a + offset by flipping the top bit (bytes) or not at all (int16).
  if (Kr * Bytes != 4 || (Bytes == 1 ? (l.a_signed || (offset != 0 && offset != 128 && offset != -128)) : offset != 0))
    return 0;
  const std::ptrdiff_t mr = l.mr, chunk = staged ? kQuantizeChunk : k;
  // Taps of fewer than four groups gather faster through the buffer.
  const bool per_tap = src.conv != nullptr && src.conv->padding_row != nullptr && src.conv->channels % Kr == 0 &&
                       src.conv->channels / Kr >= 4;
  const unsigned flip = offset != 0 ? 0x80u : 0u;
  alignas(64) std::uint8_t codes[4][kQuantizeChunk];
  std::ptrdiff_t r = 0;
  for (; r + 4 <= mr && panel * mr + r + 4 <= m; r += 4) {
    const std::ptrdiff_t first_row = panel * mr + r;
    unsigned char* slot = base + r * Kr * Bytes;
    std::uint32_t sums[4] = {0, 0, 0, 0};  // stored values
    if (per_tap) {
      if (!pack_a_quad_taps<Tag, Kr, Bytes, Policy>(src, first_row, static_cast<int>(mr), offset, flip, slot, sums)) return r;
      for (int i = 0; i < 4; ++i) row_sums[first_row + i] = static_cast<std::int32_t>(sums[i]);
      continue;
    }
    for (std::ptrdiff_t k0 = 0; k0 < k; k0 += chunk) {
      const std::ptrdiff_t count = min_of(chunk, k - k0);
      const unsigned char* rows[4];
      for (int i = 0; i < 4; ++i) {
        if (staged) {
          stage_codes<Tag, Policy>(src, first_row + i, k0, count, codes[i]);
          rows[i] = codes[i];
        } else {
          rows[i] = static_cast<const unsigned char*>(src.data) + (first_row + i) * src.ld + k0;
        }
      }
      unsigned char* dst = slot + (k0 / Kr) * mr * Kr * Bytes;
      const std::ptrdiff_t done = is_signed
          ? Policy::template pack_quad<Bytes, true>(rows, count / Kr, mr, flip, dst, sums)
          : Policy::template pack_quad<Bytes, false>(rows, count / Kr, mr, flip, dst, sums);
      if (done == 0 && count / Kr >= 4) return r;  // no four-row loop: every row goes the scalar way
      const std::ptrdiff_t at = done * Kr, rest = count - at;
      if (rest == 0) continue;
      for (int i = 0; i < 4; ++i) {
        const std::uint32_t sum = is_signed
            ? pack_a_span<Tag, Kr, Bytes>(reinterpret_cast<const std::int8_t*>(rows[i]) + at, k0 + at, rest, static_cast<int>(mr), offset, slot + i * Kr * Bytes)
            : pack_a_span<Tag, Kr, Bytes>(rows[i] + at, k0 + at, rest, static_cast<int>(mr), offset, slot + i * Kr * Bytes);
        sums[i] += sum + static_cast<std::uint32_t>(offset) * static_cast<std::uint32_t>(rest);
      }
    }
    for (int i = 0; i < 4; ++i) row_sums[first_row + i] = static_cast<std::int32_t>(sums[i]);
  }
  return r;
}

/// Packs the row panels [panel_begin, panel_end) of the source's M x K matrix A for layout l, and the row sums of
/// the stored values (sum of a + offset over the K real values). Policy: see ScalarPackPolicy.
template <class Tag, int Kr, int Bytes, class Policy>
void pack_a_panels(const GemmLayout& l, const GemmASource& src, std::ptrdiff_t m, std::ptrdiff_t k,
                   std::ptrdiff_t k_groups, std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end, unsigned char* out,
                   std::ptrdiff_t panel_bytes, std::int32_t* row_sums) noexcept {
  const int offset = a_source_signed(src.kind) ? l.a_offset_s8 : l.a_offset_u8;
  const std::ptrdiff_t mr = l.mr;
  const std::ptrdiff_t row_slot_bytes = Kr * Bytes;
  for (std::ptrdiff_t panel = panel_begin; panel < panel_end; ++panel) {
    unsigned char* base = out + panel * panel_bytes;
    for (std::ptrdiff_t r = pack_a_quads<Tag, Kr, Bytes, Policy>(l, src, m, k, panel, base, row_sums); r < mr; ++r) {
      const std::ptrdiff_t row = panel * mr + r;
      unsigned char* slot = base + r * row_slot_bytes;
      if (row >= m) {
        pack_a_zero_row<Tag, Kr, Bytes>(k_groups, static_cast<int>(mr), slot);
        row_sums[row] = 0;
        continue;
      }
      const std::uint32_t sum = pack_a_row<Tag, Kr, Bytes, Policy>(src, row, k, static_cast<int>(mr), offset, slot);
      row_sums[row] = static_cast<std::int32_t>(sum + static_cast<std::uint32_t>(offset) * static_cast<std::uint32_t>(k));
    }
  }
}

/// Packs the source for layout l, choosing the element shape from it.
template <class Tag, class Policy>
void pack_a(const GemmLayout& l, const GemmASource& src, std::ptrdiff_t m, std::ptrdiff_t k, std::ptrdiff_t k_groups,
            std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end, unsigned char* out, std::ptrdiff_t panel_bytes,
            std::int32_t* row_sums) noexcept {
  if (l.kr == 4 && l.a_bytes == 1)
    pack_a_panels<Tag, 4, 1, Policy>(l, src, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
  else if (l.kr == 2 && l.a_bytes == 2)
    pack_a_panels<Tag, 2, 2, Policy>(l, src, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
  else
    pack_a_panels<Tag, 1, 2, Policy>(l, src, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
}

/// The range of n floats, NaN skipped (GemmRangeFn). Eight chains: one would wait on each comparison.
template <class Tag = void>
void range_f32(const float* x, std::ptrdiff_t n, float* lo, float* hi) noexcept {
  float mins[8], maxs[8];
  for (int j = 0; j < 8; ++j) {
    mins[j] = *lo;
    maxs[j] = *hi;
  }
  std::ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const float v = x[i + j];
      mins[j] = v < mins[j] ? v : mins[j];
      maxs[j] = v > maxs[j] ? v : maxs[j];
    }
  for (; i < n; ++i) {
    mins[0] = x[i] < mins[0] ? x[i] : mins[0];
    maxs[0] = x[i] > maxs[0] ? x[i] : maxs[0];
  }
  for (int j = 0; j < 8; ++j) {
    *lo = mins[j] < *lo ? mins[j] : *lo;
    *hi = maxs[j] > *hi ? maxs[j] : *hi;
  }
}

/// The scalar table's packer.
inline void gemm_pack_a_scalar(const GemmLayout& l, const GemmASource& src, std::ptrdiff_t m, std::ptrdiff_t k,
                               std::ptrdiff_t k_groups, std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end,
                               unsigned char* out, std::ptrdiff_t panel_bytes, std::int32_t* row_sums) noexcept {
  pack_a<void, ScalarPackPolicy>(l, src, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
}

/// Packs K x N weights (int8, or uint8 stored as b - 128 with zb - 128) into panels of nr columns
/// ([k / kr][nr][kr], zero padding past K and N), with col_terms[n] = colsum(stored B) - K * zb (mod 2^32) and the
/// stored zero points, for n < n_padded. B(k, n) = b[k * row_stride + n * col_stride]; zb has 1 or N entries.
/// Returns whether every stored zero point is 0.
template <class TB>
bool pack_b(const GemmLayout& l, const TB* b, std::ptrdiff_t k, std::ptrdiff_t n, std::ptrdiff_t row_stride,
            std::ptrdiff_t col_stride, const std::int32_t* zero_points, std::size_t zero_point_count,
            std::ptrdiff_t k_groups, std::ptrdiff_t panel_bytes, std::ptrdiff_t n_padded, unsigned char* out,
            std::int32_t* col_terms, std::int32_t* stored_zero_points) noexcept {
  constexpr std::int32_t shift = std::is_same<TB, std::uint8_t>::value ? -128 : 0;
  bool all_zero = true;
  for (std::ptrdiff_t col = 0; col < n_padded; ++col) {
    const bool real = col < n;
    const std::int32_t z = real ? zero_points[zero_point_count == 1 ? 0 : col] + shift : 0;
    stored_zero_points[col] = z;
    all_zero = all_zero && z == 0;
    std::uint32_t sum = 0;
    const std::ptrdiff_t panel = col / l.nr, j = col % l.nr;
    unsigned char* dst = out + panel * panel_bytes;
    for (std::ptrdiff_t kk = 0; kk < k_groups * l.kr; ++kk) {
      const std::int32_t value = (real && kk < k) ? static_cast<std::int32_t>(b[kk * row_stride + col * col_stride]) + shift : 0;
      sum += static_cast<std::uint32_t>(value);
      const std::ptrdiff_t at = ((kk / l.kr) * l.nr + j) * l.kr + kk % l.kr;
      if (l.b_bytes == 1) {
        dst[at] = static_cast<unsigned char>(static_cast<std::int8_t>(value));
      } else {
        const auto v16 = static_cast<std::int16_t>(value);
        std::memcpy(dst + at * 2, &v16, 2);
      }
    }
    col_terms[col] = static_cast<std::int32_t>(sum - static_cast<std::uint32_t>(k) * static_cast<std::uint32_t>(z));
  }
  return all_zero;
}

}  // namespace ref
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
