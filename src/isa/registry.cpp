// SPDX-License-Identifier: Apache-2.0
// src/isa/registry.cpp: the kernel sets of the ISA units that were built (compiled without ISA flags). One line
// per unit; families are fields of KernelSet and need nothing here.
#include "isa_tu.hpp"

namespace qmath {
namespace kernel_abi {

KernelSetList built_kernel_sets() noexcept {
  // The trailing nullptr keeps the array non-empty where no unit is built; it is not counted.
  static const KernelSet* const sets[] = {
#if defined(QMATH_BUILT_AVX2)
      &kernel_set_avx2(),
#endif
#if defined(QMATH_BUILT_AVXVNNI)
      &kernel_set_avxvnni(),
#endif
#if defined(QMATH_BUILT_AVX512BW)
      &kernel_set_avx512bw(),
#endif
#if defined(QMATH_BUILT_AVX512VNNI)
      &kernel_set_avx512vnni(),
#endif
#if defined(QMATH_BUILT_NEON)
      &kernel_set_neon(),
#endif
#if defined(QMATH_BUILT_NEON_DOTPROD)
      &kernel_set_neon_dotprod(),
#endif
      nullptr};
  return {sets, sizeof(sets) / sizeof(sets[0]) - 1};
}

}  // namespace kernel_abi
}  // namespace qmath
