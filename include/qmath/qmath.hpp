// SPDX-License-Identifier: Apache-2.0
// qmath.hpp: the umbrella header; includes every public layer.
#pragma once

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/format/rounding.hpp"
#include "qmath/convert.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/layout.hpp"
#include "qmath/quant/qparams.hpp"
#include "qmath/quant/quantize.hpp"
#include "qmath/quant/requantize.hpp"
