#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# benchmarks/gemm_ratios.py: runs bench_gemm once per ISA, with oneDNN pinned to the same ISA as the qmath path it
# is compared with (ONEDNN_MAX_CPU_ISA: oneDNN reads it once per process), plus once for the fp32 baselines, and
# prints markdown tables of GOPS (2*M*N*K / 10^9 per second, medians of the repetitions):
#   1. int8 GEMM u8 x s8 -> int32: qmath, oneDNN and their ratio, per shape x threads, for each ISA;
#   2. qmath's 2-thread scaling (GOPS at 2 threads / at 1) per ISA, and the fp32 GOPS of Eigen and OpenBLAS;
#   3. the dynamic-quantized Linear (fp32 in / out) against Eigen's fp32 GEMM of the same shape and threads;
#   4. the int8-requantizing output stage against int32 output;
#   5. the peak loops (each path's register tile alone, and oneDNN's saturating chain for avx2 / avx512bw) and the
#      GEMM GOPS of qmath and oneDNN on the large shapes as a fraction of them (at 2 threads, of twice the 1-thread
#      peak);
#   6. M = 1 (GEMV): qmath and oneDNN against a bare read of the K*N weight bytes (the bandwidth bound);
#   7. s8 x s8 -> s8 requantized Linear: qmath against XNNPACK (which picks its own ISA).
# Every ratio compares rows of one process run: the bare read and XNNPACK run again in each ISA's run (like oneDNN),
# so that a busy moment of the machine hits both sides.
# Usage: gemm_ratios.py [--bench build/release/benchmarks/bench_gemm] [--min-time 0.1] [--repetitions 3]
#                       [--save DIR] [--load DIR]
# --save keeps each run's JSON; --load prints the tables from saved JSON without running anything.
import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

# qmath GEMM path -> the oneDNN ISA cap with the same instructions.
ONEDNN_ISA = {
    "avx2": "AVX2",
    "avxvnni": "AVX2_VNNI",
    "avx512bw": "AVX512_CORE",
    "avx512vnni": "AVX512_CORE_VNNI",
}
ISA_ORDER = ["avx2", "avxvnni", "avx512bw", "avx512vnni", "neon", "neon_dotprod"]
# <family>/<impl>/M:/N:/K:/threads:, or <family>/M:/... (the bare read: impl "bare").
NAME = re.compile(r"^(\w+)/(?:([\w.-]+)/)?M:(\d+)/N:(\d+)/K:(\d+)/threads:(\d+)")
PEAK = re.compile(r"^gemm_peak/([\w-]+)/rows:(\d+)/cols:(\d+)/kr:(\d+)")
# Shapes whose GEMM is compute-bound enough to compare with the peak loops.
LARGE_OPS = 2 * 1024 ** 3


def run_bench(bench, bench_filter, env_extra, args):
    cmd = [bench, f"--benchmark_filter={bench_filter}", f"--benchmark_min_time={args.min_time}",
           f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=true",
           "--benchmark_format=json"]
    env = dict(os.environ)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    env.pop("DNNL_MAX_CPU_ISA", None)
    env.update(env_extra)
    shown = " ".join(f"{k}={v}" for k, v in env_extra.items())
    print(f"running: {shown} {' '.join(cmd)}", file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    data = json.loads(out)
    # What the tables' header reports, kept with the data so that --load prints the same.
    data["gemm_ratios"] = {"min_time": args.min_time, "repetitions": args.repetitions, "load_before": load_before,
                           "load_after": os.getloadavg()[0]}
    return data


def parse(data):
    """(family, impl, (M, N, K), threads) -> (GOPS, label), medians only."""
    rows = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        peak = PEAK.match(name)
        if peak:
            # Keyed with no shape: the shape and thread lists below skip such keys.
            rows[("gemm_peak", peak.group(1), None, 1)] = (b["GOPS"], b.get("label", ""))
            continue
        m = NAME.match(name)
        if not m:
            continue
        family, impl = m.group(1), m.group(2) or "bare"
        shape = (int(m.group(3)), int(m.group(4)), int(m.group(5)))
        rows[(family, impl, shape, int(m.group(6)))] = (b["GOPS"], b.get("label", ""))
    return rows


def qmath_paths(bench):
    names = subprocess.run([bench, "--benchmark_list_tests"], check=True, stdout=subprocess.PIPE, text=True).stdout
    found = {m.group(1) for m in re.finditer(r"^gemm_u8s8_i32/qmath-(\w+)/", names, re.M)}
    return [p for p in ISA_ORDER if p in found]


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench", default="build/release/benchmarks/bench_gemm")
    parser.add_argument("--min-time", type=float, default=0.1)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--save", help="directory to keep each run's JSON in")
    parser.add_argument("--load", help="print the tables from JSON saved by --save, without running")
    args = parser.parse_args()

    runs = {}  # run key (an ISA, or "baselines") -> parsed rows
    context = None
    settings = []  # each run's gemm_ratios entry
    if args.load:
        for file in sorted(os.listdir(args.load)):
            if file.endswith(".json"):
                with open(os.path.join(args.load, file)) as f:
                    data = json.load(f)
                runs[file[:-5]] = parse(data)
                context = context or data.get("context")
                settings.append(data.get("gemm_ratios", {}))
    else:
        for path in qmath_paths(args.bench):
            if path not in ONEDNN_ISA:
                continue
            bench_filter = (f"^(gemm_u8s8_i32|gemm_u8s8_requant_s8|gemm_s8s8_requant|dynamic_linear_f32)/qmath-{path}/"
                            f"|^gemm_u8s8_i32/onednn-|^gemm_peak/{path}(-saturating)?/"
                            f"|^gemm_bare_read/|^gemm_s8s8_requant/xnnpack/")
            data = run_bench(args.bench, bench_filter, {"ONEDNN_MAX_CPU_ISA": ONEDNN_ISA[path]}, args)
            runs[path] = parse(data)
            context = context or data.get("context")
            settings.append(data["gemm_ratios"])
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                with open(os.path.join(args.save, f"{path}.json"), "w") as f:
                    json.dump(data, f, indent=1)
        data = run_bench(args.bench, "^sgemm_f32/", {}, args)
        runs["baselines"] = parse(data)
        settings.append(data["gemm_ratios"])
        if args.save:
            with open(os.path.join(args.save, "baselines.json"), "w") as f:
                json.dump(data, f, indent=1)
    paths = [p for p in ISA_ORDER if p in runs]
    rows = {}
    for run in runs.values():
        rows.update(run)
    # oneDNN rows come from the run of each ISA: re-key them by the qmath path they are compared with.
    onednn = {}      # (path, shape, threads) -> (GOPS, label)
    onednn_cap = {}  # path -> the ISA oneDNN reported in that run
    same_run = {}    # (family, impl) of a peer that runs in every ISA's run -> {(path, shape, threads): (GOPS, label)}
    for path in paths:
        for (family, impl, shape, threads), value in runs[path].items():
            if family == "gemm_u8s8_i32" and impl.startswith("onednn-"):
                onednn[(path, shape, threads)] = value
                onednn_cap[path] = impl[len("onednn-"):]
            elif (family, impl) in (("gemm_bare_read", "bare"), ("gemm_s8s8_requant", "xnnpack")):
                same_run.setdefault((family, impl), {})[(path, shape, threads)] = value
    shapes = sorted({key[2] for key in rows if key[2]}, key=lambda s: (s[0] * s[1] * s[2], s))
    threads_list = sorted({key[3] for key in rows if key[2]})

    def get(family, impl, shape, threads):
        value = rows.get((family, impl, shape, threads))
        return value[0] if value else None

    baselines = sorted({impl for (family, impl, _, _) in rows if family == "sgemm_f32"})
    eigen = next((b for b in baselines if b.startswith("eigen")), None)

    if context:
        loads = [x[key] for x in settings for key in ("load_before", "load_after") if key in x]
        load_text = f"1-minute load average {min(loads):.2f} to {max(loads):.2f}" if loads else "load not recorded"
        first = settings[0] if settings else {}
        print(f"bench_gemm on {context.get('host_name', '?')}: {context.get('num_cpus', '?')} CPUs at "
              f"{context.get('mhz_per_cpu', '?')} MHz; {load_text} at the start and end of each run; min_time "
              f"{first.get('min_time', '?')} s, medians of {first.get('repetitions', '?')} repetitions.")
        print()

    print("### int8 GEMM, u8 x s8 -> int32 (GOPS; ratio = qmath / oneDNN, oneDNN pinned to the same ISA)")
    print()
    header = "| M x N x K | thr |"
    rule = "| --- | ---: |"
    for path in paths:
        cap = onednn_cap.get(path, "?")
        header += f" {path} qmath | oneDNN {cap} | ratio |"
        rule += " ---: | ---: | ---: |"
    print(header)
    print(rule)
    for shape in shapes:
        for threads in threads_list:
            line = f"| {shape[0]} x {shape[1]} x {shape[2]} | {threads} |"
            for path in paths:
                q = get("gemm_u8s8_i32", f"qmath-{path}", shape, threads)
                o = onednn.get((path, shape, threads))
                o = o[0] if o else None
                line += f" {fmt(q)} | {fmt(o)} | {fmt(ratio(q, o), 2)} |"
            print(line)
    print()
    for path in paths:
        impls = defaultdict(list)
        for (p, shape, threads), (_, label) in onednn.items():
            if p == path:
                impls[" ".join(label.split()[1:])].append(shape)
        text = "; ".join(f"{impl}" + ("" if len(s) == len(shapes) * len(threads_list) else
                                      f" ({', '.join(sorted({'x'.join(map(str, x)) for x in s}))})")
                         for impl, s in sorted(impls.items()))
        expected = ONEDNN_ISA[path].lower()
        cap = onednn_cap.get(path, "?")
        warn = "" if cap == expected else f" -- NOT the requested {expected}: this CPU lacks it"
        print(f"- oneDNN for {path}: max ISA {cap}{warn}; implementation: {text}")
    if any("saturating" in label for _, label in onednn.values()):
        print("- `saturating`: that oneDNN implementation sums u8 x s8 pairs in int16 (vpmaddubsw) and saturates on "
              "full-range data (bench_gemm checks it is exact with 7-bit weights); qmath is exact on every path.")
    print()

    print("### 2-thread scaling (qmath GOPS at 2 threads / 1 thread) and the fp32 baselines (GOPS)")
    print()
    header = "| M x N x K |" + "".join(f" {p} |" for p in paths)
    header += "".join(f" {b} fp32 1t | {b} fp32 2t |" for b in baselines)
    print(header)
    print("| --- |" + " ---: |" * (len(paths) + 2 * len(baselines)))
    for shape in shapes:
        line = f"| {shape[0]} x {shape[1]} x {shape[2]} |"
        for path in paths:
            one, two = (get("gemm_u8s8_i32", f"qmath-{path}", shape, t) for t in (1, 2))
            line += f" {fmt(ratio(two, one), 2)} |"
        for b in baselines:
            line += f" {fmt(get('sgemm_f32', b, shape, 1))} | {fmt(get('sgemm_f32', b, shape, 2))} |"
        print(line)
    print()

    dyn_paths = [p for p in paths if any(k[0] == "dynamic_linear_f32" and k[1] == f"qmath-{p}" for k in rows)]
    if dyn_paths and eigen:
        print(f"### Dynamic-quantized Linear (fp32 in / out) against {eigen} fp32 GEMM (GOPS; ratio = qmath / Eigen)")
        print()
        header = f"| M x N x K | thr | {eigen} |" + "".join(f" {p} | ratio |" for p in dyn_paths)
        print(header)
        print("| --- | ---: | ---: |" + " ---: | ---: |" * len(dyn_paths))
        for shape in shapes:
            for threads in threads_list:
                e = get("sgemm_f32", eigen, shape, threads)
                line = f"| {shape[0]} x {shape[1]} x {shape[2]} | {threads} | {fmt(e)} |"
                for path in dyn_paths:
                    d = get("dynamic_linear_f32", f"qmath-{path}", shape, threads)
                    line += f" {fmt(d)} | {fmt(ratio(d, e), 2)} |"
                print(line)
        print()

    requant = sorted({(shape, threads) for (family, _, shape, threads) in rows if family == "gemm_u8s8_requant_s8"},
                     key=lambda x: (x[0][0] * x[0][1] * x[0][2], x))
    if requant:
        print("### int8-requantizing output (per-column float multiplier, bias, clamp) against int32 output (GOPS)")
        print()
        print("| M x N x K | thr |" + "".join(f" {p} int32 | {p} requant | ratio |" for p in paths))
        print("| --- | ---: |" + " ---: | ---: | ---: |" * len(paths))
        for shape, threads in requant:
            line = f"| {shape[0]} x {shape[1]} x {shape[2]} | {threads} |"
            for path in paths:
                i = get("gemm_u8s8_i32", f"qmath-{path}", shape, threads)
                r = get("gemm_u8s8_requant_s8", f"qmath-{path}", shape, threads)
                line += f" {fmt(i)} | {fmt(r)} | {fmt(ratio(r, i), 2)} |"
            print(line)
        print()

    print_peaks(paths, shapes, threads_list, rows, onednn, get)
    def peer(family, impl, path, shape, threads):
        """A peer's GOPS from the run of `path`, else from whichever run has it (JSON saved before it ran per ISA)."""
        value = same_run.get((family, impl), {}).get((path, shape, threads))
        return value[0] if value else get(family, impl, shape, threads)

    print_gemv(paths, shapes, threads_list, onednn, get, peer)
    print_s8s8(paths, shapes, threads_list, rows, get, peer)


def shape_text(shape):
    return f"{shape[0]} x {shape[1]} x {shape[2]}"


def print_peaks(paths, shapes, threads_list, rows, onednn, get):
    peaks = {impl: value for (family, impl, _, _), value in rows.items() if family == "gemm_peak"}
    if not peaks:
        return
    print("### Peak loops (1 thread, GOPS): each path's register tile alone over L1-resident data, and oneDNN's "
          "saturating pre-VNNI chain")
    print()
    print("| path | exact tile | exact GOPS | saturating chain | saturating GOPS | saturating / exact |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    for path in paths:
        exact, sat = peaks.get(path), peaks.get(f"{path}-saturating")
        if not exact and not sat:
            continue
        line = f"| {path} | {exact[1] if exact else '-'} | {fmt(exact[0] if exact else None)} |"
        line += f" {sat[1] if sat else '-'} | {fmt(sat[0] if sat else None)} |"
        line += f" {fmt(ratio(sat[0] if sat else None, exact[0] if exact else None), 2)} |"
        print(line)
    print()
    large = [s for s in shapes if 2 * s[0] * s[1] * s[2] >= LARGE_OPS]
    if not large:
        return
    print("### GEMM GOPS as a fraction of the peak loops (large shapes; at 2 threads, of twice the 1-thread peak)")
    print()
    print("| path | M x N x K | thr | qmath | / exact peak | / saturating peak | oneDNN | oneDNN / its peak |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in paths:
        exact, sat = peaks.get(path), peaks.get(f"{path}-saturating")
        if not exact:
            continue
        for shape in large:
            for threads in threads_list:
                q = get("gemm_u8s8_i32", f"qmath-{path}", shape, threads)
                o = onednn.get((path, shape, threads))
                # oneDNN's own peak: the saturating chain where its label says so (gemm:jit before VNNI), else the
                # path's exact one (its VNNI kernels use vpdpbusd).
                o_peak = sat if (o and "saturating" in o[1]) else exact
                o_peak_value = o_peak[0] * threads if o_peak else None
                line = f"| {path} | {shape_text(shape)} | {threads} | {fmt(q)} |"
                line += f" {fmt(ratio(q, exact[0] * threads), 2)} |"
                line += f" {fmt(ratio(q, sat[0] * threads) if sat else None, 2)} |"
                line += f" {fmt(o[0] if o else None)} | {fmt(ratio(o[0] if o else None, o_peak_value), 2)} |"
                print(line)
    print()


def print_gemv(paths, shapes, threads_list, onednn, get, peer):
    gemv = [s for s in shapes if s[0] == 1 and any(get("gemm_bare_read", "bare", s, t) for t in threads_list)]
    if not gemv:
        return
    print("### M = 1 against a bare read of the K*N weight bytes, from the same run (GOPS-equivalent 2*M*N*K per "
          "second; the read's GB/s = its GOPS / 2)")
    print()
    header = "| M x N x K | thr |"
    rule = "| --- | ---: |"
    for path in paths:
        header += f" {path} bare read | GB/s | qmath | / bare | oneDNN | / bare |"
        rule += " ---: | ---: | ---: | ---: | ---: | ---: |"
    print(header)
    print(rule)
    for shape in gemv:
        for threads in threads_list:
            line = f"| {shape_text(shape)} | {threads} |"
            for path in paths:
                bare = peer("gemm_bare_read", "bare", path, shape, threads)
                q = get("gemm_u8s8_i32", f"qmath-{path}", shape, threads)
                o = onednn.get((path, shape, threads))
                o = o[0] if o else None
                line += f" {fmt(bare)} | {fmt(bare / 2 if bare else None)} |"
                line += f" {fmt(q)} | {fmt(ratio(q, bare), 2)} | {fmt(o)} | {fmt(ratio(o, bare), 2)} |"
            print(line)
    print()


def print_s8s8(paths, shapes, threads_list, rows, get, peer):
    s8_paths = [p for p in paths if any(k[0] == "gemm_s8s8_requant" and k[1] == f"qmath-{p}" for k in rows)]
    xnn_labels = {label for (family, impl, _, _), (_, label) in rows.items()
                  if family == "gemm_s8s8_requant" and impl == "xnnpack"}
    if not s8_paths and not xnn_labels:
        return
    print("### s8 x s8 -> s8 requantized Linear (per-tensor scales, bias, clamp): qmath against XNNPACK "
          "(GOPS; ratio = qmath / XNNPACK)")
    print()
    print("| M x N x K | thr |" + "".join(f" {p} qmath | XNNPACK | ratio |" for p in s8_paths))
    print("| --- | ---: |" + " ---: | ---: | ---: |" * len(s8_paths))
    for shape in shapes:
        for threads in threads_list:
            pairs = [(get("gemm_s8s8_requant", f"qmath-{p}", shape, threads),
                      peer("gemm_s8s8_requant", "xnnpack", p, shape, threads)) for p in s8_paths]
            if all(q is None and x is None for q, x in pairs):
                continue
            line = f"| {shape_text(shape)} | {threads} |"
            for q, x in pairs:
                line += f" {fmt(q)} | {fmt(x)} | {fmt(ratio(q, x), 2)} |"
            print(line)
    print()
    for label in sorted(xnn_labels):
        print(f"- XNNPACK: `{label}` (its micro-kernel is inferred from its dispatch order and this CPU's flags; "
              "the last word is its output against qmath's on bench_gemm's check shapes)")
    print()


if __name__ == "__main__":
    main()
