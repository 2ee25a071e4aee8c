// SPDX-License-Identifier: Apache-2.0
// metrics.hpp: how far an approximation is from a reference tensor (MSE, SQNR, max abs / rel error, cosine, clip
// rate), per tensor, per channel or per group, and the round-trip error of every qmath format in one call.
//
//   auto p = qmath::choose_qparams<std::int8_t>(w.data(), shape, qmath::per_channel(0), {qmath::scheme::symmetric});
//   qmath::ErrorStats e = qmath::quantization_error(w.data(), shape, p);        // e.sqnr_db, e.clip_rate, ...
//   qmath::ErrorStats h = qmath::float_format_error(w.data(), n, qmath::float_format::bf16);
//
// Definitions (sums in double, over the pairs whose reference is finite):
//   mse = sum (x - y)^2 / n;  sqnr_db = 10 log10(sum x^2 / sum (x - y)^2)  (+inf when y == x everywhere);
//   max_abs_error = max |x - y|;  max_rel_error = max |x - y| / |x| over x != 0;
//   cosine = sum x y / sqrt(sum x^2 * sum y^2)  (1 when both are all zero, 0 when only one is);
//   clip_rate = clipped / n, where "clipped" is what the format cannot represent: for integers, x whose rounded
//   code lies outside [qmin, qmax] so that the clamp moved it (computed exactly as the quantize kernel computes the
//   code: x * fl(1/S) or x / S, rounded, plus Z); for floating-point formats, x that rounds past the largest finite
//   value (what overflow_mode::to_infinity would turn into inf or NaN).
// With no finite reference at all (count == 0), mse, sqnr_db and cosine are NaN: there is nothing to measure.
// A pair whose reference is NaN or +-Inf is skipped and counted in `skipped` (there is no error to measure); a
// finite reference with a non-finite approximation makes the error infinite, as it is.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/convert.hpp"
#include "qmath/core/error.hpp"
#include "qmath/eigen.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"
#include "qmath/quant/quantize.hpp"

QMATH_BEGIN_NAMESPACE

struct ErrorStats {
  std::uint64_t count = 0;    ///< pairs measured (finite reference)
  std::uint64_t skipped = 0;  ///< pairs whose reference was NaN or +-Inf
  std::uint64_t clipped = 0;  ///< references the format's range clamped (see clip_rate)
  double mse = std::numeric_limits<double>::quiet_NaN();
  double sqnr_db = std::numeric_limits<double>::quiet_NaN();
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  double cosine = std::numeric_limits<double>::quiet_NaN();
  double clip_rate = 0.0;
  // The sums behind the ratios, so that stats of several tensors can be pooled exactly.
  double reference_energy = 0.0;      ///< sum x^2
  double error_energy = 0.0;          ///< sum (x - y)^2
  double approximation_energy = 0.0;  ///< sum y^2
  double cross_energy = 0.0;          ///< sum x y
};

/// Running sums behind ErrorStats: add pairs batch by batch (or per thread, then merge) and read stats() at the end.
class ErrorAccumulator {
 public:
  void add(float reference, float approximation) noexcept {
    if (!std::isfinite(reference)) {
      ++skipped_;
      return;
    }
    const double x = reference, y = approximation, e = y - x;
    ++count_;
    sum_x2_ += x * x;
    sum_y2_ += y * y;
    sum_xy_ += x * y;
    sum_e2_ += e * e;
    const double abs_error = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::fabs(e);
    max_abs_ = std::max(max_abs_, abs_error);
    if (x != 0.0) max_rel_ = std::max(max_rel_, abs_error / std::fabs(x));
  }
  void add_clipped(std::uint64_t n = 1) noexcept { clipped_ += n; }

  void merge(const ErrorAccumulator& o) noexcept {
    count_ += o.count_;
    skipped_ += o.skipped_;
    clipped_ += o.clipped_;
    sum_x2_ += o.sum_x2_;
    sum_y2_ += o.sum_y2_;
    sum_xy_ += o.sum_xy_;
    sum_e2_ += o.sum_e2_;
    max_abs_ = std::max(max_abs_, o.max_abs_);
    max_rel_ = std::max(max_rel_, o.max_rel_);
  }

  ErrorStats stats() const noexcept {
    ErrorStats s;
    s.count = count_;
    s.skipped = skipped_;
    s.clipped = clipped_;
    s.max_abs_error = max_abs_;
    s.max_rel_error = max_rel_;
    s.reference_energy = sum_x2_;
    // A non-finite approximation of a finite value makes sum_e2_ NaN or inf: report the error as infinite.
    s.error_energy = std::isnan(sum_e2_) ? std::numeric_limits<double>::infinity() : sum_e2_;
    s.approximation_energy = sum_y2_;
    s.cross_energy = sum_xy_;
    finish(s);
    return s;
  }

  /// Fills the ratios of s (mse, sqnr_db, cosine, clip_rate) from its counts and energies.
  static void finish(ErrorStats& s) noexcept {
    constexpr double inf = std::numeric_limits<double>::infinity();
    if (s.count == 0) return;
    const double e2 = s.error_energy, x2 = s.reference_energy, y2 = s.approximation_energy;
    s.mse = e2 / static_cast<double>(s.count);
    s.sqnr_db = e2 == 0.0 ? inf : (x2 == 0.0 ? -inf : 10.0 * std::log10(x2 / e2));
    if (x2 == 0.0 && y2 == 0.0) s.cosine = 1.0;
    else if (x2 == 0.0 || y2 == 0.0) s.cosine = 0.0;
    else s.cosine = s.cross_energy / std::sqrt(x2 * y2);
    if (std::isnan(s.cosine)) s.cosine = 0.0;
    s.clip_rate = static_cast<double>(s.clipped) / static_cast<double>(s.count);
  }

 private:
  std::uint64_t count_ = 0, skipped_ = 0, clipped_ = 0;
  double sum_x2_ = 0.0, sum_y2_ = 0.0, sum_xy_ = 0.0, sum_e2_ = 0.0;
  double max_abs_ = 0.0, max_rel_ = 0.0;
};

/// The stats of several tensors or slots taken together, from their counts and energies: exactly what one
/// accumulator over all their elements would report.
inline ErrorStats pool_error_stats(const std::vector<ErrorStats>& parts) noexcept {
  ErrorStats p;
  p.mse = p.sqnr_db = p.cosine = std::numeric_limits<double>::quiet_NaN();
  p.count = 0;
  for (const ErrorStats& s : parts) {
    p.count += s.count;
    p.skipped += s.skipped;
    p.clipped += s.clipped;
    p.reference_energy += s.reference_energy;
    p.error_energy += s.error_energy;
    p.approximation_energy += s.approximation_energy;
    p.cross_energy += s.cross_energy;
    p.max_abs_error = std::max(p.max_abs_error, s.max_abs_error);
    p.max_rel_error = std::max(p.max_rel_error, s.max_rel_error);
  }
  ErrorAccumulator::finish(p);
  return p;
}

/// Error of approximation[i] against reference[i] over n elements (clipped stays 0: no format is known here).
inline ErrorStats error_stats(const float* reference, const float* approximation, std::size_t n) {
  detail::require(n == 0 || (reference != nullptr && approximation != nullptr), "qmath::error_stats",
                  "null data pointer for a non-empty tensor");
  ErrorAccumulator acc;
  for (std::size_t i = 0; i < n; ++i) acc.add(reference[i], approximation[i]);
  return acc.stats();
}

namespace detail {

/// Calls visit(slot, element_index) for every element of a dense tensor, slots numbered as in qparams.hpp.
template <class Visit>
void for_each_slot_element(const TensorShape& shape, const Granularity& g, std::size_t total, Visit&& visit) {
  const std::size_t slots = parameter_slots(shape, g, "qmath::for_each_slot_element");
  if (total == 0) return;
  for_each_slot_run(shape, g, total, slots, [&](std::size_t at, std::size_t count, const std::size_t* id, bool each) {
    for (std::size_t k = 0; k < count; ++k) visit(id[each ? k : 0], at + k);
  });
}

/// Whether the clamp moves finite x's code: the unclamped code, computed as kernels/ref/quantize.hpp computes it
/// (factor = 1/S or S, per the profile), lies outside [qmin, qmax].
template <class Q>
bool clamp_moves(const QParams<Q>& p, std::size_t slot, float factor, float x) noexcept {
  const Numerics numerics = numerics_of(p.numerics);
  if (p.has_float_zero_point()) {
    const float scaled = numerics.op == scale_op::multiply_reciprocal
                             ? static_cast<float>(static_cast<double>(x) * static_cast<double>(factor))
                             : x / factor;
    const double r = kernels::ref::round_to_integer(scaled + p.float_zero_point[slot], numerics.round);
    return r < p.qmin || r > p.qmax;
  }
  const double r = kernels::ref::round_to_integer(kernels::ref::apply_scale(x, factor, numerics.op), numerics.round);
  const double z = p.zero_point[slot];
  return r < p.qmin - z || r > p.qmax - z;
}

}  // namespace detail

/// Per-slot error of approximation against reference, slots of granularity g (one ErrorStats per channel / group).
/// @throws qmath::error on a bad shape, axis or group size, or null pointers.
inline std::vector<ErrorStats> error_stats(const float* reference, const float* approximation,
                                           const TensorShape& shape, const Granularity& g) {
  constexpr const char* fn = "qmath::error_stats";
  const std::size_t total = detail::element_count(shape, fn);
  const std::size_t slots = detail::parameter_slots(shape, g, fn);
  detail::require(total == 0 || (reference != nullptr && approximation != nullptr), fn,
                  "null data pointer for a non-empty tensor");
  std::vector<ErrorAccumulator> acc(slots);
  detail::for_each_slot_element(shape, g, total,
                                [&](std::size_t s, std::size_t i) { acc[s].add(reference[i], approximation[i]); });
  std::vector<ErrorStats> out;
  out.reserve(slots);
  for (const auto& a : acc) out.push_back(a.stats());
  return out;
}

/// Quantizes x with p, dequantizes it and measures the round trip; clipped counts the elements whose code the clamp
/// moved. With per_slot non-null, it also receives one ErrorStats per parameter slot; with dequantized
/// non-null, the round-tripped values (resized to the element count).
/// @throws qmath::error as quantize() does.
template <class Q>
ErrorStats quantization_error(const float* x, const TensorShape& shape, const QParams<Q>& p,
                              std::vector<ErrorStats>* per_slot = nullptr, std::vector<float>* dequantized = nullptr) {
  constexpr const char* fn = "qmath::quantization_error";
  const std::size_t total = detail::element_count(shape, fn);
  const std::size_t slots = detail::parameter_slots(shape, p.granularity, fn);
  std::vector<typename int_traits<Q>::storage> codes(int_traits<Q>::storage_size(total));
  std::vector<float> local;
  std::vector<float>& back = dequantized != nullptr ? *dequantized : local;
  back.resize(total);
  quantize(x, shape, p, codes.data());
  dequantize(codes.data(), shape, p, back.data());

  const std::vector<float> factors = detail::quantize_factors(p);
  std::vector<ErrorAccumulator> acc(slots);
  detail::for_each_slot_element(shape, p.granularity, total, [&](std::size_t s, std::size_t i) {
    acc[s].add(x[i], back[i]);
    if (std::isfinite(x[i]) && detail::clamp_moves(p, s, factors[s], x[i])) acc[s].add_clipped();
  });
  ErrorAccumulator whole;
  if (per_slot != nullptr) per_slot->clear();
  for (const auto& a : acc) {
    whole.merge(a);
    if (per_slot != nullptr) per_slot->push_back(a.stats());
  }
  return whole.stats();
}

/// Eigen forms of quantization_error and error_stats (eigen.hpp's views: tensors in their layout, contiguous
/// matrices as [rows, cols] in their storage order). error_stats needs both operands in the same dims and order.
template <class Q, class X, std::enable_if_t<eigen_detail::is_eigen_v<X>, int> = 0>
ErrorStats quantization_error(const X& x, const QParams<Q>& p, std::vector<ErrorStats>* per_slot = nullptr) {
  const auto v = view(x);
  return quantization_error(v.data, v.shape, p, per_slot);
}
template <class X, class Y, std::enable_if_t<eigen_detail::is_eigen_v<X> && eigen_detail::is_eigen_v<Y>, int> = 0>
ErrorStats error_stats(const X& reference, const Y& approximation) {
  const auto r = view(reference);
  const auto a = view(approximation);
  detail::require(r.shape.dims == a.shape.dims && (r.shape.order == a.shape.order || r.shape.dims.size() < 2 ||
                                                   r.size() == 0),
                  "qmath::error_stats", "reference and approximation differ in dims or storage order");
  return error_stats(r.data, a.data, r.size());
}

/// The floating-point storage formats of format/.
enum class float_format { f16, bf16, e4m3fn, e5m2 };

inline const char* float_format_name(float_format f) noexcept {
  switch (f) {
    case float_format::f16: return "fp16";
    case float_format::bf16: return "bf16";
    case float_format::e4m3fn: return "fp8 e4m3fn";
    case float_format::e5m2: return "fp8 e5m2";
  }
  return "?";
}

/// Largest finite value of a format.
inline float float_format_max(float_format f) noexcept {
  switch (f) {
    case float_format::f16: return 65504.0f;
    case float_format::bf16: return f32_from_bits(0x7F7F0000u);
    case float_format::e4m3fn: return 448.0f;
    case float_format::e5m2: return 57344.0f;
  }
  return 0.0f;
}

/// Bits per element of a format.
constexpr int float_format_bits(float_format f) noexcept {
  return f == float_format::f16 || f == float_format::bf16 ? 16 : 8;
}

/// Rounds x[0, n) to the format and back into y (round to nearest even; overflow as `overflow`).
inline void float_format_roundtrip(const float* x, std::size_t n, float_format f, float* y,
                                   overflow_mode overflow = overflow_mode::saturate) {
  detail::require(n == 0 || (x != nullptr && y != nullptr), "qmath::float_format_roundtrip",
                  "null data pointer for a non-empty tensor");
  if (f == float_format::f16 || f == float_format::bf16) {
    std::vector<std::uint16_t> bits(n);
    if (f == float_format::f16) {
      convert_f32_to_f16(x, bits.data(), n, overflow);
      convert_f16_to_f32(bits.data(), y, n);
    } else {
      convert_f32_to_bf16(x, bits.data(), n, bf16_rounding::nearest_even, overflow);
      convert_bf16_to_f32(bits.data(), y, n);
    }
  } else {
    const fp8_format f8 = f == float_format::e4m3fn ? fp8_format::e4m3fn : fp8_format::e5m2;
    std::vector<std::uint8_t> codes(n);
    convert_f32_to_fp8(x, codes.data(), n, f8, overflow);
    convert_fp8_to_f32(codes.data(), y, n, f8);
  }
}

/// Whether finite x rounds past the format's largest finite value (to_infinity would give inf, or NaN for E4M3FN).
inline bool float_format_overflows(float x, float_format f) noexcept {
  if (!(std::fabs(x) > float_format_max(f))) return false;  // cheap test first: only values past max can overflow
  switch (f) {
    case float_format::f16: return std::isinf(f16_bits_to_f32(f32_to_f16_bits(x, overflow_mode::to_infinity)));
    case float_format::bf16:
      return std::isinf(bf16_bits_to_f32(f32_to_bf16_bits(x, bf16_rounding::nearest_even, overflow_mode::to_infinity)));
    case float_format::e4m3fn: return std::isnan(e4m3fn_to_f32(f32_to_e4m3fn(x, overflow_mode::to_infinity)));
    case float_format::e5m2: return std::isinf(e5m2_to_f32(f32_to_e5m2(x, overflow_mode::to_infinity)));
  }
  return false;
}

/// Round-trip error of storing x in a floating-point format. Saturating by default, so that a value past the
/// format's range costs its distance to the largest finite value (and counts as clipped) rather than infinity.
inline ErrorStats float_format_error(const float* x, std::size_t n, float_format f,
                                     overflow_mode overflow = overflow_mode::saturate,
                                     std::vector<float>* roundtripped = nullptr) {
  std::vector<float> local;
  std::vector<float>& y = roundtripped != nullptr ? *roundtripped : local;
  y.resize(n);
  float_format_roundtrip(x, n, f, y.data(), overflow);
  ErrorAccumulator acc;
  for (std::size_t i = 0; i < n; ++i) {
    acc.add(x[i], y[i]);
    if (std::isfinite(x[i]) && float_format_overflows(x[i], f)) acc.add_clipped();
  }
  return acc.stats();
}

QMATH_END_NAMESPACE  // qmath
