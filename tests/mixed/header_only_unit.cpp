// SPDX-License-Identifier: Apache-2.0
// tests/mixed/header_only_unit.cpp: the header-only half of test_mixed_modes (compiled without
// QMATH_RUNTIME_DISPATCH, default flags).
#include "mixed/mixed_body.hpp"

#if defined(QMATH_RUNTIME_DISPATCH)
#error "header_only_unit.cpp must be compiled header-only"
#endif

namespace qmath_mixed {
ModeReport run_header_only() { return run_mode_calls(); }
void throw_from_header_only() { qmath::detail::fail("throw_from_header_only", "expected"); }
}  // namespace qmath_mixed
