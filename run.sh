#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh: build qmath (release) and run the main job, the `qmath` tool; with no arguments, `qmath compare`.
#   ./run.sh                 # every format / scheme / calibrator on built-in workloads: size, error, speed
#   ./run.sh compare W.safetensors --chart c.svg   # the same on your own tensors
#   ./run.sh formats         # format tour: bit layouts, round-trip error and conversion speed of each format
#   ./run.sh compress M.safetensors -o out.safetensors --recipe mixed=4   # pruning / low rank / mixed widths
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source .ci/deps.sh
qmath_need_packages "${QMATH_BUILD_PACKAGES[@]}"
build=build/run
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQMATH_BUILD_TESTS=OFF -DQMATH_BUILD_BENCHMARKS=OFF \
  -DQMATH_BUILD_EXAMPLES=OFF -DQMATH_BUILD_TOOLS=ON >/dev/null
cmake --build "$build" --target qmath_cli >/dev/null
[ $# -eq 0 ] && set -- compare
exec "$build/tools/qmath/qmath" "$@"
