// SPDX-License-Identifier: Apache-2.0
// quant/qparams.hpp: quantization parameters (scale, zero point), their granularity, and the numerics profiles
// (schemes layer).
//
// The affine map of the articles: x = S * (x_q - Z). A real x becomes the code
//   x_q = clamp(round(x (op) S) + Z, qmin, qmax)
// where (op) and round() are fixed by the profile:
//   profile   | x (op) S                      | round()              | named after
//   pytorch   | x * (1.0f / S)  (float recip) | half to even         | torch.quantize_per_tensor / _per_channel
//   onnx      | x / S           (IEEE divide) | half to even         | QuantizeLinear
//   tflite    | x / S           (IEEE divide) | half away from zero  | TFLite reference AffineQuantize
// Dequantize is (x_q - Z) * S in float on every profile (exact subtraction, one rounding).
// NaN inputs quantize to Z (the code of 0.0) on every profile and ISA; +-Inf saturate to qmax / qmin.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/format/rounding.hpp"

QMATH_BEGIN_NAMESPACE

/// Whose numerics to reproduce bit for bit (see the table above and README "Profiles").
enum class profile { pytorch, onnx, tflite };

constexpr Numerics numerics_of(profile p) noexcept {
  switch (p) {
    case profile::onnx: return {scale_op::divide, rounding::half_even};
    case profile::tflite: return {scale_op::divide, rounding::half_away};
    case profile::pytorch:
    default: return {scale_op::multiply_reciprocal, rounding::half_even};
  }
}
inline const char* profile_name(profile p) noexcept {
  switch (p) {
    case profile::onnx: return "onnx";
    case profile::tflite: return "tflite";
    case profile::pytorch:
    default: return "pytorch";
  }
}

/// Symmetric: Z fixed (0 for signed codes, the middle code for unsigned), range [-amax, amax].
/// Affine (asymmetric): Z chosen so that the range [min, max] (widened to contain 0) fills the codes.
enum class scheme { affine, symmetric };

/// Which elements share one (scale, zero point).
enum class granularity_kind { per_tensor, per_channel, per_group };

/// Granularity of the parameters of a tensor x of rank R with dims d[0..R).
/// - per tensor: one pair.
/// - per channel on `axis` (negative counts from the end, as in NumPy): d[axis] pairs; element x[..., c, ...]
///   uses pair c.
/// - per group of `group_size` G along `axis` (ONNX "blocked"): the parameters form a tensor with x's dims
///   except d[axis] -> ceil(d[axis] / G), stored in x's storage order; element x[i0.., c, ..iR] uses the pair
///   at [i0.., c / G, ..iR]. The last group along the axis may be partial.
struct Granularity {
  granularity_kind kind = granularity_kind::per_tensor;
  int axis = 0;
  std::int64_t group_size = 0;
};
constexpr Granularity per_tensor() noexcept { return {granularity_kind::per_tensor, 0, 0}; }
constexpr Granularity per_channel(int axis) noexcept { return {granularity_kind::per_channel, axis, 0}; }
constexpr Granularity per_group(int axis, std::int64_t group_size) noexcept {
  return {granularity_kind::per_group, axis, group_size};
}

/// Parameters of a quantized tensor with code type Q (int_traits.hpp). A plain aggregate: build one by hand, from
/// choose_qparams() (choose.hpp), or from an observer. Checked when used, not when built.
///
/// - scale: > 0 and finite, one per parameter slot (1 per tensor, d[axis] per channel, see Granularity per group).
/// - zero_point: integer zero points in Q's full range, same length as scale. Ignored when float_zero_point is
///   non-empty.
/// - float_zero_point: PyTorch's per_channel_affine_float_qparams (embedding tables): a real zero point Zf and
///     x_q = clamp(round(x (op) S + Zf)),  x = (x_q - Zf) * S.
/// - qmin, qmax: the codes used, a sub-range of Q's (narrow range [-127, 127], reduce_range [-64, 63], ...).
/// - numerics: whose rounding and scale convention quantize uses.
template <class Q>
struct QParams {
  static_assert(is_code_type<Q>::value, "QParams<Q>: Q must be a code type of format/int_traits.hpp");
  using code_type = Q;

  Granularity granularity = per_tensor();
  std::vector<float> scale{1.0f};
  std::vector<std::int32_t> zero_point{0};
  std::vector<float> float_zero_point{};
  std::int32_t qmin = static_cast<std::int32_t>(int_traits<Q>::kMin);
  std::int32_t qmax = static_cast<std::int32_t>(int_traits<Q>::kMax);
  profile numerics = profile::pytorch;

  bool has_float_zero_point() const noexcept { return !float_zero_point.empty(); }
  std::size_t size() const noexcept { return scale.size(); }
};

/// Per-tensor parameters in one line: QParams<std::int8_t> p = qmath::make_qparams<std::int8_t>(0.02f, 0).
template <class Q>
QParams<Q> make_qparams(float scale, std::int32_t zero_point, profile numerics = profile::pytorch) {
  QParams<Q> p;
  p.scale = {scale};
  p.zero_point = {zero_point};
  p.numerics = numerics;
  return p;
}

/// The code range [qmin, qmax] of Q after narrow_range (drops the lowest code: [-127, 127] for int8, [1, 255] for
/// uint8) and reduce_range (one bit less, as PyTorch's observers do for x86 activations: [-64, 63], [0, 127]).
template <class Q>
constexpr void code_range(bool narrow_range, bool reduce_range, std::int32_t& qmin, std::int32_t& qmax) noexcept {
  std::int64_t lo = int_traits<Q>::kMin, hi = int_traits<Q>::kMax;
  if (reduce_range) {
    lo = lo / 2;  // exact: kMin is 0 or a negative power of two
    hi = hi / 2;
  }
  if (narrow_range) lo += 1;
  qmin = static_cast<std::int32_t>(lo);
  qmax = static_cast<std::int32_t>(hi);
}

namespace detail {
/// A float as text that round-trips (std::to_string prints 6 decimals: -1e-10 would read -0.000000).
inline std::string float_text(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v));
  return text;
}

/// The checks every API entry point runs on parameters before writing anything. `slots` is the number of
/// parameter pairs the tensor's shape calls for.
template <class Q>
void check_qparams(const QParams<Q>& p, std::size_t slots, const char* fn) {
  if (p.qmin > p.qmax)
    require(false, fn, "qmin must be <= qmax (got " + std::to_string(p.qmin) + " > " + std::to_string(p.qmax) + ")");
  if (p.qmin < int_traits<Q>::kMin || p.qmax > int_traits<Q>::kMax)
    require(false, fn, std::string("[qmin, qmax] must lie in the range of ") + int_traits<Q>::kName);
  if (p.scale.size() != slots)
    require(false, fn,
            "scale has " + std::to_string(p.scale.size()) + " entries, the granularity needs " + std::to_string(slots));
  // Hot path: per-channel calls check thousands of slots, so the messages are built only on failure.
  const bool reciprocal = p.numerics == profile::pytorch;
  for (std::size_t i = 0; i < p.scale.size(); ++i) {
    const float s = p.scale[i];
    if (std::isfinite(s) && s > 0.0f && (!reciprocal || std::isfinite(1.0f / s))) continue;
    // 1/S must be finite too, or the PyTorch convention turns every x into +-Inf or NaN.
    require(std::isfinite(s) && s > 0.0f, fn,
            "scale[" + std::to_string(i) + "] must be finite and > 0 (got " + float_text(s) + ")");
    require(false, fn, "scale[" + std::to_string(i) + "] is too small: 1/scale overflows float");
  }
  if (p.has_float_zero_point()) {
    if (p.float_zero_point.size() != slots)
      require(false, fn, "float_zero_point has " + std::to_string(p.float_zero_point.size()) + " entries, the granularity needs " +
                std::to_string(slots));
    for (std::size_t i = 0; i < p.float_zero_point.size(); ++i)
      if (!std::isfinite(p.float_zero_point[i]))
        require(false, fn, "float_zero_point[" + std::to_string(i) + "] must be finite");
  } else {
    if (p.zero_point.size() != slots)
      require(false, fn, "zero_point has " + std::to_string(p.zero_point.size()) + " entries, the granularity needs " +
                std::to_string(slots));
    for (std::size_t i = 0; i < p.zero_point.size(); ++i) {
      const std::int64_t z = p.zero_point[i];
      if (z < int_traits<Q>::kMin || z > int_traits<Q>::kMax)
        require(false, fn,
                "zero_point[" + std::to_string(i) + "] = " + std::to_string(z) + " is outside the range of " +
                    int_traits<Q>::kName);
    }
  }
}
}  // namespace detail

QMATH_END_NAMESPACE  // qmath
