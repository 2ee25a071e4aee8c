// SPDX-License-Identifier: Apache-2.0
// quant/fake_quant.hpp: fake quantization for quantization-aware training: the forward pass, the clipped
// straight-through backward and the learnable scale / zero point gradients of LSQ, bit for bit as PyTorch 1.13
// computes them on x86-64 (API layer).
//
// ---- Forward -------------------------------------------------------------------------------------------------------
// torch.fake_quantize_per_tensor_affine / _per_channel_affine and the pytorch profile of QParams, per element with
// its slot's scale S and integer zero point Z:
//   r    = nearbyint(x * (1.0f / S))                      float product, half to even
//   code = to_int64(float(Z) + r)                          torch adds Z in float (rounds once |r| > 2^24)
//   y    = float((double(clamp(code, qmin, qmax)) - Z) * double(S))
//   mask = qmin <= code <= qmax                            taken before the clamp: the straight-through window
// With a float zero point Zf (QParams::float_zero_point, torch's per-channel float zero points):
//   code = to_int64(nearbyint(fma(x, 1.0f / S, Zf)))       one rounding: torch's AVX2 build fuses the multiply-add
//   y    = float((double(clamp(code, qmin, qmax)) - Zf) * double(S))
// to_int64 is the x86 conversion torch's kernels rely on: NaN and anything outside int64 give INT64_MIN. So NaN,
// +-Inf and every x with x * (1/S) >= 2^63 come out as (qmin - Z) * S with mask 0, as in torch.
//
// Relation to quantize.hpp. Under profile::pytorch with integer zero points, a code type of 16 bits or fewer and x
// not NaN with x * (1/S) < 2^63, fake_quantize(x) == dequantize(quantize(x)) bit for bit: Z + r is exact in float
// wherever it can land inside [qmin, qmax], and (c - Z) * S rounds once either way. They part ways on NaN and huge
// positive x (quantize: NaN -> Z, +Inf -> qmax), on int32 codes (float addition of Z, one double rounding of the
// product) and on float zero points (quantize does not fuse the multiply-add). Under profile::onnx and
// profile::tflite fake_quantize *is* dequantize(quantize(x)) with that profile's numerics, NaN counting as 0.0, and
// the mask tells whether round(x (op) S) + Z lies in [qmin, qmax].
//
// ---- Straight-through backward -------------------------------------------------------------------------------------
//   grad_x = grad_y * (mask ? 1.0f : 0.0f)        a multiply, as in torch: masked NaN / Inf give NaN, -g gives -0
//
// ---- Learnable scale and zero point (LSQ) --------------------------------------------------------------------------
// torch._fake_quantize_learnable_per_tensor_affine / _per_channel_affine (torch.ao.quantization's
// _LearnableFakeQuantize). Scale and zero point are learnable floats; the forward rounds the zero point half to
// even and clamps it into [qmin, qmax], then runs the forward above. The backward, per element, with inv = 1.0f / S
// and the backward's zero point Zb:
//   code   = to_int64(nearbyint(fma(x, inv, Zb)))  Zb added before rounding, fused (torch's AVX2 build)
//   in     = qmin <= code <= qmax
//   grad_x = grad_y * (in ? 1 : 0)
//   in range: d_scale = ((grad_y * fma(code - Zb, S, -x)) * inv) * grad_factor
//             d_zero  = 0
//             ((x_fq - x) / S: the straight-through derivative of (round(x / S) - Z) * S with respect to S)
//   outside:  d_scale = (grad_y * ((code < qmin ? qmin : qmax) - Zb)) * grad_factor
//             d_zero  = ((grad_y * -1) * S) * grad_factor
//   grad_scale[slot] = sum of d_scale over the slot's elements, grad_zero_point[slot] = sum of d_zero.
// Zb is torch's, which differs between granularities: per tensor trunc(clamp(Zf + 0.5f)) (so 2.5 -> 3, -3.7 -> -3
// and even -3.0 -> -2, where the forward uses 2, -4 and -3), per channel (and per group) clamp(nearbyint(Zf)), as
// in the forward. Every per-element value above is bit exact with torch. The sums are not always: torch reduces
// with its vectorized cascade sum in float, qmath adds in double and rounds once, so grad_scale / grad_zero_point
// agree with torch to about 1e-7 of the sum of |terms| (exactly when a slot has one element).
//
// Torch's CPU capability matters where an FMA appears above: under ATEN_CPU_CAPABILITY=default (no FMA) torch rounds
// the product first and differs near rounding ties. qmath reproduces the AVX2 / AVX512 builds that torch runs on
// every x86-64 CPU with AVX2. std::fma is exact on every target (a library call where the CPU has no FMA).
//
// Every entry point checks its arguments and throws qmath::error before writing anything. An empty tensor is a
// no-op (the learnable backward then returns zero gradients).
#pragma once

#include <algorithm>
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
#include "qmath/format/rounding.hpp"
#include "qmath/kernels/ref/quantize.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE

/// Learnable quantization parameters of LSQ (torch's _LearnableFakeQuantize keeps both as float tensors).
/// - granularity: per_tensor(), per_channel(axis) (any axis, negative counts from the end) or per_group (which
///   follows the per-channel rules).
/// - scale: one per slot, finite and > 0 with a finite reciprocal.
/// - zero_point: one per slot, finite; rounded and clamped into [qmin, qmax] by the ops, as torch does.
/// - qmin <= qmax, both within [-2^24, 2^24] so that the codes and zero points are exact floats.
struct LearnableQParams {
  Granularity granularity = per_tensor();
  std::vector<float> scale{1.0f};
  std::vector<float> zero_point{0.0f};
  std::int32_t qmin = 0;
  std::int32_t qmax = 255;
};

/// What fake_quantize_learnable_backward returns: grad_x has one entry per element of x, grad_scale and
/// grad_zero_point one per parameter slot.
struct LearnableGradients {
  std::vector<float> grad_x;
  std::vector<float> grad_scale;
  std::vector<float> grad_zero_point;
};

namespace detail {

/// float -> int64 as x86's cvttss2si converts (torch's kernels depend on it): NaN and every value outside int64
/// give INT64_MIN, the "integer indefinite".
inline std::int64_t x86_float_to_int64(float v) noexcept {
  constexpr float kTwo63 = 9223372036854775808.0f;
  if (!(v >= -kTwo63 && v < kTwo63)) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

inline std::int64_t clamp_code(std::int64_t code, std::int32_t qmin, std::int32_t qmax) noexcept {
  return std::min<std::int64_t>(std::max<std::int64_t>(code, qmin), qmax);
}

/// torch's forward with an integer zero point (the top of this file).
inline float fake_quantize_value(float x, float scale, float inv_scale, std::int32_t zero_point, std::int32_t qmin,
                                 std::int32_t qmax, bool& in_range) noexcept {
  const float rounded = std::nearbyint(x * inv_scale);
  const std::int64_t code = x86_float_to_int64(static_cast<float>(zero_point) + rounded);
  in_range = qmin <= code && code <= qmax;
  return static_cast<float>((static_cast<double>(clamp_code(code, qmin, qmax)) - static_cast<double>(zero_point)) *
                            static_cast<double>(scale));
}

/// torch's forward with a float zero point.
inline float fake_quantize_value_float_zp(float x, float scale, float inv_scale, float zero_point, std::int32_t qmin,
                                          std::int32_t qmax, bool& in_range) noexcept {
  const std::int64_t code = x86_float_to_int64(std::nearbyint(std::fma(x, inv_scale, zero_point)));
  in_range = qmin <= code && code <= qmax;
  return static_cast<float>((static_cast<double>(clamp_code(code, qmin, qmax)) - static_cast<double>(zero_point)) *
                            static_cast<double>(scale));
}

/// dequantize(quantize(x)) with the numerics of another profile; factor is what kernels/ref/quantize.hpp takes.
inline float requantize_round_trip(float x, float scale, float factor, std::int32_t zero_point, std::int32_t qmin,
                                   std::int32_t qmax, Numerics numerics, bool& in_range) noexcept {
  const float finite_or_zero = std::isnan(x) ? 0.0f : x;
  const double code =
      kernels::ref::round_to_integer(kernels::ref::apply_scale(finite_or_zero, factor, numerics.op), numerics.round) +
      zero_point;
  in_range = code >= qmin && code <= qmax;
  return kernels::ref::dequantize_value(kernels::ref::quantize_value(x, factor, zero_point, qmin, qmax, numerics),
                                        scale, zero_point);
}

inline float requantize_round_trip_float_zp(float x, float scale, float factor, float zero_point, std::int32_t qmin,
                                            std::int32_t qmax, Numerics numerics, bool& in_range) noexcept {
  const float finite_or_zero = std::isnan(x) ? 0.0f : x;
  // As kernels::ref::quantize_value_float_zp: product and sum rounded separately.
  const float scaled = numerics.op == scale_op::multiply_reciprocal
                           ? static_cast<float>(static_cast<double>(finite_or_zero) * static_cast<double>(factor))
                           : finite_or_zero / factor;
  const double code = kernels::ref::round_to_integer(scaled + zero_point, numerics.round);
  in_range = code >= qmin && code <= qmax;
  return kernels::ref::dequantize_value_float_zp(
      kernels::ref::quantize_value_float_zp(x, factor, zero_point, qmin, qmax, numerics), scale, zero_point);
}

/// Calls body(i, slot) once for every element i of the tensor, slot being the index of its parameters. The
/// parameter_slots() preconditions of for_each_run apply.
template <class Body>
void for_each_element_slot(const TensorShape& shape, const Granularity& g, std::size_t total, std::size_t slots,
                           Body&& body) {
  if (g.kind == granularity_kind::per_tensor) {
    for (std::size_t i = 0; i < total; ++i) body(i, std::size_t{0});
    return;
  }
  for_each_slot_run(shape, g, total, slots, [&](std::size_t at, std::size_t count, const std::size_t* slot, bool each) {
    for (std::size_t k = 0; k < count; ++k) body(at + k, slot[each ? k : 0]);
  });
}

/// A scale the fake quantize formulas can use: finite, > 0, with a finite reciprocal.
inline bool usable_scale(float s) noexcept { return std::isfinite(s) && s > 0.0f && std::isfinite(1.0f / s); }

inline void check_scales(const float* scale, std::size_t count, const char* fn) {
  for (std::size_t i = 0; i < count; ++i) {
    if (usable_scale(scale[i])) continue;
    require(std::isfinite(scale[i]) && scale[i] > 0.0f, fn,
            "scale[" + std::to_string(i) + "] must be finite and > 0 (got " + float_text(scale[i]) + ")");
    require(false, fn, "scale[" + std::to_string(i) + "] is too small: 1/scale overflows float");
  }
}

inline void check_code_range(std::int32_t qmin, std::int32_t qmax, const char* fn) {
  if (qmin > qmax)
    require(false, fn, "qmin must be <= qmax (got " + std::to_string(qmin) + " > " + std::to_string(qmax) + ")");
}

/// torch requires integer zero points inside [qmin, qmax].
inline void check_zero_points_in_range(const std::int32_t* zero_point, std::size_t count, std::int32_t qmin,
                                       std::int32_t qmax, const char* fn) {
  for (std::size_t i = 0; i < count; ++i)
    if (zero_point[i] < qmin || zero_point[i] > qmax)
      require(false, fn,
              "zero_point[" + std::to_string(i) + "] = " + std::to_string(zero_point[i]) +
                  " is outside [qmin, qmax] = [" + std::to_string(qmin) + ", " + std::to_string(qmax) + "]");
}

/// The torch-style forward over a tensor, after the checks: integer zero points, one entry per slot.
inline void fake_quantize_int_zp(const float* x, const TensorShape& shape, const Granularity& g, std::size_t total,
                                 const float* scale, const std::int32_t* zero_point, std::size_t slots,
                                 std::int32_t qmin, std::int32_t qmax, float* out, std::uint8_t* mask) {
  std::vector<float> inv(slots);
  for (std::size_t s = 0; s < slots; ++s) inv[s] = 1.0f / scale[s];
  for_each_element_slot(shape, g, total, slots, [&](std::size_t i, std::size_t slot) {
    bool in_range = false;
    out[i] = fake_quantize_value(x[i], scale[slot], inv[slot], zero_point[slot], qmin, qmax, in_range);
    if (mask != nullptr) mask[i] = in_range ? 1 : 0;
  });
}

inline constexpr std::int32_t kLearnableCodeLimit = 1 << 24;

/// Checks a learnable call; returns the element count and sets `slots`.
inline std::size_t check_learnable(const TensorShape& shape, const LearnableQParams& p, std::size_t& slots,
                                   const char* fn) {
  const std::size_t total = element_count(shape, fn);
  slots = parameter_slots(shape, p.granularity, fn);
  check_code_range(p.qmin, p.qmax, fn);
  if (p.qmin < -kLearnableCodeLimit || p.qmax > kLearnableCodeLimit)
    require(false, fn,
            "qmin and qmax must lie in [-2^24, 2^24] (got [" + std::to_string(p.qmin) + ", " + std::to_string(p.qmax) +
                "])");
  if (p.scale.size() != slots)
    require(false, fn,
            "scale has " + std::to_string(p.scale.size()) + " entries, the granularity needs " + std::to_string(slots));
  if (p.zero_point.size() != slots)
    require(false, fn,
            "zero_point has " + std::to_string(p.zero_point.size()) + " entries, the granularity needs " +
                std::to_string(slots));
  check_scales(p.scale.data(), slots, fn);
  for (std::size_t i = 0; i < slots; ++i)
    if (!std::isfinite(p.zero_point[i]))
      require(false, fn,
              "zero_point[" + std::to_string(i) + "] must be finite (got " + float_text(p.zero_point[i]) + ")");
  return total;
}

/// The forward's integer zero point of a learnable one: half to even, clamped (torch, every granularity).
inline std::int32_t learnable_forward_zero_point(float zero_point, std::int32_t qmin, std::int32_t qmax) noexcept {
  const float clamped =
      std::min(std::max(std::nearbyint(zero_point), static_cast<float>(qmin)), static_cast<float>(qmax));
  return static_cast<std::int32_t>(clamped);
}

/// The backward's zero point, an integer-valued float (see the top of this file for why the two differ).
inline float learnable_backward_zero_point(float zero_point, bool per_tensor, std::int32_t qmin,
                                           std::int32_t qmax) noexcept {
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  if (per_tensor) return std::trunc(std::min(std::max(zero_point + 0.5f, lo), hi));
  return std::min(std::max(std::nearbyint(zero_point), lo), hi);
}

}  // namespace detail

// ---- Forward -------------------------------------------------------------------------------------------------------

/// Fake quantizes the n floats x into out, per tensor, as torch.fake_quantize_per_tensor_affine(x, scale,
/// zero_point, qmin, qmax). When mask is not null it receives 1 where the straight-through estimator passes the
/// gradient and 0 elsewhere (torch's cachemask). out may be x; mask must not overlap either.
/// @throws qmath::error when scale is not finite and > 0 (or 1/scale overflows), qmin > qmax, zero_point lies
/// outside [qmin, qmax] or a pointer is null with n > 0.
inline void fake_quantize(const float* x, std::size_t n, float scale, std::int32_t zero_point, std::int32_t qmin,
                          std::int32_t qmax, float* out, std::uint8_t* mask = nullptr) {
  constexpr const char* fn = "qmath::fake_quantize";
  detail::check_scales(&scale, 1, fn);
  detail::check_code_range(qmin, qmax, fn);
  detail::check_zero_points_in_range(&zero_point, 1, qmin, qmax, fn);
  detail::require(n == 0 || (x != nullptr && out != nullptr), fn, "null data pointer for a non-empty tensor");
  const TensorShape shape{{static_cast<std::int64_t>(n)}, storage_order::row_major};
  detail::fake_quantize_int_zp(x, shape, per_tensor(), n, &scale, &zero_point, 1, qmin, qmax, out, mask);
}

/// Fake quantizes per channel along `axis` (negative counts from the end; torch takes only axis >= 0), as
/// torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis, qmin, qmax) with int32 zero points.
/// scale and zero_point hold shape.dims[axis] entries. out may be x.
/// @throws qmath::error on a bad axis or shape, mismatched lengths, and as the per-tensor overload.
inline void fake_quantize(const float* x, const TensorShape& shape, int axis, const std::vector<float>& scale,
                          const std::vector<std::int32_t>& zero_point, std::int32_t qmin, std::int32_t qmax, float* out,
                          std::uint8_t* mask = nullptr) {
  constexpr const char* fn = "qmath::fake_quantize";
  const std::size_t total = detail::element_count(shape, fn);
  const Granularity g = per_channel(axis);
  const std::size_t slots = detail::parameter_slots(shape, g, fn);
  if (scale.size() != slots || zero_point.size() != slots)
    detail::require(false, fn,
                    "scale and zero_point need " + std::to_string(slots) + " entries each (got " +
                        std::to_string(scale.size()) + " and " + std::to_string(zero_point.size()) + ")");
  detail::check_scales(scale.data(), slots, fn);
  detail::check_code_range(qmin, qmax, fn);
  detail::check_zero_points_in_range(zero_point.data(), slots, qmin, qmax, fn);
  detail::require(total == 0 || (x != nullptr && out != nullptr), fn, "null data pointer for a non-empty tensor");
  if (total == 0) return;
  detail::fake_quantize_int_zp(x, shape, g, total, scale.data(), zero_point.data(), slots, qmin, qmax, out, mask);
}

/// Fake quantizes with qmath's parameters, any granularity (layout as in quantize.hpp). Under profile::pytorch
/// this is torch's fake quantize (float zero points as torch's per-channel float qparams); under the other
/// profiles it is dequantize(quantize(x)) with their numerics (see the top of this file). out may be x.
/// @throws qmath::error as quantize() does, and when an integer zero point lies outside [p.qmin, p.qmax].
template <class Q>
void fake_quantize(const float* x, const TensorShape& shape, const QParams<Q>& p, float* out,
                   std::uint8_t* mask = nullptr) {
  constexpr const char* fn = "qmath::fake_quantize";
  const std::size_t total = detail::element_count(shape, fn);
  const std::size_t slots = detail::parameter_slots(shape, p.granularity, fn);
  detail::check_qparams(p, slots, fn);
  if (!p.has_float_zero_point()) detail::check_zero_points_in_range(p.zero_point.data(), slots, p.qmin, p.qmax, fn);
  detail::require(total == 0 || (x != nullptr && out != nullptr), fn, "null data pointer for a non-empty tensor");
  if (total == 0) return;

  const Numerics numerics = numerics_of(p.numerics);
  if (p.numerics == profile::pytorch && !p.has_float_zero_point()) {
    detail::fake_quantize_int_zp(x, shape, p.granularity, total, p.scale.data(), p.zero_point.data(), slots, p.qmin,
                                 p.qmax, out, mask);
    return;
  }
  std::vector<float> factor(p.scale);  // 1/S or S, as kernels/ref/quantize.hpp takes it
  if (numerics.op == scale_op::multiply_reciprocal)
    for (float& f : factor) f = 1.0f / f;
  detail::for_each_element_slot(shape, p.granularity, total, slots, [&](std::size_t i, std::size_t slot) {
    bool in_range = false;
    const float s = p.scale[slot];
    if (p.numerics == profile::pytorch)
      out[i] = detail::fake_quantize_value_float_zp(x[i], s, factor[slot], p.float_zero_point[slot], p.qmin, p.qmax,
                                                    in_range);
    else if (p.has_float_zero_point())
      out[i] = detail::requantize_round_trip_float_zp(x[i], s, factor[slot], p.float_zero_point[slot], p.qmin, p.qmax,
                                                      numerics, in_range);
    else
      out[i] =
          detail::requantize_round_trip(x[i], s, factor[slot], p.zero_point[slot], p.qmin, p.qmax, numerics, in_range);
    if (mask != nullptr) mask[i] = in_range ? 1 : 0;
  });
}

/// Eigen form: fake quantizes an Eigen::Tensor / TensorMap or a contiguous matrix / array / Map of float into a new
/// float object of the same dims and storage order; mask (optional) receives one byte per element in memory order.
/// @throws qmath::error as the raw form, or for a non-contiguous matrix.
template <class Q, class X, std::enable_if_t<eigen_detail::is_tensor_v<X>, int> = 0>
Eigen::Tensor<float, X::NumDimensions, X::Layout, typename X::Index> fake_quantize(const X& x, const QParams<Q>& p,
                                                                                   std::vector<std::uint8_t>* mask = nullptr) {
  const auto v = view(x);
  Eigen::Tensor<float, X::NumDimensions, X::Layout, typename X::Index> out(x.dimensions());
  if (mask) mask->resize(v.size());
  fake_quantize(v.data, v.shape, p, out.data(), mask ? mask->data() : nullptr);
  return out;
}
template <class Q, class Derived>
Eigen::Matrix<float, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime, (Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor)>
fake_quantize(const Eigen::DenseBase<Derived>& x, const QParams<Q>& p, std::vector<std::uint8_t>* mask = nullptr) {
  static_assert(std::is_same<typename Derived::Scalar, float>::value, "qmath::fake_quantize: x must hold float");
  const auto v = view(x, "qmath::fake_quantize", "x");
  Eigen::Matrix<float, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime, (Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor)>
      out(x.rows(), x.cols());
  if (mask) mask->resize(v.size());
  fake_quantize(v.data, v.shape, p, out.data(), mask ? mask->data() : nullptr);
  return out;
}

// ---- Straight-through backward -------------------------------------------------------------------------------------

/// grad_x = grad_y * (mask ? 1 : 0) over n elements (a nonzero mask byte passes), torch's
/// fake_quantize_*_cachemask_backward. grad_x may be grad_y. @throws qmath::error on a null pointer with n > 0.
inline void fake_quantize_backward(const float* grad_y, const std::uint8_t* mask, std::size_t n, float* grad_x) {
  detail::require(n == 0 || (grad_y != nullptr && mask != nullptr && grad_x != nullptr),
                  "qmath::fake_quantize_backward", "null data pointer for a non-empty tensor");
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = grad_y[i] * (mask[i] != 0 ? 1.0f : 0.0f);
}

// ---- Learnable scale and zero point (LSQ) --------------------------------------------------------------------------

/// LSQ's gradient scaling 1 / sqrt(numel * qmax), as _LearnableFakeQuantize(use_grad_scaling=True) computes it in
/// double, rounded to the float torch's kernel uses. @throws qmath::error unless numel > 0 and qmax > 0.
inline float lsq_grad_factor(std::size_t numel, std::int32_t qmax) {
  detail::require(numel > 0 && qmax > 0, "qmath::lsq_grad_factor", "numel and qmax must be > 0");
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(numel) * static_cast<double>(qmax)));
}

/// The forward of torch._fake_quantize_learnable_per_tensor_affine / _per_channel_affine: the zero points rounded
/// half to even and clamped into [qmin, qmax], then fake_quantize. out may be x.
/// @throws qmath::error on invalid parameters (LearnableQParams), a bad shape or a null pointer.
inline void fake_quantize_learnable(const float* x, const TensorShape& shape, const LearnableQParams& p, float* out) {
  constexpr const char* fn = "qmath::fake_quantize_learnable";
  std::size_t slots = 0;
  const std::size_t total = detail::check_learnable(shape, p, slots, fn);
  detail::require(total == 0 || (x != nullptr && out != nullptr), fn, "null data pointer for a non-empty tensor");
  if (total == 0) return;
  std::vector<std::int32_t> zero_point(slots);
  for (std::size_t s = 0; s < slots; ++s)
    zero_point[s] = detail::learnable_forward_zero_point(p.zero_point[s], p.qmin, p.qmax);
  detail::fake_quantize_int_zp(x, shape, p.granularity, total, p.scale.data(), zero_point.data(), slots, p.qmin, p.qmax,
                               out, nullptr);
}

/// The backward of the learnable fake quantize (formulas at the top of this file) for the upstream gradient grad_y:
/// writes grad_x (one per element; may be grad_y), grad_scale and grad_zero_point (one per slot each).
/// grad_factor scales the scale and zero point gradients (1 for plain STE, lsq_grad_factor() for LSQ).
/// @throws qmath::error on invalid parameters, a non-finite grad_factor, a bad shape or a null pointer.
inline void fake_quantize_learnable_backward(const float* grad_y, const float* x, const TensorShape& shape,
                                             const LearnableQParams& p, float grad_factor, float* grad_x,
                                             float* grad_scale, float* grad_zero_point) {
  constexpr const char* fn = "qmath::fake_quantize_learnable_backward";
  std::size_t slots = 0;
  const std::size_t total = detail::check_learnable(shape, p, slots, fn);
  if (!std::isfinite(grad_factor))
    detail::require(false, fn, "grad_factor must be finite (got " + detail::float_text(grad_factor) + ")");
  detail::require(total == 0 || (grad_y != nullptr && x != nullptr && grad_x != nullptr), fn,
                  "null data pointer for a non-empty tensor");
  detail::require(grad_scale != nullptr && grad_zero_point != nullptr, fn, "null gradient pointer");

  const bool per_tensor_rules = p.granularity.kind == granularity_kind::per_tensor;
  std::vector<float> inv(slots), zero(slots);
  for (std::size_t s = 0; s < slots; ++s) {
    inv[s] = 1.0f / p.scale[s];
    zero[s] = detail::learnable_backward_zero_point(p.zero_point[s], per_tensor_rules, p.qmin, p.qmax);
  }
  // torch sums the float terms in its own order; summing in double keeps ours within about one float rounding
  // of the exact sum, whatever the order.
  std::vector<double> sum_scale(slots, 0.0), sum_zero(slots, 0.0);
  const float lo = static_cast<float>(p.qmin), hi = static_cast<float>(p.qmax);
  detail::for_each_element_slot(shape, p.granularity, total, slots, [&](std::size_t i, std::size_t slot) {
    const float gy = grad_y[i], xi = x[i], s = p.scale[slot], z = zero[slot];
    const std::int64_t code = detail::x86_float_to_int64(std::nearbyint(std::fma(xi, inv[slot], z)));
    const bool in_range = p.qmin <= code && code <= p.qmax;
    float d_scale = 0.0f, d_zero = 0.0f;
    if (in_range) {
      // |code|, |z| <= 2^24: one rounding of code - z, as torch's integer or float subtraction gives.
      const float fq_minus_x = std::fma(static_cast<float>(code) - z, s, -xi);
      d_scale = ((gy * fq_minus_x) * inv[slot]) * grad_factor;
    } else {
      d_scale = (gy * ((code < p.qmin ? lo : hi) - z)) * grad_factor;
      d_zero = ((gy * -1.0f) * s) * grad_factor;
    }
    grad_x[i] = gy * (in_range ? 1.0f : 0.0f);
    sum_scale[slot] += static_cast<double>(d_scale);
    sum_zero[slot] += static_cast<double>(d_zero);
  });
  for (std::size_t s = 0; s < slots; ++s) {
    grad_scale[s] = static_cast<float>(sum_scale[s]);
    grad_zero_point[s] = static_cast<float>(sum_zero[s]);
  }
}

/// As above, returning the gradients in a LearnableGradients.
inline LearnableGradients fake_quantize_learnable_backward(const float* grad_y, const float* x,
                                                           const TensorShape& shape, const LearnableQParams& p,
                                                           float grad_factor = 1.0f) {
  constexpr const char* fn = "qmath::fake_quantize_learnable_backward";
  LearnableGradients g;
  g.grad_x.resize(detail::element_count(shape, fn));
  const std::size_t slots = detail::parameter_slots(shape, p.granularity, fn);
  g.grad_scale.resize(slots);
  g.grad_zero_point.resize(slots);
  fake_quantize_learnable_backward(grad_y, x, shape, p, grad_factor, g.grad_x.data(), g.grad_scale.data(),
                                   g.grad_zero_point.data());
  return g;
}

QMATH_END_NAMESPACE  // qmath
