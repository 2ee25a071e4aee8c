// SPDX-License-Identifier: Apache-2.0
// Types shared by the observers and calibrators: a calibrated range and the count of what calibration skipped.
#pragma once

#include <cstdint>

#include "qmath/core/config.hpp"

QMATH_BEGIN_NAMESPACE

/// A clipping range [min, max] chosen by a calibrator; pass it to choose_qparams.
struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

/// What an observer has seen. Calibration ignores NaN and +-Inf (they would poison a range or a histogram) and
/// counts them here, so a caller can tell "clean data" from "data with holes".
struct ObserverCounts {
  std::uint64_t finite = 0;
  std::uint64_t nan = 0;
  std::uint64_t inf = 0;
};

QMATH_END_NAMESPACE  // qmath
