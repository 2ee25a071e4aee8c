// SPDX-License-Identifier: Apache-2.0
// tests/core/compile_fail_col_major_gemm.cpp: must NOT compile (ctest eigen_col_major_gemm_rejected): the GEMM reads
// activations row by row, and a column-major Eigen matrix would be read transposed, so qmath::gemm_a rejects it with
// a static_assert.
#include <cstdint>

#include "qmath/gemm.hpp"

int main() {
  const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic> a(4, 8);  // column-major (Eigen's default)
  const std::int32_t zero = 0;
  const auto source = qmath::gemm_a(a, &zero);
  return static_cast<int>(source.m);
}
