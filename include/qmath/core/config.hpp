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
