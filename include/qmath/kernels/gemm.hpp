// SPDX-License-Identifier: Apache-2.0
// kernels/gemm.hpp: kept so that code written against the first GEMM API still compiles; the API is qmath/gemm.hpp.
#pragma once

#include "qmath/gemm.hpp"
