#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# benchmarks/quantize_ratios.py: reads a bench_quantize JSON file (--benchmark_out=FILE, JSON is the default format)
# and prints, per operation and size, each qmath path's throughput (GB/s of input) and its ratio to the baselines
# of the same operation measured in the same run: the bare loop of the best ISA this CPU ran, the scalar loop and
# the Eigen expression; also to the bare loop of the path's own ISA, which isolates the kernel from the ISA's width.
# Uses medians when repetitions were run. Rates are 10^9 bytes of input per second (the console's G/s is 2^30).
import json
import sys
from collections import defaultdict

BARE = ("bare-avx512", "bare-avx2")  # best first: the ratio is taken to the first one the run measured
OTHER_BASELINES = ("scalar-loop", "eigen")
SAME_ISA_BARE = {"avx2": "bare-avx2", "avx512bw": "bare-avx512"}
TARGETS = {"bare": 0.9, "eigen": 2.0}  # the goals, checked on the path dispatch picks (the widest)
ISA_ORDER = ["scalar", "avx2", "avxvnni", "avx512bw", "avx512vnni", "avx512bf16", "neon", "neon_dotprod"]


def read_rates(path):
    with open(path) as f:
        data = json.load(f)
    rates = defaultdict(dict)  # (operation, size) -> {path: GB/s}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        operation, path_name, size = name.split("/")[:3]
        rates[(operation, int(size))][path_name] = b["bytes_per_second"] / 1e9
    return rates


def main(path):
    rates = read_rates(path)
    print(f"{'operation':<30} {'size':>9} {'path':<9} {'GB/s':>7}  {'vs best bare':>14}  {'vs same-ISA bare':>16}  "
          f"{'vs eigen':>8}  {'vs scalar-loop':>14}")
    for (operation, size), paths in sorted(rates.items()):
        bare = next((b for b in BARE if b in paths), None)
        qmath_paths = [p for p in paths if p not in BARE + OTHER_BASELINES]
        qmath_paths.sort(key=lambda p: ISA_ORDER.index(p) if p in ISA_ORDER else len(ISA_ORDER))
        dispatched = qmath_paths[-1] if qmath_paths else None
        for path_name in qmath_paths:
            gbs = paths[path_name]
            vs_bare = f"{gbs / paths[bare]:.2f}x {bare[5:]}" if bare else "-"
            same = SAME_ISA_BARE.get(path_name)
            vs_same = f"{gbs / paths[same]:.2f}x" if same in paths else "-"
            vs_eigen = f"{gbs / paths['eigen']:.2f}x" if "eigen" in paths else "-"
            vs_scalar = f"{gbs / paths['scalar-loop']:.2f}x" if "scalar-loop" in paths else "-"
            misses = []
            if path_name == dispatched and bare and gbs / paths[bare] < TARGETS["bare"]:
                misses.append(f"< {TARGETS['bare']}x bare")
            if path_name == dispatched and "eigen" in paths and gbs / paths["eigen"] < TARGETS["eigen"]:
                misses.append(f"< {TARGETS['eigen']}x eigen")
            note = ("  MISSES " + ", ".join(misses)) if misses else ""
            print(f"{operation:<30} {size:>9} {path_name:<9} {gbs:7.2f}  {vs_bare:>14}  {vs_same:>16}  "
                  f"{vs_eigen:>8}  {vs_scalar:>14}{note}")
        base_text = "  ".join(f"{b} {paths[b]:.2f}" for b in BARE + OTHER_BASELINES if b in paths)
        print(f"{'':<30} {'':>9} (baselines GB/s) {base_text}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: quantize_ratios.py bench_quantize.json")
    main(sys.argv[1])
