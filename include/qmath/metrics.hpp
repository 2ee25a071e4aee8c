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
//   clip_rate = clipped / n, where "clipped" is what the format cannot represent: for integers, x whose code the
//   clamp changed, i.e. x outside [S (qmin - Z - 1/2), S (qmax - Z + 1/2)] (its error exceeds the rounding error);
//   for floating-point formats, |x| above the largest finite value.
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

#include "qmath/convert.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"
#include "qmath/quant/quantize.hpp"

namespace qmath {

struct ErrorStats {
  std::uint64_t count = 0;    ///< pairs measured (finite reference)
  std::uint64_t skipped = 0;  ///< pairs whose reference was NaN or +-Inf
  std::uint64_t clipped = 0;  ///< references outside the format's range (see clip_rate)
  double mse = 0.0;
  double sqnr_db = 0.0;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  double cosine = 1.0;
  double clip_rate = 0.0;
  double reference_energy = 0.0;  ///< sum x^2, with error_energy: what pooling stats over tensors needs
  double error_energy = 0.0;      ///< sum (x - y)^2
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
    constexpr double inf = std::numeric_limits<double>::infinity();
    ErrorStats s;
    s.count = count_;
    s.skipped = skipped_;
    s.clipped = clipped_;
    s.max_abs_error = max_abs_;
    s.max_rel_error = max_rel_;
    s.reference_energy = sum_x2_;
    s.error_energy = std::isnan(sum_e2_) ? std::numeric_limits<double>::infinity() : sum_e2_;
    if (count_ == 0) return s;
    // A non-finite approximation of a finite value makes sum_e2_ NaN or inf: report the error as infinite.
    const double e2 = s.error_energy;
    s.mse = e2 / static_cast<double>(count_);
    s.sqnr_db = e2 == 0.0 ? inf : (sum_x2_ == 0.0 ? -inf : 10.0 * std::log10(sum_x2_ / e2));
    if (sum_x2_ == 0.0 && sum_y2_ == 0.0) s.cosine = 1.0;
    else if (sum_x2_ == 0.0 || sum_y2_ == 0.0) s.cosine = 0.0;
    else s.cosine = sum_xy_ / std::sqrt(sum_x2_ * sum_y2_);
    if (std::isnan(s.cosine)) s.cosine = 0.0;
    s.clip_rate = static_cast<double>(clipped_) / static_cast<double>(count_);
    return s;
  }

 private:
  std::uint64_t count_ = 0, skipped_ = 0, clipped_ = 0;
  double sum_x2_ = 0.0, sum_y2_ = 0.0, sum_xy_ = 0.0, sum_e2_ = 0.0;
  double max_abs_ = 0.0, max_rel_ = 0.0;
};

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
  std::vector<std::size_t> ids(slots);
  std::iota(ids.begin(), ids.end(), std::size_t{0});
  for_each_run(shape, g, total, ids.data(), ids.data(),
               [&](std::size_t at, std::size_t count, const std::size_t* id, const std::size_t*, bool each) {
                 for (std::size_t k = 0; k < count; ++k) visit(id[each ? k : 0], at + k);
               });
}

/// The values of one slot that round into the code range (half a step past the end codes), computed in double.
template <class Q>
void code_interval(const QParams<Q>& p, std::size_t slot, double& lo, double& hi) {
  const double s = p.scale[slot];
  const double z = p.float_zero_point.empty() ? static_cast<double>(p.zero_point[slot]) : p.float_zero_point[slot];
  lo = s * (p.qmin - z - 0.5);
  hi = s * (p.qmax - z + 0.5);
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

/// Quantizes x with p, dequantizes it and measures the round trip; clipped counts the elements past half a step
/// beyond each slot's end codes (a tie exactly there, which rounds inward or outward, is not counted). With per_slot non-null, it also receives one ErrorStats per parameter slot; with dequantized
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

  std::vector<double> lo(slots), hi(slots);
  for (std::size_t s = 0; s < slots; ++s) detail::code_interval(p, s, lo[s], hi[s]);
  std::vector<ErrorAccumulator> acc(slots);
  detail::for_each_slot_element(shape, p.granularity, total, [&](std::size_t s, std::size_t i) {
    acc[s].add(x[i], back[i]);
    if (std::isfinite(x[i]) && (x[i] < lo[s] || x[i] > hi[s])) acc[s].add_clipped();
  });
  ErrorAccumulator whole;
  if (per_slot != nullptr) per_slot->clear();
  for (const auto& a : acc) {
    whole.merge(a);
    if (per_slot != nullptr) per_slot->push_back(a.stats());
  }
  return whole.stats();
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

/// Round-trip error of storing x in a floating-point format. Saturating by default, so that a value past the
/// format's range costs its distance to the largest finite value (and counts as clipped) rather than infinity.
inline ErrorStats float_format_error(const float* x, std::size_t n, float_format f,
                                     overflow_mode overflow = overflow_mode::saturate,
                                     std::vector<float>* roundtripped = nullptr) {
  std::vector<float> local;
  std::vector<float>& y = roundtripped != nullptr ? *roundtripped : local;
  y.resize(n);
  float_format_roundtrip(x, n, f, y.data(), overflow);
  const float max_finite = float_format_max(f);
  ErrorAccumulator acc;
  for (std::size_t i = 0; i < n; ++i) {
    acc.add(x[i], y[i]);
    if (std::isfinite(x[i]) && std::fabs(x[i]) > max_finite) acc.add_clipped();
  }
  return acc.stats();
}

}  // namespace qmath
