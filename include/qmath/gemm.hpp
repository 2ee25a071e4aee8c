// SPDX-License-Identifier: Apache-2.0
// gemm.hpp: the int8 GEMM's API: pack int8 weights once, then multiply uint8 / int8 activations (or fp32
// activations quantized on the way) by them, with an output stage in the epilogue (API layer: checks every
// argument and throws qmath::error before anything is written; docs/gemm.md has the design).
//
//   C[m][n] = sum_{k < K} (A[m][k] - za[m]) * (B[k][n] - zb[n])
//
// A: M x K, uint8 or int8, row-major with leading dimension lda >= K; za: one zero point, or one per row (dynamic
//    per-token quantization), each within A's type. Or fp32 rows with a scale and zero point per tensor or per row
//    (GemmAF32), quantized to uint8 with PyTorch numerics while A is packed: bit for bit what quantize<uint8_t>
//    followed by the uint8 GEMM computes, with one pass over the fp32 input instead of two.
// B: K x N weights, int8 (or uint8, stored internally as B - 128 with zb - 128), packed once by pack_gemm_b from
//    either K x N row-major (gemm_b_order::k_by_n) or N x K row-major (gemm_b_order::n_by_k: a Linear layer's
//    [out_features, in_features] weight); zb: one zero point, or one per output column.
// Output stages (kernels/ref/gemm_u8s8.hpp has the exact formulas): GemmOutputInt32, GemmOutputRequantize<Q>
//    (float multiplier), GemmOutputRequantizeFixed<Q> (gemmlowp / TFLite Q31 multiplier and shift) for Q = int8_t or
//    uint8_t with output zero point and clamp (ReLU: min = zero point; ReLU6: max = code of 6.0), and
//    GemmOutputDequantize (fp32 with scales and bias, for dynamic quantization).
// Exactness: every path (scalar, AVX2, AVX-512BW, AVX-512 VNNI, AVX-VNNI, NEON, NEON dotprod) returns the same bits.
//    C is exact in int32 when K * da * db <= INT32_MAX, da = max |a - za|, db = max |b - zb| over the values the
//    types allow; gemm() throws when K exceeds that bound (gemm_max_k). With zero points at the ends of the
//    ranges it is 33025 (da = db = 255); symmetric weights (zb = 0) with uint8 activations allow 65793.
// Threads: GemmOptions::threads (0: OpenMP's omp_get_max_threads() when the including code is compiled with
//    OpenMP, else 1) on GemmOptions::pool (an Eigen::ThreadPoolInterface), OpenMP, or qmath's own persistent pool
//    (core/parallel.hpp). Each element of C is computed by one thread in the same order, so the result never depends
//    on the thread count; when fewer threads can be had than asked for (a busy pool, a system that refuses to
//    create more), the calling thread does the rest of the work and the result is the same.
#pragma once

#include "qmath/core/config.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "qmath/core/aligned_buffer.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/core/error.hpp"
#include "qmath/eigen.hpp"
#include "qmath/core/parallel.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/ref/pack.hpp"

QMATH_BEGIN_NAMESPACE

/// How the unpacked weights are laid out in memory.
enum class gemm_b_order {
  k_by_n,  ///< B[k][n] = b[k * ldb + n], ldb >= N
  n_by_k,  ///< B[k][n] = b[n * ldb + k], ldb >= K (a Linear layer's weight W[out][in])
};

namespace detail {

constexpr std::ptrdiff_t round_up(std::ptrdiff_t value, std::ptrdiff_t multiple) noexcept {
  return (value + multiple - 1) / multiple * multiple;
}

/// Largest K for which C is exact in int32: floor(INT32_MAX / (da * db)).
constexpr std::int64_t gemm_max_k_for(std::int64_t da, std::int64_t db) noexcept {
  return da * db == 0 ? std::numeric_limits<std::int32_t>::max()
                      : std::numeric_limits<std::int32_t>::max() / (da * db);
}

template <class T>
constexpr std::int64_t max_distance(std::int32_t zero_point) noexcept {
  return std::max<std::int64_t>(std::int64_t{zero_point} - int_traits<T>::kMin, std::int64_t{int_traits<T>::kMax} - zero_point);
}

/// a * b for sizes computed from caller values; throws qmath::error when it leaves the ptrdiff_t range (a, b >= 0).
inline std::ptrdiff_t checked_mul(std::ptrdiff_t a, std::ptrdiff_t b, const char* fn, const char* what) {
  if (a != 0 && b > std::numeric_limits<std::ptrdiff_t>::max() / a) fail(fn, std::string(what) + " overflows the address space");
  return a * b;
}
inline std::ptrdiff_t checked_add(std::ptrdiff_t a, std::ptrdiff_t b, const char* fn, const char* what) {
  if (b > std::numeric_limits<std::ptrdiff_t>::max() - a) fail(fn, std::string(what) + " overflows the address space");
  return a + b;
}
/// round_up for caller-derived sizes, checked.
inline std::ptrdiff_t checked_round_up(std::ptrdiff_t value, std::ptrdiff_t multiple, const char* fn, const char* what) {
  return checked_add(value, multiple - 1, fn, what) / multiple * multiple;
}

/// The index of the last element a row-major rows x cols operand with leading dimension ld reaches, plus one;
/// throws when that is not addressable.
inline void check_extent(std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t ld, std::size_t element_size,
                         const char* fn, const char* what) {
  if (rows == 0 || cols == 0) return;
  const std::ptrdiff_t last = checked_add(checked_mul(rows - 1, ld, fn, what), cols, fn, what);
  checked_mul(last, static_cast<std::ptrdiff_t>(element_size), fn, what);
}

/// Weight zero points: 1 entry or `n` (what `dim` names), each within TB's range.
template <class TB>
void check_weight_zero_points(const std::int32_t* zero_points, std::size_t count, std::ptrdiff_t n, const char* fn,
                              const char* dim) {
  if (zero_points == nullptr || (count != 1 && count != static_cast<std::size_t>(n)))
    fail(fn, std::string("zero points: need 1 or ") + dim + " = " + std::to_string(n) + " entries, got " +
                 std::to_string(zero_points == nullptr ? 0 : count));
  for (std::size_t i = 0; i < count; ++i)
    if (zero_points[i] < int_traits<TB>::kMin || zero_points[i] > int_traits<TB>::kMax)
      fail(fn, "zero point " + std::to_string(zero_points[i]) + " (entry " + std::to_string(i) +
                   ") is outside the weight type's range");
}

}  // namespace detail

class PackedGemmB;
template <class TB>
PackedGemmB pack_gemm_b(const TB* b, std::ptrdiff_t k, std::ptrdiff_t n, std::ptrdiff_t ldb, gemm_b_order order,
                        const std::int32_t* zero_points, std::size_t zero_point_count, isa path = isa::none);

/// int8 weights packed for one ISA path's kernels, with the column sums and zero points the zero-point correction
/// needs. Immutable after packing; may be shared by concurrent gemm() calls.
class PackedGemmB {
 public:
  PackedGemmB() = default;

  std::ptrdiff_t k() const noexcept { return k_; }
  std::ptrdiff_t n() const noexcept { return n_; }
  /// The kernel path the layout is for; gemm() runs that path.
  isa path() const noexcept { return kernels_ ? kernels_->path : isa::none; }
  bool empty() const noexcept { return kernels_ == nullptr; }
  /// max |b - zb| over every int8 value and column: the weights' part of the K bound.
  std::int64_t max_b_distance() const noexcept { return max_b_distance_; }
  /// The zero points as given (int8 domain for int8 B, uint8 domain for uint8 B), one or N entries.
  const std::vector<std::int32_t>& zero_points() const noexcept { return given_zero_points_; }
  /// Bytes held (panels, column sums, zero points).
  std::size_t bytes() const noexcept { return data_.size() + 4 * (col_terms_.size() + zero_points_.size()); }

  const kernels::GemmKernels& kernels() const noexcept { return *kernels_; }
  const unsigned char* packed_data() const noexcept { return data_.data(); }
  std::ptrdiff_t panel_bytes() const noexcept { return panel_bytes_; }
  std::ptrdiff_t k_groups() const noexcept { return k_groups_; }
  const std::int32_t* col_terms() const noexcept { return col_terms_.data(); }
  const std::int32_t* stored_zero_points() const noexcept { return zero_points_.data(); }
  bool zero_points_zero() const noexcept { return zero_points_zero_; }

 private:
  template <class TB>
  friend PackedGemmB pack_gemm_b(const TB*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, gemm_b_order,
                                 const std::int32_t*, std::size_t, isa);

  const kernels::GemmKernels* kernels_ = nullptr;
  std::ptrdiff_t k_ = 0, n_ = 0, k_groups_ = 0, panel_bytes_ = 0;
  AlignedBuffer<unsigned char> data_;
  AlignedBuffer<std::int32_t> col_terms_, zero_points_;
  std::vector<std::int32_t> given_zero_points_;
  bool zero_points_zero_ = true;
  std::int64_t max_b_distance_ = 0;
};

/// The GEMM path pack_gemm_b picks by default: the best one compiled in, run by this CPU, and allowed by
/// QMATH_ISA / ScopedIsaOverride.
inline isa active_gemm_isa() noexcept { return kernels::active_gemm_kernels().path; }

namespace detail {
/// The path weights are packed for (isa::none: active_gemm_isa()); throws when it is not compiled in (every GEMM
/// path has the depthwise family too) or this CPU cannot run it.
inline isa resolve_gemm_path(isa path, const char* fn) {
  if (path == isa::none) path = active_gemm_isa();
  if (kernels::gemm_kernels(path) == nullptr || kernels::depthwise_kernels(path) == nullptr)
    fail(fn, std::string("ISA path '") + isa_name(path) + "' is not compiled in");
  if (!has(supported_isas(), path)) fail(fn, std::string("this CPU cannot run ISA path '") + isa_name(path) + "'");
  return path;
}
}  // namespace detail

/// Packs K x N weights B (int8_t, or uint8_t) for `path` (isa::none: active_gemm_isa()), with zb: 1 entry or N,
/// each within TB's range. Throws qmath::error on bad sizes, strides, zero points, sizes beyond the address
/// space, or a path that is not compiled in or not supported by this CPU.
template <class TB>
PackedGemmB pack_gemm_b(const TB* b, std::ptrdiff_t k, std::ptrdiff_t n, std::ptrdiff_t ldb, gemm_b_order order,
                        const std::int32_t* zero_points, std::size_t zero_point_count, isa path) {
  static_assert(std::is_same<TB, std::int8_t>::value || std::is_same<TB, std::uint8_t>::value,
                "pack_gemm_b: weights are int8_t or uint8_t");
  constexpr const char* fn = "qmath::pack_gemm_b";
  if (k < 1 || n < 1)
    detail::fail(fn, "K and N must be >= 1 (got K = " + std::to_string(k) + ", N = " + std::to_string(n) + ")");
  if (b == nullptr) detail::fail(fn, "null weights");
  const bool k_by_n = order == gemm_b_order::k_by_n;
  if (ldb < (k_by_n ? n : k))
    detail::fail(fn, "ldb = " + std::to_string(ldb) + " is below " + (k_by_n ? "N = " : "K = ") +
                         std::to_string(k_by_n ? n : k));
  detail::check_extent(k_by_n ? k : n, k_by_n ? n : k, ldb, 1, fn, "the weights' extent");
  detail::check_weight_zero_points<TB>(zero_points, zero_point_count, n, fn, "N");
  path = detail::resolve_gemm_path(path, fn);
  const kernels::GemmKernels* table = kernels::gemm_kernels(path);

  const kernels::GemmLayout& l = table->layout;
  PackedGemmB p;
  p.kernels_ = table;
  p.k_ = k;
  p.n_ = n;
  p.k_groups_ = detail::checked_round_up(k, l.kr, fn, "K") / l.kr;
  p.panel_bytes_ = detail::checked_mul(p.k_groups_, static_cast<std::ptrdiff_t>(l.nr * l.kr * l.b_bytes), fn, "a weight panel");
  const std::ptrdiff_t n_padded = detail::checked_round_up(n, l.nr, fn, "N");
  const std::ptrdiff_t total = detail::checked_mul(n_padded / l.nr, p.panel_bytes_, fn, "the packed weights");
  try {
    p.data_ = AlignedBuffer<unsigned char>(static_cast<std::size_t>(total));
    p.col_terms_ = AlignedBuffer<std::int32_t>(static_cast<std::size_t>(n_padded));
    p.zero_points_ = AlignedBuffer<std::int32_t>(static_cast<std::size_t>(n_padded));
  } catch (const std::bad_alloc&) {
    detail::fail(fn, "cannot allocate " + std::to_string(total) + " bytes for the packed weights");
  }
  p.given_zero_points_.assign(zero_points, zero_points + zero_point_count);
  constexpr std::int32_t shift = std::is_same<TB, std::uint8_t>::value ? -128 : 0;
  for (std::size_t i = 0; i < zero_point_count; ++i)
    p.max_b_distance_ = std::max(p.max_b_distance_, detail::max_distance<std::int8_t>(zero_points[i] + shift));
  p.zero_points_zero_ = kernels::ref::pack_b(l, b, k, n, k_by_n ? ldb : 1, k_by_n ? 1 : ldb, zero_points, zero_point_count,
                                             p.k_groups_, p.panel_bytes_, n_padded, p.data_.data(),
                                             p.col_terms_.data(), p.zero_points_.data());
  return p;
}

/// The activations: M rows of K (the packed weights' K) codes, row-major with leading dimension ld >= K.
template <class TA>
struct GemmA {
  const TA* data;
  std::ptrdiff_t m;
  std::ptrdiff_t ld;
  const std::int32_t* zero_point;     ///< 1 entry, or M (one per row)
  std::size_t zero_point_count = 1;
};

/// fp32 activations quantized to uint8 while they are packed: q = clamp(round_half_even(x * (1 / scale)) + zp,
/// 0, 255), NaN -> zp (PyTorch numerics, the same bits as quantize<uint8_t> with these parameters), one scale and
/// zero point for the tensor or one per row. Then C is the uint8 GEMM of those codes with za = zp.
struct GemmAF32 {
  const float* data;
  std::ptrdiff_t m;
  std::ptrdiff_t ld;
  const float* scale;                 ///< finite, > 0, with a finite 1 / scale: 1 entry, or M
  const std::int32_t* zero_point;     ///< in [0, 255]: as many entries as scale
  std::size_t count = 1;
};

/// Raw int32 C.
struct GemmOutputInt32 {
  std::int32_t* c;
  std::ptrdiff_t ldc;
};

/// q = clamp(round_half_even(float(C + bias[n]) * multiplier[n]), min - zero_point, max - zero_point) + zero_point.
template <class Q>
struct GemmOutputRequantize {
  Q* c;
  std::ptrdiff_t ldc;
  const float* multiplier;             ///< finite and > 0: 1 entry, or N
  std::size_t multiplier_count = 1;
  std::int32_t zero_point = 0;         ///< within Q
  const std::int32_t* bias = nullptr;  ///< N entries, or nullptr
  std::int32_t min = static_cast<std::int32_t>(int_traits<Q>::kMin), max = static_cast<std::int32_t>(int_traits<Q>::kMax);  ///< the clamp, min <= max within Q
};

/// q = clamp(MultiplyByQuantizedMultiplier(C + bias[n], multiplier[n], shift[n]) + zero_point, min, max).
template <class Q>
struct GemmOutputRequantizeFixed {
  Q* c;
  std::ptrdiff_t ldc;
  const std::int32_t* multiplier;      ///< Q31 in [0, 2^31): 1 entry, or N (quantize_multiplier)
  const std::int32_t* shift;           ///< in [-31, 30]: as many entries as multiplier
  std::size_t multiplier_count = 1;
  std::int32_t zero_point = 0;
  const std::int32_t* bias = nullptr;
  std::int32_t min = static_cast<std::int32_t>(int_traits<Q>::kMin), max = static_cast<std::int32_t>(int_traits<Q>::kMax);
};

/// y = fma(float(C), a_scale[m] * b_scale[n], bias[n]).
struct GemmOutputDequantize {
  float* c;
  std::ptrdiff_t ldc;
  const float* a_scale;                ///< finite: 1 entry, or M
  std::size_t a_scale_count;
  const float* b_scale;                ///< finite: 1 entry, or N
  std::size_t b_scale_count;
  const float* bias = nullptr;         ///< N entries, or nullptr
};

struct GemmOptions {
  int threads = 0;  ///< 0: omp_get_max_threads() under OpenMP, else 1; negative throws
  Eigen::ThreadPoolInterface* pool = nullptr;  ///< run on these threads instead of OpenMP / qmath's own pool
};

/// The largest K gemm() accepts for these zero points (see the top of this file).
template <class TA>
std::int64_t gemm_max_k(const std::int32_t* a_zero_points, std::size_t count, const PackedGemmB& b) noexcept {
  std::int64_t da = 0;
  for (std::size_t i = 0; i < count; ++i) da = std::max(da, detail::max_distance<TA>(a_zero_points[i]));
  return detail::gemm_max_k_for(da, b.max_b_distance());
}

namespace detail {

/// Splits [0, count) into `parts` contiguous ranges; returns range `index`.
inline void split_range(std::ptrdiff_t count, int parts, int index, std::ptrdiff_t& begin, std::ptrdiff_t& end) noexcept {
  const std::ptrdiff_t base = count / parts, extra = count % parts;
  begin = index * base + std::min<std::ptrdiff_t>(index, extra);
  end = begin + base + (index < extra ? 1 : 0);
}

/// Per-thread scratch of gemm(): grows to the largest call and is kept (no allocation per call in steady state).
inline AlignedBuffer<unsigned char>& gemm_scratch() {
  thread_local AlignedBuffer<unsigned char> scratch;
  return scratch;
}

/// Copies `count` (1 or n) values into n_padded slots (a single value is repeated); the padding gets `fill`.
template <class T>
void expand(T* dst, const T* src, std::size_t count, std::ptrdiff_t n, std::ptrdiff_t n_padded, T fill) noexcept {
  for (std::ptrdiff_t i = 0; i < n_padded; ++i) dst[i] = i < n ? (src ? src[count == 1 ? 0 : i] : fill) : fill;
}

template <class Q>
constexpr kernels::gemm_output requantize_kind(bool fixed) noexcept {
  return std::is_same<Q, std::int8_t>::value
             ? (fixed ? kernels::gemm_output::requantize_fixed_s8 : kernels::gemm_output::requantize_s8)
             : (fixed ? kernels::gemm_output::requantize_fixed_u8 : kernels::gemm_output::requantize_u8);
}

/// Per-call scratch for the output stage's parameters, expanded to n_padded entries (a_scale: m_padded).
struct ColumnArrays {
  std::int32_t* bias_i32;
  float* bias_f32;
  float* multiplier;
  std::int32_t* fixed_multiplier;
  std::int32_t* fixed_shift;
  float* b_scale;
  float* a_scale;  // per row, m_padded entries
};

inline void check_count(const void* values, std::size_t count, std::ptrdiff_t n, const char* fn, const char* what,
                        const char* dim) {
  if (values == nullptr || (count != 1 && count != static_cast<std::size_t>(n)))
    fail(fn, std::string(what) + ": need 1 or " + dim + " = " + std::to_string(n) + " entries, got " +
                 std::to_string(values == nullptr ? 0 : count));
}

// check_output validates one output stage (no allocation when it passes); fill_output expands its parameters
// into the scratch and fills the output part of the problem. Every stage has C and ldc:
template <class T>
void check_c(const T* c, std::ptrdiff_t ldc, std::ptrdiff_t m, std::ptrdiff_t n, const char* fn) {
  if (c == nullptr) fail(fn, "null C");
  if (ldc < n) fail(fn, "ldc = " + std::to_string(ldc) + " is below N = " + std::to_string(n));
  check_extent(m, n, ldc, sizeof(T), fn, "C's extent");
}

// ... and both requantize stages an output zero point and a clamp.
template <class Q, class Output>
void check_requantize_common(const Output& o, std::ptrdiff_t m, std::ptrdiff_t n, const char* fn) {
  static_assert(std::is_same<Q, std::int8_t>::value || std::is_same<Q, std::uint8_t>::value, "int8_t or uint8_t C");
  check_c(o.c, o.ldc, m, n, fn);
  if (o.zero_point < int_traits<Q>::kMin || o.zero_point > int_traits<Q>::kMax)
    fail(fn, "output zero point " + std::to_string(o.zero_point) + " is outside the output type's range");
  if (!(o.min >= int_traits<Q>::kMin && o.max <= int_traits<Q>::kMax && o.min <= o.max))
    fail(fn, "output clamp [" + std::to_string(o.min) + ", " + std::to_string(o.max) + "] is not an interval of the output type");
}

template <class Output>
void fill_requantize_common(const Output& o, std::ptrdiff_t n, std::ptrdiff_t n_padded, kernels::gemm_output kind,
                            kernels::GemmProblem& p, const ColumnArrays& cols) noexcept {
  p.output = kind;
  p.c = o.c;
  p.ldc = o.ldc;
  expand<std::int32_t>(cols.bias_i32, o.bias, static_cast<std::size_t>(n), n, n_padded, 0);
  p.bias_i32 = cols.bias_i32;
  p.out_zero_point = o.zero_point;
  p.out_min = o.min;
  p.out_max = o.max;
}

// fn names the caller in the messages (qmath::gemm, qmath::conv2d).
inline void check_output(const GemmOutputInt32& o, std::ptrdiff_t m, std::ptrdiff_t n, const char* fn = "qmath::gemm") {
  check_c(o.c, o.ldc, m, n, fn);
}
inline void fill_output(const GemmOutputInt32& o, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t,
                        kernels::GemmProblem& p, const ColumnArrays&) noexcept {
  p.output = kernels::gemm_output::int32;
  p.c = o.c;
  p.ldc = o.ldc;
}

template <class Q>
void check_output(const GemmOutputRequantize<Q>& o, std::ptrdiff_t m, std::ptrdiff_t n, const char* fn = "qmath::gemm") {
  check_requantize_common<Q>(o, m, n, fn);
  check_count(o.multiplier, o.multiplier_count, n, fn, "multiplier", "N");
  for (std::size_t i = 0; i < o.multiplier_count; ++i)
    if (!(std::isfinite(o.multiplier[i]) && o.multiplier[i] > 0.0f))
      fail(fn, "multiplier entry " + std::to_string(i) + " is not finite and > 0");
}
template <class Q>
void fill_output(const GemmOutputRequantize<Q>& o, std::ptrdiff_t, std::ptrdiff_t n, std::ptrdiff_t,
                 std::ptrdiff_t n_padded, kernels::GemmProblem& p, const ColumnArrays& cols) noexcept {
  fill_requantize_common(o, n, n_padded, requantize_kind<Q>(false), p, cols);
  expand<float>(cols.multiplier, o.multiplier, o.multiplier_count, n, n_padded, 1.0f);
  p.multiplier = cols.multiplier;
}

template <class Q>
void check_output(const GemmOutputRequantizeFixed<Q>& o, std::ptrdiff_t m, std::ptrdiff_t n, const char* fn = "qmath::gemm") {
  check_requantize_common<Q>(o, m, n, fn);
  check_count(o.shift == nullptr ? nullptr : o.multiplier, o.multiplier_count, n, fn, "fixed-point multiplier and shift", "N");
  for (std::size_t i = 0; i < o.multiplier_count; ++i) {
    if (o.multiplier[i] < 0) fail(fn, "fixed-point multiplier entry " + std::to_string(i) + " is negative");
    if (o.shift[i] < -31 || o.shift[i] > 30)
      fail(fn, "shift entry " + std::to_string(i) + " = " + std::to_string(o.shift[i]) + " is outside [-31, 30]");
  }
}
template <class Q>
void fill_output(const GemmOutputRequantizeFixed<Q>& o, std::ptrdiff_t, std::ptrdiff_t n, std::ptrdiff_t,
                 std::ptrdiff_t n_padded, kernels::GemmProblem& p, const ColumnArrays& cols) noexcept {
  fill_requantize_common(o, n, n_padded, requantize_kind<Q>(true), p, cols);
  p.fixed_left_shift = false;
  for (std::size_t i = 0; i < o.multiplier_count; ++i) p.fixed_left_shift = p.fixed_left_shift || o.shift[i] > 0;
  expand<std::int32_t>(cols.fixed_multiplier, o.multiplier, o.multiplier_count, n, n_padded, 0);
  expand<std::int32_t>(cols.fixed_shift, o.shift, o.multiplier_count, n, n_padded, 0);
  p.fixed_multiplier = cols.fixed_multiplier;
  p.fixed_shift = cols.fixed_shift;
}

inline void check_output(const GemmOutputDequantize& o, std::ptrdiff_t m, std::ptrdiff_t n, const char* fn = "qmath::gemm") {
  check_c(o.c, o.ldc, m, n, fn);
  check_count(o.a_scale, o.a_scale_count, m, fn, "a_scale", "M");
  check_count(o.b_scale, o.b_scale_count, n, fn, "b_scale", "N");
  for (std::size_t i = 0; i < o.a_scale_count; ++i)
    if (!std::isfinite(o.a_scale[i])) fail(fn, "a_scale entry " + std::to_string(i) + " is not finite");
  for (std::size_t i = 0; i < o.b_scale_count; ++i)
    if (!std::isfinite(o.b_scale[i])) fail(fn, "b_scale entry " + std::to_string(i) + " is not finite");
}
inline void fill_output(const GemmOutputDequantize& o, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t m_padded,
                        std::ptrdiff_t n_padded, kernels::GemmProblem& p, const ColumnArrays& cols) noexcept {
  p.output = kernels::gemm_output::dequantize_f32;
  p.c = o.c;
  p.ldc = o.ldc;
  expand<float>(cols.a_scale, o.a_scale, o.a_scale_count, m, m_padded, 1.0f);
  expand<float>(cols.b_scale, o.b_scale, o.b_scale_count, n, n_padded, 1.0f);
  expand<float>(cols.bias_f32, o.bias, static_cast<std::size_t>(n), n, n_padded, 0.0f);
  p.a_scale = cols.a_scale;
  p.b_scale = cols.b_scale;
  p.bias_f32 = cols.bias_f32;
}

/// What gemm() needs of an activation operand, after its checks.
struct ResolvedA {
  kernels::GemmASource source;
  std::ptrdiff_t m;
  const std::int32_t* zero_point;   // the zero points of the codes A stands for, 1 or M entries
  std::size_t zero_point_count;
  std::int64_t max_distance;        // max |a - za| over the codes' type
  const float* scale;               // f32 sources: 1 or M entries, else null
};

inline void check_rows(const void* data, std::ptrdiff_t m, std::ptrdiff_t ld, std::ptrdiff_t k, std::size_t size) {
  constexpr const char* fn = "qmath::gemm";
  if (m < 0) fail(fn, "M must be >= 0 (got " + std::to_string(m) + ")");
  if (m > 0 && data == nullptr) fail(fn, "null A");
  if (ld < k) fail(fn, "lda = " + std::to_string(ld) + " is below K = " + std::to_string(k));
  check_extent(m, k, ld, size, fn, "A's extent");
}

template <class TA>
ResolvedA resolve_a(const GemmA<TA>& a, std::ptrdiff_t k) {
  constexpr const char* fn = "qmath::gemm";
  check_rows(a.data, a.m, a.ld, k, 1);
  if (a.zero_point == nullptr || !(a.zero_point_count == 1 || (a.m > 0 && a.zero_point_count == static_cast<std::size_t>(a.m))))
    fail(fn, "A zero points: need 1 or M = " + std::to_string(a.m) + " entries");
  std::int64_t da = 0;
  for (std::size_t i = 0; i < a.zero_point_count; ++i) {
    if (a.zero_point[i] < int_traits<TA>::kMin || a.zero_point[i] > int_traits<TA>::kMax)
      fail(fn, "A zero point " + std::to_string(a.zero_point[i]) + " is outside the activation type's range");
    da = std::max(da, max_distance<TA>(a.zero_point[i]));
  }
  kernels::GemmASource source{std::is_signed<TA>::value ? kernels::gemm_a_source::s8 : kernels::gemm_a_source::u8,
                              a.data, a.ld};
  return ResolvedA{source, a.m, a.zero_point, a.zero_point_count, da, nullptr};
}

inline ResolvedA resolve_a(const GemmAF32& a, std::ptrdiff_t k) {
  constexpr const char* fn = "qmath::gemm";
  check_rows(a.data, a.m, a.ld, k, sizeof(float));
  if (a.scale == nullptr || a.zero_point == nullptr ||
      !(a.count == 1 || (a.m > 0 && a.count == static_cast<std::size_t>(a.m))))
    fail(fn, "A scales and zero points: need 1 or M = " + std::to_string(a.m) + " entries of each");
  std::int64_t da = 0;
  for (std::size_t i = 0; i < a.count; ++i) {
    if (!(std::isfinite(a.scale[i]) && a.scale[i] > 0.0f && std::isfinite(1.0f / a.scale[i])))
      fail(fn, "A scale entry " + std::to_string(i) + " is not finite and > 0 with a finite reciprocal");
    if (a.zero_point[i] < 0 || a.zero_point[i] > 255)
      fail(fn, "A zero point " + std::to_string(a.zero_point[i]) + " is outside [0, 255]");
    da = std::max(da, max_distance<std::uint8_t>(a.zero_point[i]));
  }
  kernels::GemmASource source{kernels::gemm_a_source::f32, a.data, a.ld};
  source.zero_point = a.zero_point;
  source.per_row = a.count != 1;
  return ResolvedA{source, a.m, a.zero_point, a.count, da, a.scale};
}

/// A GEMM problem set up in the calling thread's scratch: everything but packed A (and, for sources that are not
/// packed, the row sums).
struct PreparedGemm {
  kernels::GemmProblem problem;
  unsigned char* a_packed;   // round_up(m, mr) / mr panels (null when not asked for)
  std::int32_t* row_sums;    // round_up(m, mr) entries
  std::ptrdiff_t m_panels, n_panels;
};

/// Checks the output stage and the K bound, then lays out the scratch and fills the problem (output stage, zero
/// points, column terms). pack_a: reserve room for packed A. Throws qmath::error; writes nothing the caller sees.
template <class Output>
PreparedGemm prepare_gemm(ResolvedA& a, const PackedGemmB& b, const Output& out, bool pack_a, const char* fn) {
  const std::ptrdiff_t m = a.m, n = b.n(), k = b.k();
  check_output(out, m, n, fn);
  const std::int64_t max_k = gemm_max_k_for(a.max_distance, b.max_b_distance());
  if (k > max_k)
    fail(fn, "K = " + std::to_string(k) + " exceeds " + std::to_string(max_k) +
                 ", the largest K whose sums are exact in int32 for these zero points");

  const kernels::GemmKernels& kern = b.kernels();
  const kernels::GemmLayout& l = kern.layout;
  const std::ptrdiff_t m_padded = checked_round_up(m, l.mr, fn, "M");
  const std::ptrdiff_t n_padded = round_up(n, l.nr);  // bounded by the packed weights
  const std::ptrdiff_t a_panel_bytes = b.k_groups() * l.mr * l.kr * l.a_bytes;

  // Scratch: packed A, then per-row and per-column arrays, each 64-byte aligned.
  auto bytes_of = [fn](std::ptrdiff_t count, std::size_t size) {
    return checked_round_up(checked_mul(count, static_cast<std::ptrdiff_t>(size), fn, "the scratch"), 64, fn, "the scratch");
  };
  const std::ptrdiff_t a_bytes =
      pack_a ? bytes_of(checked_mul(m_padded / l.mr, a_panel_bytes, fn, "the packed activations"), 1) : 0;
  const std::ptrdiff_t row_bytes = bytes_of(m_padded, 4), col_bytes = bytes_of(n_padded, 4);
  const std::ptrdiff_t total = checked_add(a_bytes, checked_add(checked_mul(4, row_bytes, fn, "the scratch"), 7 * col_bytes, fn, "the scratch"), fn, "the scratch");
  AlignedBuffer<unsigned char>& scratch = gemm_scratch();
  try {
    scratch.reserve_uninitialized(static_cast<std::size_t>(total));
  } catch (const std::bad_alloc&) {
    fail(fn, "cannot allocate " + std::to_string(total) + " bytes of scratch");
  }
  unsigned char* cursor = scratch.data();
  auto take = [&cursor](std::ptrdiff_t size) {
    unsigned char* at = cursor;
    cursor += size;
    return at;
  };
  PreparedGemm g{};
  g.a_packed = pack_a ? take(a_bytes) : nullptr;
  g.row_sums = reinterpret_cast<std::int32_t*>(take(row_bytes));
  auto* row_zero_points = reinterpret_cast<std::int32_t*>(take(row_bytes));
  auto* row_factors = reinterpret_cast<float*>(take(row_bytes));
  ColumnArrays cols{};
  cols.a_scale = reinterpret_cast<float*>(take(row_bytes));
  cols.bias_i32 = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.bias_f32 = reinterpret_cast<float*>(cols.bias_i32);  // one bias per stage: the two never coexist
  cols.multiplier = reinterpret_cast<float*>(take(col_bytes));
  cols.fixed_multiplier = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.fixed_shift = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.b_scale = reinterpret_cast<float*>(take(col_bytes));
  auto* col_offsets = reinterpret_cast<std::int32_t*>(take(col_bytes));

  kernels::GemmProblem& p = g.problem;
  fill_output(out, m, n, m_padded, n_padded, p, cols);

  const std::int32_t offset = kernels::a_source_signed(a.source.kind) ? l.a_offset_s8 : l.a_offset_u8;
  for (std::ptrdiff_t row = 0; row < m_padded; ++row)
    row_zero_points[row] = row < m ? a.zero_point[a.zero_point_count == 1 ? 0 : row] + offset : 0;
  if (a.scale != nullptr) {
    // PyTorch's convention multiplies by 1 / scale, rounded to float once.
    for (std::size_t i = 0; i < a.zero_point_count; ++i) row_factors[i] = 1.0f / a.scale[i];
    a.source.factor = row_factors;
  }

  p.m = m;
  p.n = n;
  p.k = k;
  p.k_groups = b.k_groups();
  p.a_packed = g.a_packed;
  p.a_panel_bytes = a_panel_bytes;
  p.a_row_sums = g.row_sums;
  p.a_zero_points = row_zero_points;
  p.b_packed = b.packed_data();
  p.b_panel_bytes = b.panel_bytes();
  p.b_col_terms = b.col_terms();
  p.b_zero_points = b.stored_zero_points();
  p.b_zero_points_zero = b.zero_points_zero();
  if (a.zero_point_count == 1) {
    for (std::ptrdiff_t col = 0; col < n_padded; ++col)
      col_offsets[col] = kernels::ref::wrapping_mul(row_zero_points[0], b.col_terms()[col]);
    p.b_col_offsets = col_offsets;
  }
  g.m_panels = m_padded / l.mr;
  g.n_panels = n_padded / l.nr;
  return g;
}

/// How many threads a problem of m x n x k multiply-adds gets: small problems are not worth waking other threads.
inline int gemm_workers(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, std::ptrdiff_t parts,
                        const GemmOptions& options) noexcept {
  const bool tiny = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < 1.0e6;
  return tiny ? 1 : static_cast<int>(std::min<std::ptrdiff_t>(default_threads(options.threads), parts));
}

template <class Output>
void run_gemm(ResolvedA a, const PackedGemmB& b, const Output& out, const GemmOptions& options,
              const char* fn = "qmath::gemm") {
  PreparedGemm g = prepare_gemm(a, b, out, true, fn);
  const std::ptrdiff_t m = a.m, n = b.n(), k = b.k();
  if (m == 0) return;
  const kernels::GemmKernels& kern = b.kernels();
  const kernels::GemmLayout& l = kern.layout;
  const kernels::GemmProblem& p = g.problem;
  const std::ptrdiff_t m_panels = g.m_panels, n_panels = g.n_panels;
  const int workers = gemm_workers(m, n, k, std::max(m_panels, n_panels), options);
  const kernels::GemmASource source = a.source;
  unsigned char* a_packed = g.a_packed;
  std::int32_t* row_sums = g.row_sums;
  const std::ptrdiff_t a_panel_bytes = p.a_panel_bytes;
  if (m >= n && m_panels >= workers) {
    // Rows: each worker packs and multiplies its own row panels by all of B (read-only, in each core's cache):
    // one parallel region, no wait between packing and computing. Chosen when A is the larger operand.
    parallel_for(workers, [&](int w) noexcept {
      std::ptrdiff_t begin = 0, end = 0;
      split_range(m_panels, workers, w, begin, end);
      kern.pack_a(l, source, m, k, p.k_groups, begin, end, a_packed, a_panel_bytes, row_sums);
      kern.compute(p, begin * l.mr, end * l.mr, 0, n_panels * l.nr);
    }, options.pool);
    return;
  }
  // Columns: A is packed once by all workers, then each worker owns a range of column panels (its own B) over
  // every row: B, the larger operand, is read once.
  parallel_for(workers, [&](int w) noexcept {
    std::ptrdiff_t begin = 0, end = 0;
    split_range(m_panels, workers, w, begin, end);
    kern.pack_a(l, source, m, k, p.k_groups, begin, end, a_packed, a_panel_bytes, row_sums);
  }, options.pool);
  parallel_for(workers, [&](int w) noexcept {
    std::ptrdiff_t begin = 0, end = 0;
    split_range(n_panels, workers, w, begin, end);
    kern.compute(p, 0, m_panels * l.mr, begin * l.nr, end * l.nr);
  }, options.pool);
}

inline void check_common(const PackedGemmB& b, const GemmOptions& options) {
  constexpr const char* fn = "qmath::gemm";
  if (b.empty()) fail(fn, "the weights are not packed");
  if (options.threads < 0) fail(fn, "threads = " + std::to_string(options.threads) + " is negative");
  if (!has(supported_isas(), b.path()))
    fail(fn, std::string("this CPU cannot run ISA path '") + isa_name(b.path()) + "' the weights were packed for");
}

}  // namespace detail

/// C = (A - za) (B - zb) with the output stage `out` (GemmOutputInt32, GemmOutputRequantize<Q>,
/// GemmOutputRequantizeFixed<Q> or GemmOutputDequantize). TA is uint8_t or int8_t. Runs the path B was packed for.
/// Throws qmath::error (before writing anything) on bad sizes, strides, parameter counts or values, zero points
/// outside A's type, K beyond gemm_max_k, sizes beyond the address space, or a packed path this CPU cannot run.
/// A, B and C must not overlap.
template <class TA, class Output>
void gemm(const GemmA<TA>& a, const PackedGemmB& b, const Output& out, const GemmOptions& options = {}) {
  static_assert(std::is_same<TA, std::uint8_t>::value || std::is_same<TA, std::int8_t>::value,
                "qmath::gemm: activations are uint8_t or int8_t");
  detail::check_common(b, options);
  detail::run_gemm(detail::resolve_a(a, b.k()), b, out, options);
}

/// The same with fp32 activations quantized to uint8 on the way (GemmAF32): bit for bit the uint8 GEMM of
/// quantize<uint8_t>(a) with za = a.zero_point. A NaN input becomes its zero point, +-Inf saturates.
template <class Output>
void gemm(const GemmAF32& a, const PackedGemmB& b, const Output& out, const GemmOptions& options = {}) {
  detail::check_common(b, options);
  detail::run_gemm(detail::resolve_a(a, b.k()), b, out, options);
}

// ---- Eigen forms (eigen.hpp) ----------------------------------------------------------------------------------

/// Activations from a row-major Eigen matrix / Map / Ref / Block of uint8_t or int8_t (M = rows, K = cols, lda =
/// outer stride). A column-major matrix does not compile (it would be read transposed).
template <class Derived>
GemmA<std::remove_const_t<typename Derived::Scalar>> gemm_a(const Eigen::DenseBase<Derived>& a,
                                                             const std::int32_t* zero_point, std::size_t count = 1) {
  const auto v = row_major_view(a, "qmath::gemm_a");
  return {v.data, v.rows, v.ld, zero_point, count};
}

/// Packs weights held in an Eigen matrix of int8_t / uint8_t: `order` says what the matrix is logically (n_by_k: N x
/// K, a Linear's [out, in]; k_by_n: K x N). Either storage order is read correctly: a column-major matrix is packed as
/// the transposed layout of its memory. @throws qmath::error for an inner stride other than 1, and as the raw form.
template <class Derived>
PackedGemmB pack_gemm_b(const Eigen::DenseBase<Derived>& w, gemm_b_order order, const std::int32_t* zero_points,
                        std::size_t zero_point_count, isa path = isa::none) {
  using TB = std::remove_const_t<typename Derived::Scalar>;
  const auto& d = w.derived();
  detail::require(d.size() == 0 || d.innerStride() == 1, "qmath::pack_gemm_b", "the weights must have inner stride 1");
  const std::ptrdiff_t rows = d.rows(), cols = d.cols();
  const std::ptrdiff_t n = order == gemm_b_order::n_by_k ? rows : cols, k = order == gemm_b_order::n_by_k ? cols : rows;
  const bool row_major = Derived::IsRowMajor || rows == 1 || cols == 1;
  const std::ptrdiff_t ld = row_major ? (Derived::IsRowMajor ? static_cast<std::ptrdiff_t>(d.outerStride()) : cols)
                                      : static_cast<std::ptrdiff_t>(d.outerStride());
  const gemm_b_order memory_order =
      row_major ? order : (order == gemm_b_order::n_by_k ? gemm_b_order::k_by_n : gemm_b_order::n_by_k);
  return pack_gemm_b<TB>(d.data(), k, n, ld, memory_order, zero_points, zero_point_count, path);
}

QMATH_END_NAMESPACE  // qmath
