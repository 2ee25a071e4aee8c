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
#include "qmath/convert.hpp"
