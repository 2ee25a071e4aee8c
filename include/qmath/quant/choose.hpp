// SPDX-License-Identifier: Apache-2.0
// quant/choose.hpp: scale and zero point from a range [min, max], exactly as each profile computes them, and the
// per-slot min/max of a tensor (schemes layer).
//
// Every rule first widens the range to contain 0 (min' = min(min, 0), max' = max(max, 0)), so 0.0 is always exactly
// representable, then (where max' - min' overflows float, qmath takes it in double: the profiles' float arithmetic
// would give an infinite scale):
//
// pytorch (torch.ao.quantization observers, float32 arithmetic, eps = 2^-23):
//   affine     S = max(( max' - min') / float(qmax - qmin), eps);  Z = clamp(qmin - round_even(min' / S), qmin, qmax)
//   symmetric  S = max(max(-min', max') / (float(qmax - qmin) / 2), eps);  Z = 0 for signed codes; for unsigned
//              codes 2^(bits-1) (128), or (qmin + qmax) / 2 when narrow_range (a customised quant range)
//   float_zero_point (affine only, per_channel_affine_float_qparams; the range is NOT widened to contain 0):
//              S = (max - min) / float(qmax - qmin), 1 where that is <= eps;  Zf = -min / S
// onnx (DynamicQuantizeLinear for affine, float32; onnxruntime's quantizer for symmetric):
//   affine     S = (max' - min') / float(qmax - qmin);  Z = round_even(clamp(qmin - min' / S, qmin, qmax))
//   symmetric  S = float(double(2 * amax) / double(qmax - qmin));  Z = round_even((qmin + qmax) / 2)
//   S < FLT_MIN (an all-zero range): S = 1, Z = 0 (clamped into [qmin, qmax])
// tflite (gemmlowp / TFLite ChooseQuantizationParams in double, zero point "nudged" to an integer):
//   affine     S = (max' - min') / (qmax - qmin);  Z = round_away(zero point from min or from max, whichever has
//              the smaller error), clamped to [qmin, qmax];  an all-zero range gives S = 1, Z = clamp(0)
//   symmetric  signed codes are narrowed to [-qmax, qmax] (int8 weights: [-127, 127]); S = amax / float(qmax),
//              Z = 0; unsigned codes: S = amax / (float(qmax - qmin) / 2), Z = (qmin + qmax + 1) / 2;
//              amax = 0 gives S = 1
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/eigen.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE

struct ChooseOptions {
  scheme kind = scheme::affine;
  profile numerics = profile::pytorch;
  bool narrow_range = false;      ///< drop the lowest code ([-127, 127] for int8)
  bool reduce_range = false;      ///< one bit less ([-64, 63], [0, 127]), PyTorch's x86 activation setting
  bool float_zero_point = false;  ///< PyTorch float zero points (affine, pytorch profile only)
};

namespace detail {

struct SlotParams {
  float scale;
  std::int32_t zero_point;
  float float_zero_point;
};

inline std::int32_t clamp_code(double v, std::int32_t qmin, std::int32_t qmax) noexcept {
  return static_cast<std::int32_t>(std::min(std::max(v, static_cast<double>(qmin)), static_cast<double>(qmax)));
}

/// (max' - min') / span in float as the profiles compute it; when the float difference overflows (a finite range
/// wider than FLT_MAX, such as [-3e38, 3e38]) the difference and quotient are taken in double instead, so the scale
/// is the finite float it should be rather than +Inf.
inline float span_over(float max_pos, float min_neg, float span) noexcept {
  const float d = max_pos - min_neg;
  if (d <= FLT_MAX) return d / span;
  return static_cast<float>((static_cast<double>(max_pos) - static_cast<double>(min_neg)) / static_cast<double>(span));
}

template <class Q>
SlotParams choose_slot(float min, float max, const ChooseOptions& o, std::int32_t qmin, std::int32_t qmax) {
  const float min_neg = std::min(min, 0.0f), max_pos = std::max(max, 0.0f);
  const auto span = static_cast<float>(static_cast<std::int64_t>(qmax) - qmin);
  SlotParams r{1.0f, 0, 0.0f};
  switch (o.numerics) {
    case profile::pytorch: {
      const float eps = FLT_EPSILON;  // torch.finfo(torch.float32).eps
      if (o.float_zero_point) {
        const float s = span_over(max, min, span);
        r.scale = s > eps ? s : 1.0f;
        r.float_zero_point = -min / r.scale;
      } else if (o.kind == scheme::symmetric) {
        const float amax = std::max(-min_neg, max_pos);
        r.scale = std::max(amax / (span / 2.0f), eps);
        if (!int_traits<Q>::kSigned)
          r.zero_point = o.narrow_range ? static_cast<std::int32_t>((static_cast<std::int64_t>(qmin) + qmax) / 2)
                                        : static_cast<std::int32_t>(std::int64_t{1} << (int_traits<Q>::kBits - 1));
      } else {
        r.scale = std::max(span_over(max_pos, min_neg, span), eps);
        r.zero_point = clamp_code(static_cast<double>(qmin) - std::nearbyint(min_neg / r.scale), qmin, qmax);
      }
      break;
    }
    case profile::onnx: {
      if (o.kind == scheme::symmetric) {
        const float amax = std::max(-min_neg, max_pos);
        r.scale = static_cast<float>(2.0 * static_cast<double>(amax) / static_cast<double>(span));
        r.zero_point = static_cast<std::int32_t>(std::nearbyint((static_cast<double>(qmin) + qmax) / 2.0));
      } else {
        r.scale = span_over(max_pos, min_neg, span);
        if (r.scale >= FLT_MIN) {
          const float zp = static_cast<float>(qmin) - min_neg / r.scale;
          r.zero_point = static_cast<std::int32_t>(
              std::nearbyint(std::min(std::max(zp, static_cast<float>(qmin)), static_cast<float>(qmax))));
        }
      }
      if (!(r.scale >= FLT_MIN)) {
        r.scale = 1.0f;
        r.zero_point = clamp_code(0.0, qmin, qmax);
      }
      break;
    }
    case profile::tflite: {
      if (o.kind == scheme::symmetric) {
        const float amax = std::max(-min_neg, max_pos);
        if (int_traits<Q>::kSigned) {
          r.scale = amax / static_cast<float>(qmax);
        } else {
          r.scale = amax / (span / 2.0f);
          r.zero_point = static_cast<std::int32_t>((static_cast<std::int64_t>(qmin) + qmax + 1) / 2);
        }
        if (!(r.scale >= FLT_MIN)) r.scale = 1.0f;  // amax = 0, or so small that the scale underflows
      } else {
        const double rmin = min_neg, rmax = max_pos, qmin_d = qmin, qmax_d = qmax;
        if (rmin == rmax) {
          r.scale = 1.0f;
          r.zero_point = clamp_code(0.0, qmin, qmax);
        } else {
          const double s = (rmax - rmin) / (qmax_d - qmin_d);
          const double zp_from_min = qmin_d - rmin / s, zp_from_max = qmax_d - rmax / s;
          const double err_min = std::abs(qmin_d) + std::abs(rmin / s), err_max = std::abs(qmax_d) + std::abs(rmax / s);
          const double zp = err_min < err_max ? zp_from_min : zp_from_max;
          r.zero_point = zp < qmin_d ? qmin : zp > qmax_d ? qmax : static_cast<std::int32_t>(std::round(zp));
          r.scale = static_cast<float>(s);
          if (!(r.scale >= FLT_MIN)) {  // a range so narrow that the scale underflows: as an all-zero range
            r.scale = 1.0f;
            r.zero_point = clamp_code(0.0, qmin, qmax);
          }
        }
      }
      break;
    }
  }
  return r;
}

}  // namespace detail

/// Parameters for the ranges mins[k], maxs[k] of the slots of granularity g (one pair per slot, in the slot order of
/// qparams.hpp). Every slot must have finite min <= max. Per channel / group, no ranges (a tensor with zero channels)
/// give parameters with no slots. Every scale returned is a normal float with a finite reciprocal: ranges wider than
/// FLT_MAX are measured in double (see span_over), scales that would underflow follow each profile's all-zero rule.
/// @throws qmath::error on a non-finite or inverted range, mismatched lengths, float_zero_point with a profile other
///         than pytorch or with the symmetric scheme, or (not expected from finite ranges) an unusable scale.
template <class Q>
QParams<Q> choose_qparams(const std::vector<float>& mins, const std::vector<float>& maxs, const Granularity& g,
                          const ChooseOptions& o = {}) {
  constexpr const char* fn = "qmath::choose_qparams";
  detail::require(mins.size() == maxs.size(), fn, "mins and maxs must be equally long");
  detail::require(!mins.empty() || g.kind != granularity_kind::per_tensor, fn, "per-tensor parameters take one range");
  detail::require(g.kind != granularity_kind::per_tensor || mins.size() == 1, fn,
                  "per-tensor parameters take one range");
  detail::require(!o.float_zero_point || (o.numerics == profile::pytorch && o.kind == scheme::affine), fn,
                  "float_zero_point needs the pytorch profile and the affine scheme");
  QParams<Q> p;
  p.granularity = g;
  p.numerics = o.numerics;
  code_range<Q>(o.narrow_range, o.reduce_range, p.qmin, p.qmax);
  if (o.numerics == profile::tflite && o.kind == scheme::symmetric && int_traits<Q>::kSigned) p.qmin = -p.qmax;
  p.scale.resize(mins.size());
  p.zero_point.assign(mins.size(), 0);
  if (o.float_zero_point) p.float_zero_point.resize(mins.size());
  for (std::size_t k = 0; k < mins.size(); ++k) {
    const std::string slot = "range[" + std::to_string(k) + "]";
    detail::require(std::isfinite(mins[k]) && std::isfinite(maxs[k]), fn, slot + " is not finite");
    detail::require(mins[k] <= maxs[k], fn, slot + " has min > max");
    const detail::SlotParams s = detail::choose_slot<Q>(mins[k], maxs[k], o, p.qmin, p.qmax);
    if (!(std::isfinite(s.scale) && s.scale > 0.0f && std::isfinite(1.0f / s.scale)))
      detail::fail(fn, slot + " [" + detail::float_text(mins[k]) + ", " + detail::float_text(maxs[k]) +
                           "] gives the unusable scale " + detail::float_text(s.scale));
    p.scale[k] = s.scale;
    p.zero_point[k] = s.zero_point;
    if (o.float_zero_point) p.float_zero_point[k] = s.float_zero_point;
  }
  return p;
}

/// Per-tensor parameters for the range [min, max].
template <class Q>
QParams<Q> choose_qparams(float min, float max, const ChooseOptions& o = {}) {
  return choose_qparams<Q>(std::vector<float>{min}, std::vector<float>{max}, per_tensor(), o);
}

/// Per-slot ranges of a tensor, ignoring NaN; a slot with no non-NaN element gets [0, 0].
struct Ranges {
  std::vector<float> min, max;
};

/// The min and max of each parameter slot of g over the dense tensor x.
/// @throws qmath::error on a bad shape, axis or group size.
inline Ranges minmax_ranges(const float* x, const TensorShape& shape, const Granularity& g) {
  constexpr const char* fn = "qmath::minmax_ranges";
  const std::size_t total = detail::element_count(shape, fn);
  const std::size_t slots = detail::parameter_slots(shape, g, fn);
  detail::require(total == 0 || x != nullptr, fn, "null data pointer for a non-empty tensor");
  const detail::SlotRanges scanned =
      detail::scan_slot_ranges(x, shape, g, total, slots, detail::nonfinite_policy::skip_nan);
  Ranges r;
  r.min = scanned.min;
  r.max = scanned.max;
  for (std::size_t s = 0; s < slots; ++s)
    if (!scanned.seen(s)) r.min[s] = r.max[s] = 0.0f;
  return r;
}

/// Parameters from the data's own min/max per slot (what `qmath quantize` does without explicit parameters).
/// @throws qmath::error on a bad shape, or when a slot's data holds +-Inf.
template <class Q>
QParams<Q> choose_qparams(const float* x, const TensorShape& shape, const Granularity& g, const ChooseOptions& o = {}) {
  const Ranges r = minmax_ranges(x, shape, g);
  return choose_qparams<Q>(r.min, r.max, g, o);
}

/// Eigen form: an Eigen::Tensor / TensorMap (either layout; axes count as Eigen counts them) or a contiguous
/// matrix / array / Map / Ref of float (axis 0 = rows), through eigen.hpp's view().
///   Eigen::Tensor<float, 2, Eigen::RowMajor> w(64, 256);
///   auto p = qmath::choose_qparams<std::int8_t>(w, qmath::per_channel(0), {qmath::scheme::symmetric});
/// @throws qmath::error as the raw form, or for a non-contiguous matrix.
template <class Q, class X, std::enable_if_t<eigen_detail::is_eigen_v<X>, int> = 0>
QParams<Q> choose_qparams(const X& x, const Granularity& g, const ChooseOptions& o = {}) {
  const auto v = view(x);
  static_assert(std::is_same<std::remove_const_t<std::remove_pointer_t<decltype(v.data)>>, float>::value,
                "qmath::choose_qparams: the tensor must hold float");
  return choose_qparams<Q>(v.data, v.shape, g, o);
}

QMATH_END_NAMESPACE  // qmath
