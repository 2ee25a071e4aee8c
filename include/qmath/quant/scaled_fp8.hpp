// SPDX-License-Identifier: Apache-2.0
// quant/scaled_fp8.hpp: fp8 with scales, a quantization whose codes are FLOAT8E4M3FN / FLOAT8E5M2 values: ONNX
// QuantizeLinear / DequantizeLinear to float8, and the per-tensor (or per-channel) scaled fp8 of training and
// inference recipes, which map the largest |x| onto the format's largest finite value.
//
//   qmath::Fp8Params p = qmath::choose_fp8_params(w.data(), shape, qmath::per_channel(0), qmath::fp8_format::e4m3fn);
//   qmath::quantize_fp8(w.data(), shape, p, codes.data());           // code = fp8(x / scale + zero_point)
//   qmath::dequantize_fp8(codes.data(), shape, p, back.data());      // x' = (fp8_to_f32(code) - zero_point) * scale
//
// Numerics are ONNX's: x / scale in float32, plus the zero point (a float8 value, 0 unless given), converted to fp8
// with round to nearest even; out-of-range values saturate to the largest finite value (ONNX saturate = 1), or with
// overflow_mode::to_infinity become infinity (E5M2) or NaN (E4M3FN, which has no infinity), ONNX saturate = 0.
// NaN stays NaN. The conversions are the run-time dispatched bulk kernels of convert.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qmath/convert.hpp"
#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE

/// Parameters of a scaled fp8 tensor: one scale (and optionally one zero point, a value of the fp8 format) per slot
/// of the granularity, in the slot order of quant/qparams.hpp.
struct Fp8Params {
  fp8_format format = fp8_format::e4m3fn;
  Granularity granularity = per_tensor();
  std::vector<float> scale{1.0f};
  std::vector<float> zero_point{};  ///< empty: 0 everywhere (what fp8 recipes use; ONNX allows one per slot)
  overflow_mode overflow = overflow_mode::saturate;
};

/// The largest finite value of an fp8 format: 448 (E4M3FN) or 57344 (E5M2).
constexpr float fp8_max_finite(fp8_format f) noexcept { return f == fp8_format::e4m3fn ? 448.0f : 57344.0f; }

namespace detail {

inline std::size_t check_fp8_params(const TensorShape& shape, const Fp8Params& p, const char* fn) {
  const std::size_t total = element_count(shape, fn);
  const std::size_t slots = parameter_slots(shape, p.granularity, fn);
  require(p.scale.size() == slots, fn,
          "scale has " + std::to_string(p.scale.size()) + " entries, the granularity needs " + std::to_string(slots));
  require(p.zero_point.empty() || p.zero_point.size() == slots, fn,
          "zero_point has " + std::to_string(p.zero_point.size()) + " entries, the granularity needs " + std::to_string(slots));
  for (float s : p.scale)
    require(std::isfinite(s) && s > 0.0f, fn, "every scale must be finite and > 0 (got " + std::to_string(s) + ")");
  for (float z : p.zero_point) {
    require(std::isfinite(z), fn, "every zero point must be finite");
    require(fp8_to_f32(f32_to_fp8(z, p.format), p.format) == z, fn,
            "zero point " + std::to_string(z) + " is not a value of the fp8 format");
  }
  return total;
}

}  // namespace detail

/// Scales that map each slot's largest finite |x| onto the format's largest finite value (scale 1 for a slot with
/// no non-zero finite value, and never a scale that underflows to a subnormal or zero); zero points 0.
/// @throws qmath::error on a bad shape, axis or group size, or a null x for a non-empty shape.
inline Fp8Params choose_fp8_params(const float* x, const TensorShape& shape, const Granularity& g, fp8_format format) {
  constexpr const char* fn = "qmath::choose_fp8_params";
  const std::size_t total = detail::element_count(shape, fn);
  detail::require(total == 0 || x != nullptr, fn, "null data pointer for a non-empty tensor");
  Fp8Params p;
  p.format = format;
  p.granularity = g;
  const std::size_t slots = detail::parameter_slots(shape, g, fn);
  const detail::SlotRanges range =
      detail::scan_slot_ranges(x, shape, g, total, slots, detail::nonfinite_policy::skip_nan_and_inf);
  p.scale.assign(slots, 1.0f);
  for (std::size_t s = 0; s < slots; ++s) {
    // In double: a tiny amax must not give a subnormal scale whose inverse overflows.
    const float amax = range.seen(s) ? std::max(std::fabs(range.min[s]), std::fabs(range.max[s])) : 0.0f;
    const double ratio = static_cast<double>(amax) / fp8_max_finite(format);
    if (ratio >= std::numeric_limits<float>::min() && std::isfinite(1.0 / ratio)) p.scale[s] = static_cast<float>(ratio);
  }
  return p;
}

/// codes[i] = fp8(x[i] / scale + zero_point) of x's slot (ONNX QuantizeLinear to float8); without zero points,
/// fp8(x[i] / scale), which keeps -0 negative.
/// @throws qmath::error on bad parameters (counts, non-positive or non-finite scales, a zero point that is not an
/// fp8 value) or null pointers; nothing is written then.
inline void quantize_fp8(const float* x, const TensorShape& shape, const Fp8Params& p, std::uint8_t* codes) {
  constexpr const char* fn = "qmath::quantize_fp8";
  const std::size_t total = detail::check_fp8_params(shape, p, fn);
  if (total == 0) return;
  detail::require(x != nullptr && codes != nullptr, fn, "null data pointer for a non-empty tensor");
  // Without zero points nothing is added: x / s keeps the sign of -0 (ONNX's x / s + 0 gives +0).
  const bool add_zero_point = !p.zero_point.empty();
  const std::vector<float> zeros(p.scale.size(), 0.0f);
  const float* zero_point = add_zero_point ? p.zero_point.data() : zeros.data();
  std::vector<float> scaled;
  detail::for_each_run(shape, p.granularity, total, p.scale.data(), zero_point,
                       [&](std::size_t offset, std::size_t count, const float* s, const float* z, bool per_element) {
                         scaled.resize(count);
                         for (std::size_t i = 0; i < count; ++i) {
                           const std::size_t k = per_element ? i : 0;
                           scaled[i] = add_zero_point ? x[offset + i] / s[k] + z[k] : x[offset + i] / s[k];
                         }
                         convert_f32_to_fp8(scaled.data(), codes + offset, count, p.format, p.overflow);
                       });
}

/// y[i] = (fp8_to_f32(codes[i]) - zero_point) * scale of the code's slot (ONNX DequantizeLinear from float8).
/// @throws qmath::error as quantize_fp8.
inline void dequantize_fp8(const std::uint8_t* codes, const TensorShape& shape, const Fp8Params& p, float* y) {
  constexpr const char* fn = "qmath::dequantize_fp8";
  const std::size_t total = detail::check_fp8_params(shape, p, fn);
  if (total == 0) return;
  detail::require(codes != nullptr && y != nullptr, fn, "null data pointer for a non-empty tensor");
  const std::vector<float> zeros(p.scale.size(), 0.0f);
  const float* zero_point = p.zero_point.empty() ? zeros.data() : p.zero_point.data();
  detail::for_each_run(shape, p.granularity, total, p.scale.data(), zero_point,
                       [&](std::size_t offset, std::size_t count, const float* s, const float* z, bool per_element) {
                         convert_fp8_to_f32(codes + offset, y + offset, count, p.format);
                         for (std::size_t i = 0; i < count; ++i) {
                           const std::size_t k = per_element ? i : 0;
                           y[offset + i] = (y[offset + i] - z[k]) * s[k];
                         }
                       });
}

/// Bits a scaled fp8 tensor of `elements` values takes stored: 8 per value, 32 per scale, 8 per zero point given.
inline double storage_bits(const Fp8Params& p, std::size_t elements) noexcept {
  return 8.0 * static_cast<double>(elements) + 32.0 * static_cast<double>(p.scale.size()) +
         8.0 * static_cast<double>(p.zero_point.size());
}

/// Bits an integer-coded tensor of `elements` values takes stored: its code width per value (4 for int4 / uint4),
/// 32 per fp32 scale, and the code width per zero point when `with_zero_points` (affine schemes store them;
/// symmetric ones, whose zero points are 0, need not).
template <class Q>
double storage_bits(const QParams<Q>& p, std::size_t elements, bool with_zero_points) noexcept {
  constexpr double bits = int_traits<Q>::kBits;
  return bits * static_cast<double>(elements) + static_cast<double>(p.scale.size()) * (32.0 + (with_zero_points ? bits : 0.0));
}

QMATH_END_NAMESPACE  // qmath
