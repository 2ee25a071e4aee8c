# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_histogram_vectors.py: writes the torch.ao.quantization.HistogramObserver parity vectors of
# tests/calib/test_histogram.cpp.
#
# Run with Debian's PyTorch 1.13 (python3-torch) and NumPy:  /usr/bin/python3 tests/vectors/gen_histogram_vectors.py
# Output: tests/vectors/histogram/<case>_{cfg,x,sizes,expect}.npy (and <case>_hist.npy for a few cases).
# Everything is seeded, so two runs write identical files.
#
# Per case:
#   <case>_cfg.npy     int64 [bins, upsample_rate]
#   <case>_x.npy       float32, every batch one after the other
#   <case>_sizes.npy   int64, the length of each batch (fed to forward() in order)
#   <case>_expect.npy  float64 [batches, 4 + 2 * len(CONFIGS)], one row after each batch:
#                      min_val, max_val (float32 values), sum of the histogram in float64 (in bin order),
#                      sum of bin_index * histogram[bin_index] in float64 (in bin order), then scale, zero_point of
#                      calculate_qparams() for each entry of CONFIGS
#   <case>_hist.npy    float32 [bins], the final histogram (only for cases listed in FULL_HISTOGRAM)
#
# torch 1.13 sums, cumsums and bins in a fixed order that depends on the ATen CPU capability only through the
# vector width of torch.sum (8 float lanes for "default" and "avx2", which qmath emulates). The script refuses
# avx512 (16 lanes: another summation order in _compute_quantization_error, which could flip a near-tie of the
# L2 search; for these cases avx512 gives the same qparams, checked when the vectors were written).
import os
import sys
import warnings

import numpy as np
import torch
from torch.ao.quantization import HistogramObserver

F32 = np.float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "histogram")

# (dtype, qscheme, reduce_range) in the column order of <case>_expect.npy.
CONFIGS = [
    (torch.quint8, torch.per_tensor_affine, False),
    (torch.quint8, torch.per_tensor_affine, True),
    (torch.qint8, torch.per_tensor_symmetric, False),
    (torch.qint8, torch.per_tensor_symmetric, True),
    (torch.qint8, torch.per_tensor_affine, False),
    (torch.qint8, torch.per_tensor_affine, True),
    (torch.quint8, torch.per_tensor_symmetric, False),
    (torch.quint8, torch.per_tensor_symmetric, True),
]
FULL_HISTOGRAM = {"grow", "small_bins", "const_then", "odd_bins"}


def cases():
    rng = np.random.default_rng(20240611)

    def normal(n, mu=0.0, sigma=1.0):
        return (rng.standard_normal(n) * sigma + mu).astype(F32)

    def uniform(n, lo, hi):
        return rng.uniform(lo, hi, n).astype(F32)

    relu = lambda a: np.maximum(a, F32(0)).astype(F32)
    outliers = normal(1000)
    outliers[[17, 400, 901]] = F32([41.5, -38.25, 45.0])
    # Values on and next to the histc bin edges of [-3, 5] with 2048 bins, plus the two ends themselves.
    grid = (F32(-3.0) + F32(8.0) * (np.arange(0, 2049, 3, dtype=F32) / F32(2048))).astype(F32)
    edges = np.concatenate([grid, np.nextafter(grid, F32(-np.inf)), np.nextafter(grid, F32(np.inf)), F32([-3, 5])])
    edges = np.clip(edges, F32(-3.0), F32(5.0)).astype(F32)
    return [
        # name, bins, upsample_rate, batches
        ("single", 2048, 128, [normal(2000, 0.3, 1.7)]),
        ("single_unit", 2048, 128, [(F32(0.85) * np.tanh(normal(1000))).astype(F32)]),
        ("edges", 2048, 128, [edges]),
        ("grow", 2048, 128, [normal(800, 0, 0.5), normal(800, 0, 2), uniform(800, -1, 7), normal(800, 0, 0.1)]),
        ("relu_grow", 2048, 128, [relu(normal(800)), relu(normal(800, 0, 3)), relu(normal(800, 1, 2))]),
        ("shrink", 2048, 128, [uniform(700, -20, 30), normal(700), normal(700, 2, 0.5)]),
        ("outliers", 2048, 128, [outliers, normal(1000)]),
        ("const_then", 2048, 128, [np.full(200, 2.5, F32), normal(800, 1, 1), np.full(200, 1.25, F32)]),
        ("small_bins", 256, 16, [normal(1000), normal(1000, 0, 4), uniform(1000, 0, 3)]),
        # bins + 1 a multiple of 16: torch.linspace computes the last histc edge in its vector loop (see histogram.hpp).
        ("odd_bins", 255, 8, [normal(500, 0.2, 1.3), normal(500, -1, 3)]),
        ("tiny", 2048, 128, [normal(600, 0, 1e-3), normal(600, 2e-3, 4e-3)]),
        ("large", 2048, 128, [normal(600, 0, 100), normal(600, 50, 300)]),
    ]


def main():
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "")
    config = torch.__config__.show()
    if cap == "avx512" or (cap == "" and "CPU capability usage: AVX512" in config):
        sys.exit("run with ATEN_CPU_CAPABILITY=avx2 (see the header of this script)")
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for name, bins, upsample, batches in cases():
        observers = [HistogramObserver(bins=bins, upsample_rate=upsample, dtype=d, qscheme=q, reduce_range=r)
                     for d, q, r in CONFIGS]
        rows = []
        for batch in batches:
            for obs in observers:
                obs(torch.from_numpy(batch.copy()))
            ref = observers[0]
            hist = ref.histogram.numpy().astype(np.float64)
            for obs in observers[1:]:  # the histogram does not depend on dtype / qscheme / reduce_range
                assert np.array_equal(obs.histogram.numpy(), ref.histogram.numpy())
            total, moment = 0.0, 0.0  # plain sums in bin order (the test sums the same way)
            for i, h in enumerate(hist):
                total += h
                moment += i * h
            row = [float(ref.min_val), float(ref.max_val), total, moment]
            for obs in observers:
                scale, zp = obs.calculate_qparams()
                row += [float(F32(scale.item())), float(int(zp.item()))]
            rows.append(row)
        np.save(os.path.join(OUT, name + "_cfg.npy"), np.array([bins, upsample], dtype=np.int64))
        np.save(os.path.join(OUT, name + "_x.npy"), np.concatenate(batches).astype(F32))
        np.save(os.path.join(OUT, name + "_sizes.npy"), np.array([len(b) for b in batches], dtype=np.int64))
        np.save(os.path.join(OUT, name + "_expect.npy"), np.array(rows, dtype=np.float64))
        if name in FULL_HISTOGRAM:
            np.save(os.path.join(OUT, name + "_hist.npy"), observers[0].histogram.numpy().astype(F32))
        print(name, "batches", len(batches), "last row", rows[-1][:4])


if __name__ == "__main__":
    main()
