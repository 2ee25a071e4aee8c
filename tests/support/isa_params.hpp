// SPDX-License-Identifier: Apache-2.0
// tests/support/isa_params.hpp: parameterising tests over the compiled ISA paths.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/kernels/dispatch.hpp"

namespace qmath_test {

/// Every ISA path compiled into the test binary, scalar first.
inline std::vector<qmath::isa> compiled_isa_list() {
  std::vector<qmath::isa> list;
  for (qmath::isa path : qmath::kAllIsas)
    if (qmath::has(qmath::kernels::compiled_isas(), path)) list.push_back(path);
  return list;
}

inline std::string isa_param_name(const ::testing::TestParamInfo<qmath::isa>& info) {
  return qmath::isa_name(info.param);
}

}  // namespace qmath_test

/// Skips (visibly) the current test when this CPU cannot run `path`.
#define QMATH_SKIP_IF_UNSUPPORTED(path)                                                          \
  do {                                                                                           \
    if (!qmath::has(qmath::supported_isas(), (path)))                                            \
      GTEST_SKIP() << "this CPU lacks " << qmath::isa_name(path) << ": path not tested here";   \
  } while (0)
