// SPDX-License-Identifier: Apache-2.0
// kernels/simd/gcc_warnings.hpp: the warning push/pop around the simd bodies (kernels layer). GCC 12's AVX-512
// intrinsics start from _mm512_undefined_*(), which it then reports as (maybe-)uninitialized once inlined (GCC bug
// 105593, fixed in 13), so user code built with -march=x86-64-v4 -Werror would fail. Other compilers: no-ops.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#define QMATH_SIMD_WARNINGS_PUSH                                     \
  _Pragma("GCC diagnostic push")                                     \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")       \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define QMATH_SIMD_WARNINGS_POP _Pragma("GCC diagnostic pop")
#else
#define QMATH_SIMD_WARNINGS_PUSH
#define QMATH_SIMD_WARNINGS_POP
#endif
