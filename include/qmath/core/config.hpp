// SPDX-License-Identifier: Apache-2.0
// core/config.hpp: version, platform macros (core layer).
#pragma once

#define QMATH_VERSION_MAJOR 0
#define QMATH_VERSION_MINOR 1
#define QMATH_VERSION_PATCH 0
#define QMATH_VERSION_STRING "0.1.0"

#if defined(__x86_64__) || defined(_M_X64)
#define QMATH_ARCH_X86_64 1
#else
#define QMATH_ARCH_X86_64 0
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define QMATH_ARCH_AARCH64 1
#else
#define QMATH_ARCH_AARCH64 0
#endif

// Keeps a function out of line (a register tile the compiler must allocate on its own, see docs/gemm.md).
#if defined(__GNUC__) || defined(__clang__)
#define QMATH_NOINLINE __attribute__((noinline))
#else
#define QMATH_NOINLINE
#endif
// Forces the GEMM epilogue and its per-row steps into their callers: GCC kept them out of line on some paths, the
// sums passing through memory (the depthwise kernel ran at half speed on avx512vnni for it).
#if defined(__GNUC__) || defined(__clang__)
#define QMATH_ALWAYS_INLINE __attribute__((always_inline))
#else
#define QMATH_ALWAYS_INLINE
#endif

// The mode firewall (docs/ARCHITECTURE.md, "Mixing the modes"). Header-only and run-time-dispatch builds give
// the same inline functions different bodies, so everything whose code can depend on the mode lives in an inline
// namespace named after it: a program mixing both modes keeps both copies instead of the linker picking one. User
// code still writes qmath::foo. The ISA translation units of qmath::isa_kernels set QMATH_ABI_NS to a name of
// their own (isa_<name>), so that nothing they compile with wider ISA flags can stand in for another unit's copy.
#if !defined(QMATH_ABI_NS)
#if defined(QMATH_RUNTIME_DISPATCH)
#define QMATH_ABI_NS runtime_dispatch
#else
#define QMATH_ABI_NS header_only
#endif
#endif
#define QMATH_BEGIN_NAMESPACE \
  namespace qmath {           \
  inline namespace QMATH_ABI_NS {
#define QMATH_END_NAMESPACE \
  }                         \
  }
