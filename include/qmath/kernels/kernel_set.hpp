// SPDX-License-Identifier: Apache-2.0
// kernels/kernel_set.hpp: the one registry of kernel families (kernels layer). A KernelSet holds every family's
// table for one ISA path; dispatch.hpp asks the sets of the current mode for a family by pointer to member
// (&KernelSet::gemm), so adding a family costs its table type, one field here and one line per ISA unit.
#pragma once

#include <cstddef>

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/kernels/convert_table.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/quantize_table.hpp"

// Shared by the modes and the ISA units like the tables themselves (see convert_table.hpp).
namespace qmath {
namespace kernel_abi {

/// The tables of one ISA path; nullptr where a family has no kernels on that path (e.g. conversions on
/// avx512vnni, a GEMM-only path).
struct KernelSet {
  isa path;
  const ConvertKernels* convert;
  const QuantizeKernels* quantize;
  const GemmKernels* gemm;
  const DepthwiseKernels* depthwise;  ///< on every path that has the GEMM (its tiles end in the GEMM's epilogue)
};

/// A family: which field of KernelSet holds its tables.
template <class Kernels>
using Family = const Kernels* KernelSet::*;

/// The sets a build offers besides scalar, in no particular order.
struct KernelSetList {
  const KernelSet* const* sets;
  std::size_t count;
};

#if defined(QMATH_RUNTIME_DISPATCH)
/// Defined in qmath::isa_kernels (src/isa/registry.cpp): one set per ISA unit that was built.
KernelSetList built_kernel_sets() noexcept;
#endif

}  // namespace kernel_abi
}  // namespace qmath

QMATH_BEGIN_NAMESPACE
namespace kernels {
using ::qmath::kernel_abi::Family;
using ::qmath::kernel_abi::KernelSet;
}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
