// SPDX-License-Identifier: Apache-2.0
// tests/kernels/test_registry.cpp: the one registry of kernel families (kernels/kernel_set.hpp, dispatch.hpp).
// Every path qmath::isa_kernels built is listed for each family that has it, each table says its own path, the
// per-family wrappers agree with the generic functions, and QMATH_ISA / ScopedIsaOverride steer every family.
#include <cstdlib>

#include <gtest/gtest.h>

#include <qmath/kernels/dispatch.hpp>
#include <qmath/kernels/gemm.hpp>

#include "support/built_isas.hpp"

namespace {

using qmath::isa;
using qmath::kernels::KernelSet;

// The units whose path has the GEMM alone.
bool gemm_only(isa path) { return path == isa::avxvnni || path == isa::avx512vnni || path == isa::neon_dotprod; }

template <class Kernels>
void expect_family_lists_its_paths(qmath::kernels::Family<Kernels> family, bool has_gemm_only_paths,
                                   const char* name) {
  SCOPED_TRACE(name);
  const isa compiled = qmath::kernels::compiled_paths(family);
  EXPECT_TRUE(qmath::has(compiled, isa::scalar));
  for (isa one : qmath::kAllIsas) {
    if (qmath::has(qmath_test::built_isa_units(), one) && (has_gemm_only_paths || !gemm_only(one))) {
      EXPECT_TRUE(qmath::has(compiled, one)) << qmath::isa_name(one) << " was built but is not listed";
    }
    const Kernels* table = qmath::kernels::kernels_for(family, one);
    EXPECT_EQ(table != nullptr, qmath::has(compiled, one)) << qmath::isa_name(one);
    if (table) {
      EXPECT_EQ(table->path, one) << qmath::isa_name(one);
    }
  }
  EXPECT_EQ(qmath::kernels::kernels_for(family, isa::none), nullptr);
}

TEST(Registry, EveryBuiltPathIsListedForEachFamily) {
  expect_family_lists_its_paths(&KernelSet::convert, false, "convert");
  expect_family_lists_its_paths(&KernelSet::quantize, false, "quantize");
  expect_family_lists_its_paths(&KernelSet::gemm, true, "gemm");
  // The conversion and quantize families come from the same units.
  EXPECT_EQ(qmath::kernels::compiled_paths(&KernelSet::convert), qmath::kernels::compiled_paths(&KernelSet::quantize));
}

TEST(Registry, WrappersAreTheGenericFunctions) {
  using namespace qmath::kernels;
  EXPECT_EQ(compiled_isas(), compiled_paths(&KernelSet::convert));
  EXPECT_EQ(compiled_gemm_isas(), compiled_paths(&KernelSet::gemm));
  for (isa one : qmath::kAllIsas) {
    EXPECT_EQ(convert_kernels(one), kernels_for(&KernelSet::convert, one));
    EXPECT_EQ(quantize_kernels(one), kernels_for(&KernelSet::quantize, one));
    EXPECT_EQ(gemm_kernels(one), kernels_for(&KernelSet::gemm, one));
  }
  EXPECT_EQ(&active_convert_kernels(), &best_active(&KernelSet::convert));
  EXPECT_EQ(&active_quantize_kernels(), &best_active(&KernelSet::quantize));
  EXPECT_EQ(&active_gemm_kernels(), &best_active(&KernelSet::gemm));
  EXPECT_EQ(qmath::active_gemm_isa(), active_gemm_kernels().path);
  EXPECT_EQ(kernels_for(&KernelSet::gemm, isa::scalar), &kScalarGemmKernels);
}

// The path a family should run when `allowed` is what dispatch may use: its best compiled path in that set.
template <class Kernels>
isa expected_best(qmath::kernels::Family<Kernels> family, isa allowed) {
  isa best = isa::scalar;
  for (isa one : qmath::kAllIsas)
    if (qmath::has(qmath::kernels::compiled_paths(family) & allowed, one)) best = one;
  return best;
}

template <class Kernels>
void expect_steered(qmath::kernels::Family<Kernels> family, isa allowed, const char* name) {
  EXPECT_EQ(qmath::kernels::best_active(family).path, expected_best(family, allowed))
      << name << " with allowed paths 0x" << std::hex << static_cast<unsigned>(allowed);
}

TEST(Registry, OverrideSteersEveryFamily) {
  for (isa one : qmath::kAllIsas) {
    if (!qmath::has(qmath::supported_isas(), one)) continue;
    const qmath::ScopedIsaOverride only(one);
    const isa allowed = qmath::allowed_isas();
    EXPECT_TRUE(qmath::has(allowed, isa::scalar));
    expect_steered(&KernelSet::convert, allowed, "convert");
    expect_steered(&KernelSet::quantize, allowed, "quantize");
    expect_steered(&KernelSet::gemm, allowed, "gemm");
    if (qmath::has(qmath::kernels::compiled_gemm_isas(), one) && qmath::has(allowed, one)) {
      EXPECT_EQ(qmath::active_gemm_isa(), one);
    }
  }
  const qmath::ScopedIsaOverride scalar_only(isa::scalar);
  EXPECT_EQ(qmath::kernels::active_convert_kernels().path, isa::scalar);
  EXPECT_EQ(qmath::kernels::active_quantize_kernels().path, isa::scalar);
  EXPECT_EQ(qmath::kernels::active_gemm_kernels().path, isa::scalar);
}

// Run by ctest a second time with QMATH_ISA set (tests/CMakeLists.txt: registry_qmath_isa_env).
TEST(Registry, EnvironmentSteersEveryFamily) {
  const char* text = std::getenv("QMATH_ISA");
  if (text == nullptr) GTEST_SKIP() << "QMATH_ISA is not set";
  const isa allowed = qmath::supported_isas() & qmath::cpu_detail::parse_isa_list(text);
  EXPECT_EQ(qmath::allowed_isas(), allowed);
  expect_steered(&KernelSet::convert, allowed, "convert");
  expect_steered(&KernelSet::quantize, allowed, "quantize");
  expect_steered(&KernelSet::gemm, allowed, "gemm");
}

}  // namespace
