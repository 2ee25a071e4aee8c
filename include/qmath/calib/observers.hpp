// SPDX-License-Identifier: Apache-2.0
// calib/observers.hpp: running min/max observers for post-training calibration, PyTorch 1.13 semantics (calib layer).
//
// Feed batches with update(), then ask for qparams<Q>():
//
//   qmath::MinMaxObserver obs(qmath::per_channel(0));
//   for (const auto& batch : calibration_set) obs.update(batch.data(), batch.shape());
//   qmath::QParams<std::int8_t> p = obs.qparams<std::int8_t>({qmath::scheme::symmetric});
//
// What is reproduced bit for bit (tests/calib/test_observers.cpp, vectors recorded from torch 1.13):
//   MinMaxObserver               torch.ao.quantization MinMaxObserver (per_tensor()) and PerChannelMinMaxObserver
//                                (per_channel(axis), any axis, negative counting from the end): the running min and
//                                max of everything seen.
//   MovingAverageMinMaxObserver  MovingAverageMinMaxObserver / MovingAveragePerChannelMinMaxObserver: the first batch
//                                sets the range, each later one moves it by min += c * (batch_min - min) (same for
//                                max), in float32 with torch's operation order: d = batch_min - min, then c * d,
//                                then min + that, each rounded to float (never fused into an FMA). As in torch, a
//                                difference beyond FLT_MAX overflows to Inf; qparams() then throws.
//   qparams<Q>(o)                choose_qparams(mins, maxs, g, o) (quant/choose.hpp); under profile::pytorch that is
//                                torch's _calculate_qparams (range widened to contain 0, eps = 2^-23). reduce_range,
//                                narrow_range (torch's quant_min=-127, quant_max=127) and float_zero_point
//                                (per_channel_affine_float_qparams) come from ChooseOptions.
// per_group(axis, size) is accepted too (one running range per group, as minmax_ranges() splits them).
//
// Where qmath deliberately differs from torch:
//   - NaN and +-Inf are skipped and counted in counts() (torch's aminmax propagates them into the range, which then
//     poisons every later batch). A batch, or a slot of a batch, with no finite value leaves that slot's range
//     unchanged; for the moving average such a slot does not move (torch would average in NaN / Inf), and the
//     first batch that does bring finite values to a slot sets it, as a first batch does.
//   - A slot that has never seen a finite value reports the range [0, 0], and qparams() computes its parameters
//     from [0, 0] (pytorch affine: scale = eps, zero point = qmin); torch returns scale 1, zero point 0 (with a
//     warning) for an observer that has seen nothing. empty() tells the two apart.
//   - Per channel, before the first non-empty batch the channel count is unknown: ranges() is empty and qparams()
//     throws. Per tensor there is always one slot.
//
// Batches: each update() is one batch of any shape (rank >= 1 for per_channel / per_group, whose axis must exist).
// Per channel the channel count (the dim at the axis) must be the same in every batch; the other dims may change.
// An empty batch (a zero dim) is a no-op after its shape is checked. Invalid shapes throw qmath::error before the
// observer changes (strong guarantee).
//
// Threads: an observer is a plain value with no locking; do not update one from several threads at once. To
// calibrate in parallel, give each thread its own MinMaxObserver and merge() them at the end: min/max are
// associative and exact, so the merged result equals observing all batches in any order on one observer.
// MovingAverageMinMaxObserver has no exact merge (the average depends on the order of the batches), so it has none.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/core/config.hpp"
#include "qmath/calib/common.hpp"
#include "qmath/core/error.hpp"
#include "qmath/eigen.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"

QMATH_BEGIN_NAMESPACE
namespace detail {

/// State and queries shared by the observers; Derived supplies fold(slot, batch_min, batch_max), which combines
/// one slot's batch range into a slot that has already seen finite values.
template <class Derived>
class RangeObserverBase {
 public:
  /// The granularity given at construction (axis as given, possibly negative).
  const Granularity& granularity() const noexcept { return granularity_; }

  /// Per-slot ranges so far, in the slot order of quant/qparams.hpp; [0, 0] for a slot with no finite value yet.
  /// Per tensor: one slot. Per channel / group: empty until the first non-empty batch fixes the slot count.
  const Ranges& ranges() const noexcept { return ranges_; }

  /// True while no finite value has been seen (in any slot).
  bool empty() const noexcept { return std::find(seen_.begin(), seen_.end(), 1) == seen_.end(); }

  /// Finite, NaN and +-Inf elements seen by update() since construction or reset().
  const ObserverCounts& counts() const noexcept { return counts_; }

  /// Parameters from the current ranges (see the top of this file for slots with no finite value).
  /// @throws qmath::error when the slot count is still unknown (per channel / group, no batch yet) or when
  ///         choose_qparams rejects the options.
  template <class Q>
  QParams<Q> qparams(const ChooseOptions& o = {}) const {
    require(!ranges_.min.empty(), "qmath::observer::qparams",
            "no batch observed yet, so the number of channels / groups is unknown");
    return choose_qparams<Q>(ranges_.min, ranges_.max, granularity_, o);
  }

  /// Forgets everything seen, as if newly constructed (same granularity and settings).
  void reset() {
    const bool one_slot = granularity_.kind == granularity_kind::per_tensor;
    ranges_.min.assign(one_slot ? 1 : 0, 0.0f);
    ranges_.max.assign(one_slot ? 1 : 0, 0.0f);
    seen_.assign(one_slot ? 1 : 0, 0);
    counts_ = ObserverCounts{};
  }

  /// Observes one batch: the dense tensor x with `shape` (stored contiguously in shape.order).
  /// @throws qmath::error on a bad shape or axis, a null x for a non-empty shape, or a slot (channel) count that
  ///         differs from earlier batches; the observer is unchanged then.
  void update(const float* x, const TensorShape& shape) {
    constexpr const char* fn = "qmath::observer::update";
    const std::size_t total = element_count(shape, fn);
    const std::size_t slots = parameter_slots(shape, granularity_, fn);
    if (total == 0) return;
    require(x != nullptr, fn, "null data pointer for a non-empty batch");
    if (!ranges_.min.empty() && slots != ranges_.min.size())
      require(false, fn,
              "the batch has " + std::to_string(slots) + " channels / groups at axis " +
                  std::to_string(granularity_.axis) + ", earlier batches had " + std::to_string(ranges_.min.size()));
    const SlotRanges b = scan_slot_ranges(x, shape, granularity_, total, slots, nonfinite_policy::skip_nan_and_inf);
    if (ranges_.min.empty()) {
      ranges_.min.assign(slots, 0.0f);
      ranges_.max.assign(slots, 0.0f);
      seen_.assign(slots, 0);
    }
    for (std::size_t s = 0; s < slots; ++s) {
      if (!b.seen(s)) continue;
      if (seen_[s]) {
        static_cast<Derived*>(this)->fold(s, b.min[s], b.max[s]);
      } else {
        ranges_.min[s] = b.min[s];
        ranges_.max[s] = b.max[s];
        seen_[s] = 1;
      }
    }
    counts_.finite += b.finite;
    counts_.nan += b.nan;
    counts_.inf += b.inf;
  }

  /// Observes an Eigen::Tensor, TensorMap or tensor expression of float (evaluated first when it is not stored);
  /// dims and axes count as Eigen does, in the tensor's layout (eigen.hpp).
  template <class Expr>
  void update(const Eigen::TensorBase<Expr, Eigen::ReadOnlyAccessors>& t) {
    using traits = Eigen::internal::traits<Expr>;
    static_assert(std::is_same<std::remove_const_t<typename traits::Scalar>, float>::value,
                  "qmath::observer::update: the tensor must hold float");
    if constexpr (eigen_detail::is_tensor_v<Expr>) {
      const auto v = view(static_cast<const Expr&>(t));
      update(v.data, v.shape);
    } else {
      const Eigen::Tensor<float, traits::NumDimensions, static_cast<int>(traits::Layout), typename traits::Index> dense(t);
      const auto v = view(dense);
      update(v.data, v.shape);
    }
  }

  /// Observes a dense matrix / array / Map / Ref of float as [rows, cols] in its storage order (axis 0 = rows).
  /// @throws qmath::error unless it is contiguous, and as update(x, shape).
  template <class Matrix>
  void update(const Eigen::DenseBase<Matrix>& m) {
    static_assert(std::is_same<typename Matrix::Scalar, float>::value, "qmath::observer::update: the matrix must hold float");
    const auto v = view(m, "qmath::observer::update", "the batch");
    update(v.data, v.shape);
  }

 protected:
  explicit RangeObserverBase(const Granularity& g) : granularity_(g) {
    require(g.kind != granularity_kind::per_group || g.group_size > 0, "qmath::observer",
            "group_size must be > 0 (got " + std::to_string(g.group_size) + ")");
    reset();
  }

  Granularity granularity_;
  Ranges ranges_;
  std::vector<unsigned char> seen_;  // 1 where the slot has seen a finite value
  ObserverCounts counts_;
};

}  // namespace detail

/// Running min and max per slot (torch's MinMaxObserver / PerChannelMinMaxObserver). See the top of this file.
class MinMaxObserver : public detail::RangeObserverBase<MinMaxObserver> {
 public:
  explicit MinMaxObserver(Granularity g = per_tensor()) : RangeObserverBase(g) {}

  /// Folds in everything `other` has seen (ranges and counts). Exact and order-independent: observing batches on
  /// several observers and merging them gives the same ranges as observing all batches on one.
  /// @throws qmath::error when the granularities or the (known) slot counts differ; this observer is unchanged.
  void merge(const MinMaxObserver& other) {
    constexpr const char* fn = "qmath::MinMaxObserver::merge";
    const Granularity &a = granularity_, &b = other.granularity_;
    detail::require(a.kind == b.kind && a.axis == b.axis && a.group_size == b.group_size, fn,
                    "the observers have different granularities");
    if (!other.ranges_.min.empty() && !ranges_.min.empty() && other.ranges_.min.size() != ranges_.min.size())
      detail::require(false, fn,
                      "the observers have " + std::to_string(ranges_.min.size()) + " and " +
                          std::to_string(other.ranges_.min.size()) + " channels / groups");
    if (ranges_.min.empty()) {
      ranges_ = other.ranges_;
      seen_ = other.seen_;
    } else {
      for (std::size_t s = 0; s < other.seen_.size(); ++s) {
        if (!other.seen_[s]) continue;
        if (seen_[s]) {
          fold(s, other.ranges_.min[s], other.ranges_.max[s]);
        } else {
          ranges_.min[s] = other.ranges_.min[s];
          ranges_.max[s] = other.ranges_.max[s];
          seen_[s] = 1;
        }
      }
    }
    counts_.finite += other.counts_.finite;
    counts_.nan += other.counts_.nan;
    counts_.inf += other.counts_.inf;
  }

 private:
  friend class detail::RangeObserverBase<MinMaxObserver>;
  void fold(std::size_t s, float lo, float hi) noexcept {
    ranges_.min[s] = std::min(ranges_.min[s], lo);
    ranges_.max[s] = std::max(ranges_.max[s], hi);
  }
};

/// Exponential moving average of each batch's min and max (torch's MovingAverageMinMaxObserver /
/// MovingAveragePerChannelMinMaxObserver). See the top of this file; no merge (the average depends on order).
class MovingAverageMinMaxObserver : public detail::RangeObserverBase<MovingAverageMinMaxObserver> {
 public:
  /// @throws qmath::error unless 0 <= averaging_constant <= 1.
  explicit MovingAverageMinMaxObserver(Granularity g = per_tensor(), float averaging_constant = 0.01f)
      : RangeObserverBase(g), averaging_constant_(averaging_constant) {
    detail::require(averaging_constant >= 0.0f && averaging_constant <= 1.0f,
                    "qmath::MovingAverageMinMaxObserver", "averaging_constant must be in [0, 1]");
  }

  float averaging_constant() const noexcept { return averaging_constant_; }

 private:
  friend class detail::RangeObserverBase<MovingAverageMinMaxObserver>;
  // torch: min + c * (batch_min - min) on float32 tensors, each operation rounded to float. The product is stored
  // through a volatile: GCC turns float(double(a) * double(b)) back into a float multiply and, on aarch64, fuses
  // that with the sum into one fmadd (one rounding fewer than torch).
  float moved(float running, float batch) const noexcept {
    const float difference = batch - running;
    const volatile float step = averaging_constant_ * difference;
    return running + step;
  }
  void fold(std::size_t s, float lo, float hi) noexcept {
    ranges_.min[s] = moved(ranges_.min[s], lo);
    ranges_.max[s] = moved(ranges_.max[s], hi);
  }

  float averaging_constant_;
};

QMATH_END_NAMESPACE  // qmath
