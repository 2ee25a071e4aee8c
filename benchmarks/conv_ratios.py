#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# benchmarks/conv_ratios.py: runs bench_conv once per x86 ISA with oneDNN pinned to the same ISA as the qmath path it
# is compared with (ONEDNN_MAX_CPU_ISA: oneDNN reads it once per process), and bench_gemm's peak loops once, and
# prints markdown tables of GOPS (2 * multiply-adds inside the input / 10^9 per second, medians of the repetitions):
#   1. per ISA, per layer and thread count: qmath, oneDNN int8 (its implementation), their ratio, oneDNN fp32 and
#      qmath int8 / oneDNN fp32;
#   2. each path's 1-thread GOPS on the 3x3 and 1x1 layers as a fraction of its register tile's peak (gemm_peak).
# Usage: conv_ratios.py [--bench build/release/benchmarks/bench_conv] [--gemm-bench build/release/benchmarks/bench_gemm]
#                       [--min-time 0.1] [--repetitions 3] [--save DIR] [--load DIR]
import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

ONEDNN_ISA = {"avx2": "AVX2", "avxvnni": "AVX2_VNNI", "avx512bw": "AVX512_CORE", "avx512vnni": "AVX512_CORE_VNNI"}
ISA_ORDER = ["avx2", "avxvnni", "avx512bw", "avx512vnni"]
NAME = re.compile(r"^conv/([\w.-]+)/([\w-]+)/threads:(\d+)")
PEAK = re.compile(r"^gemm_peak/([\w-]+)/rows:(\d+)/cols:(\d+)/kr:(\d+)")


def run(bench, bench_filter, env_extra, args):
    cmd = [bench, f"--benchmark_filter={bench_filter}", f"--benchmark_min_time={args.min_time}",
           f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=true",
           "--benchmark_format=json"]
    env = dict(os.environ)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    env.update(env_extra)
    print(f"running: {' '.join(f'{k}={v}' for k, v in env_extra.items())} {' '.join(cmd)}", file=sys.stderr, flush=True)
    data = json.loads(subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout)
    data["conv_ratios"] = {"load_after": os.getloadavg()[0]}
    return data


def parse(data):
    rows = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred") or (b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median"):
            continue
        name = b.get("run_name", b["name"])
        m = NAME.match(name)
        if m:
            rows[(m.group(1), m.group(2), int(m.group(3)))] = (b["GOPS"], b.get("label", ""))
            continue
        p = PEAK.match(name)
        if p:
            rows[("peak", p.group(1), 1)] = (b["GOPS"], b.get("label", ""))
    return rows


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench", default="build/release/benchmarks/bench_conv")
    parser.add_argument("--gemm-bench", default="build/release/benchmarks/bench_gemm")
    parser.add_argument("--min-time", type=float, default=0.1)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--save")
    parser.add_argument("--load")
    args = parser.parse_args()

    runs = {}
    if args.load:
        for file in sorted(os.listdir(args.load)):
            if file.endswith(".json"):
                with open(os.path.join(args.load, file)) as f:
                    runs[file[:-5]] = parse(json.load(f))
    else:
        listed = subprocess.run([args.bench, "--benchmark_list_tests"], check=True, stdout=subprocess.PIPE,
                                text=True).stdout
        paths = [p for p in ISA_ORDER if f"conv/qmath-{p}/" in listed]
        datas = {}
        for path in paths:
            datas[path] = run(args.bench, f"^conv/(qmath-{path}|onednn-)", {"ONEDNN_MAX_CPU_ISA": ONEDNN_ISA[path]},
                              args)
        if os.path.exists(args.gemm_bench):
            datas["peak"] = run(args.gemm_bench, "^gemm_peak/", {}, args)
        for key, data in datas.items():
            runs[key] = parse(data)
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                with open(os.path.join(args.save, f"{key}.json"), "w") as f:
                    json.dump(data, f, indent=1)

    peaks = {}
    for (kind, name, _), (gops, _) in runs.get("peak", {}).items():
        peaks[name] = gops
    print(f"# bench_conv ratios (min_time {args.min_time}, repetitions {args.repetitions}, medians)\n")
    for path in ISA_ORDER:
        rows = runs.get(path)
        if not rows:
            continue
        layers = []
        for (impl, layer, _t) in rows:
            if impl == f"qmath-{path}" and layer not in layers:
                layers.append(layer)
        print(f"## {path} (oneDNN pinned to {ONEDNN_ISA[path]})\n")
        print("| layer | threads | qmath GOPS | kernel | oneDNN int8 GOPS | qmath / oneDNN | oneDNN fp32 GOPS | "
              "qmath int8 / oneDNN fp32 | oneDNN int8 impl |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for layer in layers:
            for threads in (1, 2):
                q = rows.get((f"qmath-{path}", layer, threads))
                o = next((v for (impl, l, t), v in rows.items()
                          if l == layer and t == threads and impl.startswith("onednn-") and not impl.startswith("onednn-f32")), None)
                f = next((v for (impl, l, t), v in rows.items()
                          if l == layer and t == threads and impl.startswith("onednn-f32")), None)
                qg, og, fg = (q or (None, ""))[0], (o or (None, ""))[0], (f or (None, ""))[0]
                kernel = (q or (0, ""))[1].split(" ")[-1]
                impl = " ".join((o or (0, ""))[1].split(" ")[1:])
                print(f"| {layer} | {threads} | {fmt(qg)} | {kernel} | {fmt(og)} | {fmt(ratio(qg, og), 2)} | {fmt(fg)} | "
                      f"{fmt(ratio(qg, fg), 2)} | {impl} |")
        peak = next((g for name, g in peaks.items() if name.startswith(path) and "saturating" not in name), None)
        if peak:
            print(f"\n{path} register-tile peak (bench_gemm gemm_peak): {peak:.1f} GOPS; 1-thread 3x3 / 1x1 layers as "
                  "a fraction of it: " + ", ".join(
                      f"{layer} {fmt(ratio(rows[(f'qmath-{path}', layer, 1)][0], peak), 2)}"
                      for layer in layers if ("3x3" in layer or "1x1" in layer) and (f"qmath-{path}", layer, 1) in rows))
        print()


if __name__ == "__main__":
    main()
