// SPDX-License-Identifier: Apache-2.0
// format/rounding.hpp: how a real becomes an integer code: the scale convention and the rounding rule (formats
// layer). The profiles of quant/qparams.hpp are named pairs of these.
#pragma once

#include "qmath/core/config.hpp"

// Outside the mode namespace (docs/ARCHITECTURE.md, "Mixing the modes"): the kernel tables that every mode and ISA
// unit share name these types.
namespace qmath {

/// How x is divided by the scale S.
enum class scale_op {
  multiply_reciprocal,  ///< x * (1.0f / S): PyTorch, FBGEMM
  divide                ///< x / S: ONNX, TFLite
};

/// How x (op) S is rounded to an integer.
enum class rounding {
  half_even,  ///< std::nearbyint in the default FP environment
  half_away   ///< std::round
};

struct Numerics {
  scale_op op;
  rounding round;
};

}  // namespace qmath
