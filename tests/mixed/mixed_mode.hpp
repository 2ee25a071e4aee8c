// SPDX-License-Identifier: Apache-2.0
// tests/mixed/mixed_mode.hpp: what each translation unit of test_mixed_modes reports. No qmath types cross the
// boundary (the two units see different qmath namespaces), only plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qmath_mixed {

struct ModeReport {
  std::string mode;                 // the mode this unit was compiled in
  std::uint32_t compiled_isas = 0;  // qmath::kernels::compiled_isas()
  std::uint32_t gemm_isas = 0;      // qmath::kernels::compiled_gemm_isas()
  std::uint32_t gemm_path = 0;      // qmath::active_gemm_isa(), also the path pack_gemm_b chose
  std::uint32_t packed_path = 0;    // PackedGemmB::path()
  std::uint32_t linear_path = 0;    // DynamicQuantizedLinear's packed weights
  std::vector<std::int32_t> gemm_c;
  std::vector<float> linear_y;
  std::vector<std::int8_t> codes;   // quantize
  double error_mse = 0.0, error_sqnr_db = 0.0, error_max_abs = 0.0;  // quantization_error
};

// Each unit defines one of these; both run the same calls on the same data (mixed_body.hpp).
ModeReport run_header_only();
ModeReport run_runtime_dispatch();
// Throws a qmath::error from the named unit, so the other can check that it catches it.
void throw_from_header_only();

}  // namespace qmath_mixed
