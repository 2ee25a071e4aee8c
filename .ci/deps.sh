#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# .ci/deps.sh: `qmath_need_packages PKG...` installs the Debian packages that are missing (as root), or prints the
# exact apt-get line and exits when not root. Sourced by run.sh, test.sh and .ci/run.
qmath_need_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "qmath needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run this again:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building the library and its tools needs (CLI11 and nlohmann-json: the qmath tool only); the test suite adds its own.
QMATH_BUILD_PACKAGES=(cmake ninja-build g++ make pkg-config libeigen3-dev libxsimd-dev libcli11-dev nlohmann-json3-dev)
# libopenblas-dev, libdnnl-dev (oneDNN) and libxnnpack-dev are bench_gemm's baselines (optional when building by
# hand); xnnpack.h includes <pthreadpool.h>, which libxnnpack-dev does not pull in: libpthreadpool-dev.
QMATH_TEST_PACKAGES=(libgtest-dev googletest libbenchmark-dev clang libclang-rt-dev g++-aarch64-linux-gnu qemu-user
                     libopenblas-dev libdnnl-dev libxnnpack-dev libpthreadpool-dev)
