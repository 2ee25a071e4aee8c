// SPDX-License-Identifier: Apache-2.0
// core/error.hpp: qmath::error and the precondition checks of the API layer (core layer).
#pragma once

#include <stdexcept>
#include <string>

#include "qmath/core/config.hpp"

// qmath::error sits outside the mode namespace (config.hpp), so that `catch (qmath::error&)` catches what code of
// either mode throws; the helpers that throw it are ordinary mode-namespaced inline functions.
namespace qmath {

/// Thrown by the API layer when the caller breaks a documented precondition (bad scale, zero point out of range,
/// axis out of range, shape mismatch, ...). Always thrown before any output is written. The message names the
/// offending argument. Hot kernels below the API are `noexcept` and never throw.
class error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace qmath

QMATH_BEGIN_NAMESPACE
namespace detail {
/// Throws qmath::error("<function>: <message>") when `ok` is false.
inline void require(bool ok, const char* function, const std::string& message) {
  if (!ok) throw error(std::string(function) + ": " + message);
}

/// Throws qmath::error("<function>: <message>"). For checks in loops over per-element parameters, where building
/// the message before every check (as require's argument) would cost more than the work itself:
///   if (!ok) detail::fail(fn, "entry " + std::to_string(i) + ...);
[[noreturn]] inline void fail(const char* function, const std::string& message) {
  throw error(std::string(function) + ": " + message);
}
}  // namespace detail
QMATH_END_NAMESPACE  // qmath
