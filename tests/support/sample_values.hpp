// SPDX-License-Identifier: Apache-2.0
// tests/support/sample_values.hpp: element values for the file-format round-trip tests.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

namespace qmath_test {

// Both ends of T's range and values in between, so a wrong width or signedness shows.
template <class T>
std::vector<T> sample_values(std::size_t n) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 3 == 0)
      v[i] = std::numeric_limits<T>::lowest();
    else if (i % 3 == 1)
      v[i] = (std::numeric_limits<T>::max)();
    else
      v[i] = static_cast<T>(static_cast<int>(i * 7 % 100));
  }
  return v;
}

}  // namespace qmath_test
