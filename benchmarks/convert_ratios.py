#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# benchmarks/convert_ratios.py: reads a bench_convert JSON file (--benchmark_out=FILE --benchmark_out_format=json)
# and prints, per conversion and size, each path's throughput and its ratio to the baselines measured in the
# same run (memcpy, the bare hardware-instruction loops, Eigen's cast). Uses medians when repetitions were run.
import json
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        data = json.load(f)
    rate = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).replace("_median", "")
        conversion, path_name, size = name.split("/")[:3]
        rate[(conversion, size, path_name)] = b["bytes_per_second"] / 1e9
    groups = defaultdict(dict)
    for (conversion, size, path_name), gbs in rate.items():
        groups[(conversion, size)][path_name] = gbs
    baselines = ("memcpy", "bare-f16c", "bare-avx512", "bare-avx512bf16", "eigen")
    print(f"{'conversion':<14} {'size':>9} {'path':<9} {'GB/s':>7}  ratios to baselines of the same run")
    for (conversion, size), paths in sorted(groups.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        for path_name, gbs in sorted(paths.items()):
            if path_name in baselines:
                continue
            ratios = "  ".join(f"{base} {gbs / paths[base]:.2f}x" for base in baselines if base in paths)
            print(f"{conversion:<14} {size:>9} {path_name:<9} {gbs:7.2f}  {ratios}")
        base_text = "  ".join(f"{base} {paths[base]:.2f}" for base in baselines if base in paths)
        print(f"{'':<14} {'':>9} {'(baselines GB/s)':<17} {base_text}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: convert_ratios.py bench_convert.json")
    main(sys.argv[1])
