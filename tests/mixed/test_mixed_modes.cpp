// SPDX-License-Identifier: Apache-2.0
// tests/mixed/test_mixed_modes.cpp: one program, two modes. This unit is compiled with run-time dispatch (linked to
// qmath::isa_kernels), header_only_unit.cpp header-only; both make the same calls. Each must see its own mode's
// paths (the mode firewall of core/config.hpp keeps the linker from giving one unit the other's inline functions)
// and both must compute the same numbers. Both units are built at -O0, so every inline function is a real call
// the linker resolves: without the firewall the two reports would show the same paths.
#include <cstdio>

#include <gtest/gtest.h>

#include "mixed/mixed_body.hpp"
#include "support/built_isas.hpp"

#if !defined(QMATH_RUNTIME_DISPATCH)
#error "test_mixed_modes.cpp must be compiled with run-time dispatch"
#endif

namespace qmath_mixed {
ModeReport run_runtime_dispatch() { return run_mode_calls(); }
}  // namespace qmath_mixed

namespace {

using qmath_mixed::ModeReport;

TEST(MixedModes, EachUnitKeepsItsOwnMode) {
  const ModeReport header = qmath_mixed::run_header_only();
  const ModeReport runtime = qmath_mixed::run_runtime_dispatch();
  std::printf("[qmath] mixed modes: %s gemm paths 0x%x (active %s), %s gemm paths 0x%x (active %s)\n",
              header.mode.c_str(), header.gemm_isas, qmath::isa_name(static_cast<qmath::isa>(header.gemm_path)),
              runtime.mode.c_str(), runtime.gemm_isas, qmath::isa_name(static_cast<qmath::isa>(runtime.gemm_path)));
  EXPECT_EQ(header.mode, "header_only");
  EXPECT_EQ(runtime.mode, "runtime_dispatch");

  // What each mode compiles in: the run-time unit sees every unit CMake built into qmath::isa_kernels (known here
  // without asking qmath, whose answer is what is under test), the header-only unit the scalar path plus what its
  // own default flags allow.
  const qmath::isa built = qmath::isa::scalar | qmath_test::built_isa_units();
  EXPECT_EQ(runtime.gemm_isas, static_cast<std::uint32_t>(built)) << "the run-time unit lost its registry's paths";
  if (built == qmath::isa::scalar || built == (qmath::isa::scalar | qmath::isa::neon))
    GTEST_SKIP() << "qmath::isa_kernels has no GEMM path beyond what the header-only flags give on this target";
  EXPECT_NE(header.gemm_isas, runtime.gemm_isas) << "both units report the same GEMM paths: one mode's inline "
                                                    "functions replaced the other's";
  EXPECT_NE(header.compiled_isas | header.gemm_isas, runtime.compiled_isas | runtime.gemm_isas);
  // Each unit packs for, and runs, a path of its own mode.
  EXPECT_TRUE(qmath::has(static_cast<qmath::isa>(header.gemm_isas), static_cast<qmath::isa>(header.packed_path)));
  EXPECT_TRUE(qmath::has(static_cast<qmath::isa>(runtime.gemm_isas), static_cast<qmath::isa>(runtime.packed_path)));
  EXPECT_EQ(header.packed_path, header.gemm_path);
  EXPECT_EQ(runtime.packed_path, runtime.gemm_path);
  EXPECT_EQ(header.linear_path, header.gemm_path);
  EXPECT_EQ(runtime.linear_path, runtime.gemm_path);
  EXPECT_EQ(runtime.gemm_path, static_cast<std::uint32_t>(qmath::active_gemm_isa()));
}

TEST(MixedModes, BothModesComputeTheSameNumbers) {
  const ModeReport header = qmath_mixed::run_header_only();
  const ModeReport runtime = qmath_mixed::run_runtime_dispatch();
  EXPECT_EQ(header.gemm_c, runtime.gemm_c);      // every path is exact
  EXPECT_EQ(header.linear_y, runtime.linear_y);  // the dynamic Linear is bit for bit the same on every path
  EXPECT_EQ(header.codes, runtime.codes);
  EXPECT_EQ(header.error_mse, runtime.error_mse);
  EXPECT_EQ(header.error_sqnr_db, runtime.error_sqnr_db);
  EXPECT_EQ(header.error_max_abs, runtime.error_max_abs);
}

TEST(MixedModes, ErrorsCrossTheModes) {
  // qmath::error is outside the mode namespace: one type for both modes.
  EXPECT_THROW(qmath_mixed::throw_from_header_only(), qmath::error);
}

TEST(MixedModes, OverrideSteersBothModes) {
  // allowed_isas() and ScopedIsaOverride are shared too: scalar only, in both units.
  const qmath::ScopedIsaOverride scalar_only(qmath::isa::scalar);
  EXPECT_EQ(qmath_mixed::run_header_only().gemm_path, static_cast<std::uint32_t>(qmath::isa::scalar));
  EXPECT_EQ(qmath_mixed::run_runtime_dispatch().gemm_path, static_cast<std::uint32_t>(qmath::isa::scalar));
}

}  // namespace
