// SPDX-License-Identifier: Apache-2.0
// tests/support/built_isas.hpp: the ISA units CMake built into qmath::isa_kernels (QMATH_BUILT_ISAS, passed as
// QMATH_TEST_BUILT_ISAS, comma-separated), known without asking qmath.
#pragma once

#include <sstream>
#include <string>

#include <qmath/core/cpu.hpp>

namespace qmath_test {

inline qmath::isa built_isa_units() {
  qmath::isa units = qmath::isa::none;
  std::stringstream list(QMATH_TEST_BUILT_ISAS);
  for (std::string name; std::getline(list, name, ',');)
    for (qmath::isa one : qmath::kAllIsas)
      if (name == qmath::isa_name(one)) units = units | one;
  return units;
}

}  // namespace qmath_test
