#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test.sh: the whole test suite, as CI runs it. Stages (all default ones, or name some):
#   release    g++ -O3 -Werror: unit + exhaustive (all 2^32 inputs on every x86 path this CPU has) + "slow" (all
#              10,000 MNIST images, the MNIST examples)
#   clang-asan clang++ -O1 -Werror with AddressSanitizer + UndefinedBehaviorSanitizer: unit tests (not "slow", not
#              exhaustive), every public header compiled alone by clang
#   fuzz       clang libFuzzer + ASan + UBSan on the .npy and .safetensors parsers, seeded from tests/data, each for
#              QMATH_FUZZ_SECONDS (default 30); any crash or sanitizer report fails the stage
#   aarch64    cross build, tests under qemu-aarch64 (NEON paths; exhaustive sweeps strided, see README; not "slow";
#              the qmath tool, the MNIST examples and the architecture-neutral headers alone are left to x86)
#   consumer   install qmath, then build a separate project with find_package(qmath) and with add_subdirectory
#   bench      build the benchmarks and run each once, briefly (proves they run; figures are not judged here)
# Not run by default (CI has them in clang-asan): clang (clang++ -O3: unit + "slow") and asan (g++ -O0 with the
# sanitizers), for a failure that needs the other compiler or optimization level to reproduce.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source .ci/deps.sh
qmath_need_packages "${QMATH_BUILD_PACKAGES[@]}" "${QMATH_TEST_PACKAGES[@]}"

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(release clang-asan fuzz aarch64 consumer bench)
jobs=$(nproc)
summary=()

configure_build() {  # preset [extra cmake args...]
  local preset=$1
  shift
  cmake --preset "$preset" -G Ninja "$@" >/dev/null
  cmake --build "build/$preset" -j "$jobs"
}

run_ctest() {  # preset [ctest args...]
  local preset=$1
  shift
  (cd "build/$preset" && ctest -j "$jobs" --output-on-failure "$@" | tee "ctest.log")
  grep -hE '^\[qmath\] (covered ISA|GEMM) paths' "build/$preset"/Testing/Temporary/LastTest*.log 2>/dev/null | sort -u |
    sed "s/^/  $preset: /" >>"build/$preset/isa-coverage.txt" || true
  summary+=("$preset: $(grep -E 'tests passed' "build/$preset/ctest.log" | tail -1)")
}

for stage in "${stages[@]}"; do
  echo "== stage: $stage"
  case "$stage" in
    release)
      configure_build release
      run_ctest release
      ;;
    clang)
      configure_build clang
      run_ctest clang -LE exhaustive
      ;;
    clang-asan)
      configure_build clang-asan
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest clang-asan -LE 'exhaustive|slow'
      ;;
    asan)
      configure_build debug-asan
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest debug-asan -LE 'exhaustive|slow'
      ;;
    fuzz)
      cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DQMATH_BUILD_FUZZERS=ON -DQMATH_WARNINGS_AS_ERRORS=ON -DQMATH_BUILD_BENCHMARKS=OFF \
        -DQMATH_BUILD_EXAMPLES=OFF -DQMATH_BUILD_TOOLS=OFF >/dev/null
      cmake --build build/fuzz -j "$jobs" --target fuzz_npy fuzz_safetensors
      for parser in npy safetensors; do
        # The corpus grows across runs; the seeds are the test data files. Crash inputs land in build/fuzz/crashes.
        mkdir -p "build/fuzz/corpus_$parser" build/fuzz/crashes
        cp tests/data/*."$parser" "build/fuzz/corpus_$parser/"
        log="build/fuzz/fuzz_$parser.log"
        if ! "build/fuzz/tests/fuzz/fuzz_$parser" "build/fuzz/corpus_$parser" -dict="tests/fuzz/$parser.dict" \
          -max_total_time="${QMATH_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -print_final_stats=1 \
          -artifact_prefix="build/fuzz/crashes/$parser-" 2>"$log"; then
          tail -n 60 "$log" >&2
          echo "fuzz_$parser failed: see $log and the input saved in build/fuzz/crashes/" >&2
          exit 1
        fi
        summary+=("fuzz ($parser): $(grep -m1 '^Done' "$log"), no crash")
      done
      ;;
    aarch64)
      configure_build aarch64
      # A full 2^32 sweep of every conversion mode takes ~16 minutes under emulation; CI sweeps every 257th input
      # (QMATH_SWEEP_STRIDE) on top of the unit tests' edge values. QMATH_SWEEP_STRIDE=1 ./test.sh aarch64 runs all.
      # QEMU_CPU picks qemu-user's CPU model. max (qemu's default too, named so neither another default nor an
      # exported QEMU_CPU drops it) has the dot-product extension: the full run covers the neon_dotprod GEMM.
      QEMU_CPU=max QMATH_SWEEP_STRIDE=${QMATH_SWEEP_STRIDE:-257} run_ctest aarch64 -LE slow
      # The GEMM tests again on a core without dotprod, where plain neon (int32 mla) is the path dispatch picks.
      QEMU_CPU=cortex-a72 run_ctest aarch64 -R 'Gemm|DynamicLinear' --no-tests=error
      summary[-1]="aarch64 GEMM, QEMU_CPU=cortex-a72 (no dotprod): ${summary[-1]#aarch64: }"
      ;;
    consumer)
      rm -rf build/consumer
      cmake -S . -B build/consumer/qmath -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PWD/build/consumer/prefix" \
        -DQMATH_BUILD_TESTS=OFF -DQMATH_BUILD_BENCHMARKS=OFF -DQMATH_BUILD_EXAMPLES=OFF -DQMATH_BUILD_TOOLS=OFF >/dev/null
      cmake --build build/consumer/qmath -j "$jobs" >/dev/null
      cmake --install build/consumer/qmath >/dev/null
      for mode in find_package add_subdirectory; do
        cmake -S tests/consumer -B "build/consumer/$mode" -G Ninja -DCMAKE_BUILD_TYPE=Release \
          -DCMAKE_PREFIX_PATH="$PWD/build/consumer/prefix" -DQMATH_CONSUMER_MODE=$mode -DQMATH_SOURCE_DIR="$PWD" >/dev/null
        cmake --build "build/consumer/$mode" -j "$jobs" >/dev/null
        (cd "build/consumer/$mode" && ctest --output-on-failure | tee ctest.log)
        summary+=("consumer ($mode): $(grep -E 'tests passed' "build/consumer/$mode/ctest.log" | tail -1)")
      done
            summary+=("consumer (pkg-config): qmath.pc found, cflags $(PKG_CONFIG_PATH="$PWD/build/consumer/prefix/share/pkgconfig" pkg-config --cflags qmath)")
      ;;
    bench)
      configure_build release
      ./build/release/benchmarks/bench_convert --benchmark_min_time=0.01 --benchmark_filter='/65536$' >/dev/null
      ./build/release/benchmarks/bench_quantize --benchmark_min_time=0.01 --benchmark_filter='/65536$' >/dev/null
      ./build/release/benchmarks/bench_gemm --benchmark_min_time=0.01 --benchmark_filter='/M:256/N:256/K:256/' >/dev/null
      summary+=("bench: bench_convert and bench_quantize ran every benchmark once (L2 size), bench_gemm every 256^3 one")
      ;;
    *)
      echo "unknown stage '$stage' (release clang-asan fuzz aarch64 consumer bench; clang asan)" >&2
      exit 2
      ;;
  esac
done

echo "== summary"
printf '%s\n' "${summary[@]}"
echo "== ISA paths (tested = ran on this CPU or emulator; SKIPPED = compiled in but this CPU lacks it)"
cat build/*/isa-coverage.txt 2>/dev/null | sort -u || true
rm -f build/*/isa-coverage.txt
