// SPDX-License-Identifier: Apache-2.0
// kernels/gemm.hpp: the int8 GEMM's API: pack int8 weights once, then multiply uint8 / int8 activations by them
// with an output stage in the epilogue (kernels layer, API part: checks arguments, throws qmath::error).
//
//   C[m][n] = sum_{k < K} (A[m][k] - za[m]) * (B[k][n] - zb[n])
//
// A: M x K, uint8 or int8, row-major with leading dimension lda >= K; za: one zero point, or one per row (dynamic
//    per-token quantization), each within A's type.
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
// Threads: GemmOptions::threads; 0 means OpenMP's omp_get_max_threads() when the including code is compiled with
//    OpenMP, else 1. Work is split over columns (or rows when there are few column panels); each element of C is
//    computed by one thread in the same order, so the result never depends on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/kernels/gemm_table.hpp"

QMATH_BEGIN_NAMESPACE

/// How the unpacked weights are laid out in memory.
enum class gemm_b_order {
  k_by_n,  ///< B[k][n] = b[k * ldb + n], ldb >= N
  n_by_k,  ///< B[k][n] = b[n * ldb + k], ldb >= K (a Linear layer's weight W[out][in])
};

namespace detail {

/// A byte buffer aligned to 64 bytes (cache line, and every vector load of the kernels).
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(std::size_t size) : storage_(size + 64) {
    auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    offset_ = static_cast<std::size_t>((64 - address % 64) % 64);
  }
  AlignedBytes(const AlignedBytes& other) : AlignedBytes(other.storage_.empty() ? 0 : other.storage_.size() - 64) {
    if (!other.storage_.empty()) std::memcpy(data(), other.data(), other.storage_.size() - 64);
  }
  AlignedBytes& operator=(const AlignedBytes& other) {
    if (this != &other) *this = AlignedBytes(other);
    return *this;
  }
  AlignedBytes(AlignedBytes&&) noexcept = default;
  AlignedBytes& operator=(AlignedBytes&&) noexcept = default;

  unsigned char* data() noexcept { return storage_.data() + offset_; }
  const unsigned char* data() const noexcept { return storage_.data() + offset_; }
  std::size_t size() const noexcept { return storage_.empty() ? 0 : storage_.size() - 64; }
  /// Grows (never shrinks) to at least `size` bytes; contents are not kept.
  void reserve_uninitialized(std::size_t size) {
    if (this->size() < size) *this = AlignedBytes(size);
  }

 private:
  std::vector<unsigned char> storage_;
  std::size_t offset_ = 0;
};

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

  const kernels::GemmKernels& kernels() const noexcept { return *kernels_; }
  const unsigned char* packed_data() const noexcept { return data_.data(); }
  std::ptrdiff_t panel_bytes() const noexcept { return panel_bytes_; }
  std::ptrdiff_t k_groups() const noexcept { return k_groups_; }
  const std::int32_t* col_terms() const noexcept { return reinterpret_cast<const std::int32_t*>(col_terms_.data()); }
  const std::int32_t* stored_zero_points() const noexcept {
    return reinterpret_cast<const std::int32_t*>(zero_points_.data());
  }
  bool zero_points_zero() const noexcept { return zero_points_zero_; }

 private:
  template <class TB>
  friend PackedGemmB pack_gemm_b(const TB*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, gemm_b_order,
                                 const std::int32_t*, std::size_t, isa);

  const kernels::GemmKernels* kernels_ = nullptr;
  std::ptrdiff_t k_ = 0, n_ = 0, k_groups_ = 0, panel_bytes_ = 0;
  detail::AlignedBytes data_, col_terms_, zero_points_;
  std::vector<std::int32_t> given_zero_points_;
  bool zero_points_zero_ = true;
  std::int64_t max_b_distance_ = 0;
};

/// The GEMM path pack_gemm_b picks by default: the best one compiled in, run by this CPU, and allowed by
/// QMATH_ISA / ScopedIsaOverride.
inline isa active_gemm_isa() noexcept { return kernels::active_gemm_kernels().path; }

/// Packs K x N weights B (int8_t, or uint8_t) for `path` (isa::none: active_gemm_isa()), with zb: 1 entry or N,
/// each within TB's range. Throws qmath::error on bad sizes, strides, zero points, or a path that is not
/// compiled in or not supported by this CPU.
template <class TB>
PackedGemmB pack_gemm_b(const TB* b, std::ptrdiff_t k, std::ptrdiff_t n, std::ptrdiff_t ldb, gemm_b_order order,
                        const std::int32_t* zero_points, std::size_t zero_point_count, isa path) {
  static_assert(std::is_same<TB, std::int8_t>::value || std::is_same<TB, std::uint8_t>::value,
                "pack_gemm_b: weights are int8_t or uint8_t");
  constexpr const char* fn = "qmath::pack_gemm_b";
  detail::require(k >= 1 && n >= 1, fn, "K and N must be >= 1 (got K = " + std::to_string(k) + ", N = " +
                                            std::to_string(n) + ")");
  detail::require(b != nullptr, fn, "null weights");
  const std::ptrdiff_t min_ld = order == gemm_b_order::k_by_n ? n : k;
  detail::require(ldb >= min_ld, fn, "ldb = " + std::to_string(ldb) + " is below " +
                                         (order == gemm_b_order::k_by_n ? std::string("N = ") : std::string("K = ")) +
                                         std::to_string(min_ld));
  detail::require(zero_points != nullptr && (zero_point_count == 1 || zero_point_count == static_cast<std::size_t>(n)),
                  fn, "zero points: need 1 or N = " + std::to_string(n) + " entries, got " +
                          std::to_string(zero_point_count));
  for (std::size_t i = 0; i < zero_point_count; ++i)
    if (zero_points[i] < int_traits<TB>::kMin || zero_points[i] > int_traits<TB>::kMax)
      detail::fail(fn, "zero point " + std::to_string(zero_points[i]) + " (entry " + std::to_string(i) +
                           ") is outside the weight type's range");
  if (path == isa::none) path = active_gemm_isa();
  const kernels::GemmKernels* table = kernels::gemm_kernels(path);
  detail::require(table != nullptr, fn, std::string("ISA path '") + isa_name(path) + "' is not compiled in");
  detail::require(has(supported_isas(), path), fn, std::string("this CPU cannot run ISA path '") + isa_name(path) + "'");

  const kernels::GemmLayout& l = table->layout;
  PackedGemmB p;
  p.kernels_ = table;
  p.k_ = k;
  p.n_ = n;
  p.k_groups_ = detail::round_up(k, l.kr) / l.kr;
  p.panel_bytes_ = p.k_groups_ * l.nr * l.kr * l.b_bytes;
  const std::ptrdiff_t panels = detail::round_up(n, l.nr) / l.nr;
  const std::ptrdiff_t n_padded = panels * l.nr;
  p.data_ = detail::AlignedBytes(static_cast<std::size_t>(panels * p.panel_bytes_));
  p.col_terms_ = detail::AlignedBytes(static_cast<std::size_t>(n_padded) * sizeof(std::int32_t));
  p.zero_points_ = detail::AlignedBytes(static_cast<std::size_t>(n_padded) * sizeof(std::int32_t));
  p.given_zero_points_.assign(zero_points, zero_points + zero_point_count);

  // uint8 weights become int8 by subtracting 128 from values and zero points alike.
  constexpr std::int32_t shift = std::is_same<TB, std::uint8_t>::value ? -128 : 0;
  auto* col_terms = reinterpret_cast<std::int32_t*>(p.col_terms_.data());
  auto* zb = reinterpret_cast<std::int32_t*>(p.zero_points_.data());
  const std::ptrdiff_t row_stride = order == gemm_b_order::k_by_n ? ldb : 1;
  const std::ptrdiff_t col_stride = order == gemm_b_order::k_by_n ? 1 : ldb;
  for (std::ptrdiff_t col = 0; col < n_padded; ++col) {
    const bool real = col < n;
    const std::int32_t z = real ? zero_points[zero_point_count == 1 ? 0 : col] + shift : 0;
    zb[col] = z;
    p.zero_points_zero_ = p.zero_points_zero_ && z == 0;
    if (real) p.max_b_distance_ = std::max(p.max_b_distance_, detail::max_distance<std::int8_t>(z));
    std::uint32_t sum = 0;
    const std::ptrdiff_t panel = col / l.nr, j = col % l.nr;
    unsigned char* out = p.data_.data() + panel * p.panel_bytes_;
    for (std::ptrdiff_t kk = 0; kk < p.k_groups_ * l.kr; ++kk) {
      const std::int32_t value =
          (real && kk < k) ? static_cast<std::int32_t>(b[kk * row_stride + col * col_stride]) + shift : 0;
      sum += static_cast<std::uint32_t>(value);
      const std::ptrdiff_t at = ((kk / l.kr) * l.nr + j) * l.kr + kk % l.kr;
      if (l.b_bytes == 1) {
        out[at] = static_cast<unsigned char>(static_cast<std::int8_t>(value));
      } else {
        const auto v16 = static_cast<std::int16_t>(value);
        std::memcpy(out + at * 2, &v16, 2);
      }
    }
    // colsum - K * zb, modulo 2^32.
    col_terms[col] = static_cast<std::int32_t>(sum - static_cast<std::uint32_t>(k) * static_cast<std::uint32_t>(z));
  }
  return p;
}

/// The activations: M rows of K (the packed weights' K) values, row-major with leading dimension ld >= K.
template <class TA>
struct GemmA {
  const TA* data;
  std::ptrdiff_t m;
  std::ptrdiff_t ld;
  const std::int32_t* zero_point;     ///< 1 entry, or M (one per row)
  std::size_t zero_point_count = 1;
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
};

/// The largest K gemm() accepts for these zero points (see the top of this file).
template <class TA>
std::int64_t gemm_max_k(const std::int32_t* a_zero_points, std::size_t count, const PackedGemmB& b) noexcept {
  std::int64_t da = 0;
  for (std::size_t i = 0; i < count; ++i) da = std::max(da, detail::max_distance<TA>(a_zero_points[i]));
  return detail::gemm_max_k_for(da, b.max_b_distance());
}

namespace detail {

inline int resolve_threads(int requested) noexcept {
  if (requested > 0) return requested;
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

/// Runs body(worker) for worker in [0, workers), on `workers` threads.
template <class Body>
void run_workers(int workers, const Body& body) {
  if (workers <= 1) {
    body(0);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel for num_threads(workers) schedule(static, 1)
  for (int w = 0; w < workers; ++w) body(w);
#else
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) pool.emplace_back([&body, w] { body(w); });
  body(0);
  for (std::thread& t : pool) t.join();
#endif
}

/// Splits [0, count) into `parts` contiguous ranges; returns range `index`.
inline void split_range(std::ptrdiff_t count, int parts, int index, std::ptrdiff_t& begin, std::ptrdiff_t& end) noexcept {
  const std::ptrdiff_t base = count / parts, extra = count % parts;
  begin = index * base + std::min<std::ptrdiff_t>(index, extra);
  end = begin + base + (index < extra ? 1 : 0);
}

struct GemmScratch {
  AlignedBytes bytes;
};
inline GemmScratch& gemm_scratch() {
  thread_local GemmScratch scratch;
  return scratch;
}

/// Packs the row panels [panel_begin, panel_end) of A into the layout (kr values of a row together, mr rows per
/// group; zeros past K and past M), storing a + offset, and the row sums of the stored values.
template <int Kr, int Bytes, class TA>
void pack_gemm_a_panels(const kernels::GemmLayout& l, const TA* a, std::ptrdiff_t lda, std::ptrdiff_t m,
                        std::ptrdiff_t k, std::ptrdiff_t k_groups, std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end,
                        unsigned char* out, std::ptrdiff_t panel_bytes, std::int32_t* row_sums) noexcept {
  using Stored = std::conditional_t<Bytes == 2, std::int16_t, std::uint8_t>;
  const std::int32_t offset = std::is_signed<TA>::value ? l.a_offset_s8 : l.a_offset_u8;
  const std::ptrdiff_t mr = l.mr, full_groups = k / Kr;
  for (std::ptrdiff_t panel = panel_begin; panel < panel_end; ++panel) {
    auto* dst = reinterpret_cast<Stored*>(out + panel * panel_bytes);
    for (std::ptrdiff_t r = 0; r < mr; ++r) {
      const std::ptrdiff_t row = panel * mr + r;
      Stored* d = dst + r * Kr;
      if (row >= m) {
        for (std::ptrdiff_t g = 0; g < k_groups; ++g)
          for (int i = 0; i < Kr; ++i) d[g * mr * Kr + i] = 0;
        row_sums[row] = 0;
        continue;
      }
      const TA* src = a + row * lda;
      std::int32_t sum = 0;
      for (std::ptrdiff_t i = 0; i < k; ++i) sum += src[i];
      // +-128 on a byte is a flip of its top bit, in either direction.
      for (std::ptrdiff_t g = 0; g < full_groups; ++g)
        for (int i = 0; i < Kr; ++i) {
          const TA v = src[g * Kr + i];
          d[g * mr * Kr + i] = Bytes == 2 ? static_cast<Stored>(v)
                                          : static_cast<Stored>(static_cast<std::uint8_t>(v) ^ (offset != 0 ? 0x80 : 0));
        }
      if (full_groups < k_groups)
        for (int i = 0; i < Kr; ++i) {
          const std::ptrdiff_t kk = full_groups * Kr + i;
          const std::int32_t v = kk < k ? static_cast<std::int32_t>(src[kk]) + offset : 0;
          d[full_groups * mr * Kr + i] = static_cast<Stored>(v);
        }
      row_sums[row] = static_cast<std::int32_t>(static_cast<std::uint32_t>(sum) +
                                                static_cast<std::uint32_t>(offset) * static_cast<std::uint32_t>(k));
    }
  }
}

template <class TA>
void pack_gemm_a(const kernels::GemmLayout& l, const TA* a, std::ptrdiff_t lda, std::ptrdiff_t m, std::ptrdiff_t k,
                 std::ptrdiff_t k_groups, std::ptrdiff_t panel_begin, std::ptrdiff_t panel_end, unsigned char* out,
                 std::ptrdiff_t panel_bytes, std::int32_t* row_sums) noexcept {
  if (l.kr == 4 && l.a_bytes == 1)
    pack_gemm_a_panels<4, 1>(l, a, lda, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
  else if (l.kr == 2 && l.a_bytes == 2)
    pack_gemm_a_panels<2, 2>(l, a, lda, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
  else
    pack_gemm_a_panels<1, 2>(l, a, lda, m, k, k_groups, panel_begin, panel_end, out, panel_bytes, row_sums);
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

// set_output checks one output stage and fills the output part of the problem. Every stage has C and ldc:
template <class T>
void set_c(T* c, std::ptrdiff_t ldc, std::ptrdiff_t n, kernels::gemm_output kind, kernels::GemmProblem& p) {
  constexpr const char* fn = "qmath::gemm";
  require(c != nullptr, fn, "null C");
  require(ldc >= n, fn, "ldc = " + std::to_string(ldc) + " is below N = " + std::to_string(n));
  p.output = kind;
  p.c = c;
  p.ldc = ldc;
}

// ... and both requantize stages an int32 bias, an output zero point and a clamp.
template <class Q, class Output>
void set_requantize_common(const Output& o, std::ptrdiff_t n, std::ptrdiff_t n_padded, bool fixed,
                           kernels::GemmProblem& p, const ColumnArrays& cols) {
  static_assert(std::is_same<Q, std::int8_t>::value || std::is_same<Q, std::uint8_t>::value, "int8_t or uint8_t C");
  constexpr const char* fn = "qmath::gemm";
  set_c(o.c, o.ldc, n, requantize_kind<Q>(fixed), p);
  require(o.zero_point >= int_traits<Q>::kMin && o.zero_point <= int_traits<Q>::kMax, fn,
          "output zero point " + std::to_string(o.zero_point) + " is outside the output type's range");
  require(o.min >= int_traits<Q>::kMin && o.max <= int_traits<Q>::kMax && o.min <= o.max, fn,
          "output clamp [" + std::to_string(o.min) + ", " + std::to_string(o.max) +
              "] is not an interval of the output type");
  expand<std::int32_t>(cols.bias_i32, o.bias, static_cast<std::size_t>(n), n, n_padded, 0);
  p.bias_i32 = cols.bias_i32;
  p.out_zero_point = o.zero_point;
  p.out_min = o.min;
  p.out_max = o.max;
}

inline void set_output(const GemmOutputInt32& o, std::ptrdiff_t, std::ptrdiff_t n, std::ptrdiff_t, std::ptrdiff_t,
                       kernels::GemmProblem& p, const ColumnArrays&) {
  set_c(o.c, o.ldc, n, kernels::gemm_output::int32, p);
}

template <class Q>
void set_output(const GemmOutputRequantize<Q>& o, std::ptrdiff_t, std::ptrdiff_t n, std::ptrdiff_t,
                std::ptrdiff_t n_padded, kernels::GemmProblem& p, const ColumnArrays& cols) {
  constexpr const char* fn = "qmath::gemm";
  set_requantize_common<Q>(o, n, n_padded, false, p, cols);
  require(o.multiplier != nullptr && (o.multiplier_count == 1 || o.multiplier_count == static_cast<std::size_t>(n)),
          fn, "multiplier: need 1 or N = " + std::to_string(n) + " entries");
  for (std::size_t i = 0; i < o.multiplier_count; ++i)
    if (!(std::isfinite(o.multiplier[i]) && o.multiplier[i] > 0.0f))
      fail(fn, "multiplier entry " + std::to_string(i) + " is not finite and > 0");
  expand<float>(cols.multiplier, o.multiplier, o.multiplier_count, n, n_padded, 1.0f);
  p.multiplier = cols.multiplier;
}

template <class Q>
void set_output(const GemmOutputRequantizeFixed<Q>& o, std::ptrdiff_t, std::ptrdiff_t n, std::ptrdiff_t,
                std::ptrdiff_t n_padded, kernels::GemmProblem& p, const ColumnArrays& cols) {
  constexpr const char* fn = "qmath::gemm";
  set_requantize_common<Q>(o, n, n_padded, true, p, cols);
  require(o.multiplier != nullptr && o.shift != nullptr &&
              (o.multiplier_count == 1 || o.multiplier_count == static_cast<std::size_t>(n)),
          fn, "fixed-point multiplier and shift: need 1 or N = " + std::to_string(n) + " entries");
  p.fixed_left_shift = false;
  for (std::size_t i = 0; i < o.multiplier_count; ++i) {
    if (o.multiplier[i] < 0) fail(fn, "fixed-point multiplier entry " + std::to_string(i) + " is negative");
    if (o.shift[i] < -31 || o.shift[i] > 30)
      fail(fn, "shift entry " + std::to_string(i) + " = " + std::to_string(o.shift[i]) + " is outside [-31, 30]");
    p.fixed_left_shift = p.fixed_left_shift || o.shift[i] > 0;
  }
  expand<std::int32_t>(cols.fixed_multiplier, o.multiplier, o.multiplier_count, n, n_padded, 0);
  expand<std::int32_t>(cols.fixed_shift, o.shift, o.multiplier_count, n, n_padded, 0);
  p.fixed_multiplier = cols.fixed_multiplier;
  p.fixed_shift = cols.fixed_shift;
}

inline void set_output(const GemmOutputDequantize& o, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t m_padded,
                       std::ptrdiff_t n_padded, kernels::GemmProblem& p, const ColumnArrays& cols) {
  constexpr const char* fn = "qmath::gemm";
  set_c(o.c, o.ldc, n, kernels::gemm_output::dequantize_f32, p);
  require(o.a_scale != nullptr && (o.a_scale_count == 1 || o.a_scale_count == static_cast<std::size_t>(m)), fn,
          "a_scale: need 1 or M = " + std::to_string(m) + " entries");
  require(o.b_scale != nullptr && (o.b_scale_count == 1 || o.b_scale_count == static_cast<std::size_t>(n)), fn,
          "b_scale: need 1 or N = " + std::to_string(n) + " entries");
  for (std::size_t i = 0; i < o.a_scale_count; ++i)
    if (!std::isfinite(o.a_scale[i])) fail(fn, "a_scale entry " + std::to_string(i) + " is not finite");
  for (std::size_t i = 0; i < o.b_scale_count; ++i)
    if (!std::isfinite(o.b_scale[i])) fail(fn, "b_scale entry " + std::to_string(i) + " is not finite");
  expand<float>(cols.a_scale, o.a_scale, o.a_scale_count, m, m_padded, 1.0f);
  expand<float>(cols.b_scale, o.b_scale, o.b_scale_count, n, n_padded, 1.0f);
  expand<float>(cols.bias_f32, o.bias, static_cast<std::size_t>(n), n, n_padded, 0.0f);
  p.a_scale = cols.a_scale;
  p.b_scale = cols.b_scale;
  p.bias_f32 = cols.bias_f32;
}

}  // namespace detail

/// C = (A - za) (B - zb) with the output stage `out` (GemmOutputInt32, GemmOutputRequantize<Q>,
/// GemmOutputRequantizeFixed<Q> or GemmOutputDequantize). TA is uint8_t or int8_t. Runs the path B was packed for.
/// Throws qmath::error (before writing anything) on bad sizes, strides, parameter counts or values, zero points
/// outside A's type, K beyond gemm_max_k, or a packed path this CPU cannot run. A, B and C must not overlap.
template <class TA, class Output>
void gemm(const GemmA<TA>& a, const PackedGemmB& b, const Output& out, const GemmOptions& options = {}) {
  static_assert(std::is_same<TA, std::uint8_t>::value || std::is_same<TA, std::int8_t>::value,
                "qmath::gemm: activations are uint8_t or int8_t");
  constexpr const char* fn = "qmath::gemm";
  detail::require(!b.empty(), fn, "the weights are not packed");
  detail::require(options.threads >= 0, fn, "threads = " + std::to_string(options.threads) + " is negative");
  detail::require(has(supported_isas(), b.path()), fn,
                  std::string("this CPU cannot run ISA path '") + isa_name(b.path()) + "' the weights were packed for");
  const std::ptrdiff_t m = a.m, n = b.n(), k = b.k();
  detail::require(m >= 0, fn, "M must be >= 0");
  detail::require(m == 0 || a.data != nullptr, fn, "null A");
  detail::require(a.ld >= k, fn, "lda = " + std::to_string(a.ld) + " is below K = " + std::to_string(k));
  detail::require(a.zero_point != nullptr &&
                      (a.zero_point_count == 1 || (m > 0 && a.zero_point_count == static_cast<std::size_t>(m))),
                  fn, "A zero points: need 1 or M = " + std::to_string(m) + " entries");
  for (std::size_t i = 0; i < a.zero_point_count; ++i)
    if (a.zero_point[i] < int_traits<TA>::kMin || a.zero_point[i] > int_traits<TA>::kMax)
      detail::fail(fn, "A zero point " + std::to_string(a.zero_point[i]) + " is outside the activation type's range");
  const std::int64_t max_k = gemm_max_k<TA>(a.zero_point, a.zero_point_count, b);
  detail::require(k <= max_k, fn, "K = " + std::to_string(k) + " exceeds " + std::to_string(max_k) +
                                      ", the largest K whose sums are exact in int32 for these zero points");

  const kernels::GemmKernels& kern = b.kernels();
  const kernels::GemmLayout& l = kern.layout;
  const std::ptrdiff_t m_padded = detail::round_up(std::max<std::ptrdiff_t>(m, 1), l.mr);
  const std::ptrdiff_t n_padded = detail::round_up(n, l.nr);
  const std::ptrdiff_t a_panel_bytes = b.k_groups() * l.mr * l.kr * l.a_bytes;

  // Scratch: packed A, then per-row and per-column arrays, each 64-byte aligned.
  auto bytes_of = [](std::ptrdiff_t count, std::size_t size) {
    return static_cast<std::size_t>(detail::round_up(count * static_cast<std::ptrdiff_t>(size), 64));
  };
  const std::size_t a_bytes = bytes_of((m_padded / l.mr) * a_panel_bytes, 1);
  const std::size_t row_bytes = bytes_of(m_padded, 4), col_bytes = bytes_of(n_padded, 4);
  const std::size_t total = a_bytes + 3 * row_bytes + 6 * col_bytes;
  detail::AlignedBytes& scratch = detail::gemm_scratch().bytes;
  scratch.reserve_uninitialized(total);
  unsigned char* cursor = scratch.data();
  auto take = [&cursor](std::size_t size) {
    unsigned char* at = cursor;
    cursor += size;
    return at;
  };
  unsigned char* a_packed = take(a_bytes);
  auto* row_sums = reinterpret_cast<std::int32_t*>(take(row_bytes));
  auto* row_zero_points = reinterpret_cast<std::int32_t*>(take(row_bytes));
  detail::ColumnArrays cols{};
  cols.a_scale = reinterpret_cast<float*>(take(row_bytes));
  cols.bias_i32 = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.bias_f32 = reinterpret_cast<float*>(cols.bias_i32);  // one bias per stage: the two never coexist
  cols.multiplier = reinterpret_cast<float*>(take(col_bytes));
  cols.fixed_multiplier = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.fixed_shift = reinterpret_cast<std::int32_t*>(take(col_bytes));
  cols.b_scale = reinterpret_cast<float*>(take(col_bytes));

  kernels::GemmProblem p{};
  detail::set_output(out, m, n, m_padded, n_padded, p, cols);  // validates the output stage
  if (m == 0) return;

  const std::int32_t offset = std::is_signed<TA>::value ? l.a_offset_s8 : l.a_offset_u8;
  for (std::ptrdiff_t row = 0; row < m_padded; ++row)
    row_zero_points[row] = row < m ? a.zero_point[a.zero_point_count == 1 ? 0 : row] + offset : 0;

  p.m = m;
  p.n = n;
  p.k = k;
  p.k_groups = b.k_groups();
  p.a_packed = a_packed;
  p.a_panel_bytes = a_panel_bytes;
  p.a_row_sums = row_sums;
  p.a_zero_points = row_zero_points;
  p.b_packed = b.packed_data();
  p.b_panel_bytes = b.panel_bytes();
  p.b_col_terms = b.col_terms();
  p.b_zero_points = b.stored_zero_points();
  p.b_zero_points_zero = b.zero_points_zero();

  const std::ptrdiff_t m_panels = m_padded / l.mr, n_panels = n_padded / l.nr;
  // Small problems are not worth a thread start (~20 us).
  const bool tiny = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < 2.0e6;
  const int workers = tiny ? 1 : static_cast<int>(std::min<std::ptrdiff_t>(detail::resolve_threads(options.threads),
                                                                           std::max(m_panels, n_panels)));
  const bool split_columns = n_panels >= workers * 2 || n_panels >= m_panels;
  detail::run_workers(workers, [&](int w) {
    std::ptrdiff_t begin = 0, end = 0;
    detail::split_range(m_panels, workers, w, begin, end);
    detail::pack_gemm_a(l, a.data, a.ld, m, k, p.k_groups, begin, end, a_packed, a_panel_bytes, row_sums);
  });
  detail::run_workers(workers, [&](int w) {
    std::ptrdiff_t begin = 0, end = 0;
    if (split_columns) {
      detail::split_range(n_panels, workers, w, begin, end);
      kern.compute(p, 0, m_padded, begin * l.nr, end * l.nr);
    } else {
      detail::split_range(m_panels, workers, w, begin, end);
      kern.compute(p, begin * l.mr, end * l.mr, 0, n_padded);
    }
  });
}

QMATH_END_NAMESPACE  // qmath
