// SPDX-License-Identifier: Apache-2.0
// src/isa/isa_tu.hpp: what every ISA translation unit defines: one KernelSet, the tables of every family it has.
// Each unit is compiled with its ISA's flags and sets QMATH_ABI_NS to a name of its own before including qmath, so
// every inline function and template it instantiates from qmath is a symbol of its own; the only names it shares
// with the rest are the table types and the accessors below, in qmath::kernel_abi. It must still not call
// non-template inline functions from outside qmath (the standard library, xsimd's own), whose copies the linker
// may pick for the whole program; tests/isa_leak_check.py looks for such symbols.
#pragma once

#include "qmath/kernels/kernel_set.hpp"

namespace qmath {
namespace kernel_abi {
const KernelSet& kernel_set_avx2() noexcept;
const KernelSet& kernel_set_avxvnni() noexcept;
const KernelSet& kernel_set_avx512bw() noexcept;
const KernelSet& kernel_set_avx512vnni() noexcept;
const KernelSet& kernel_set_neon() noexcept;
const KernelSet& kernel_set_neon_dotprod() noexcept;
}  // namespace kernel_abi
}  // namespace qmath
