# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_observer_vectors.py: writes the observer vectors of tests/calib/test_observers.cpp.
#
# Run with Debian's PyTorch 1.13 (python3-torch) and NumPy:  /usr/bin/python3 tests/vectors/gen_observer_vectors.py
# Everything is seeded, so two runs write identical files.
#
# Output in tests/vectors/observers/:
#   cases.txt              one line per case: "case <name> key=value ..." with the keys
#                            observer     minmax | moving_average
#                            granularity  tensor | channel   (axis=<int>, may be negative)
#                            dtype        quint8 | qint8
#                            scheme       affine | symmetric | float_qparams (per_channel_affine_float_qparams)
#                            reduce_range 0 | 1;  narrow 0 | 1 (quant_min=-127, quant_max=127 for qint8)
#                            averaging_constant <decimal> (as passed to torch, moving_average only)
#                            batches <B>
#   <name>_b<k>.npy        batch k (float32, its own shape), fed to the observer in order k = 0..B-1
#   <name>_expect.npy      float32 [B, 4, C]: after batch k, torch's min_val, max_val, and calculate_qparams()'s
#                          scale and zero point (an integer stored as float32, exact; a float for float_qparams);
#                          C = 1 per tensor, the channel count per channel
#
# Inputs deliberately left out: NaN and +-Inf (torch's aminmax propagates them; qmath's observers ignore them).
import argparse
import glob
import os
import warnings

import numpy as np
import torch
from torch.ao.quantization.observer import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
)

F32 = np.float32
DTYPES = {"quint8": torch.quint8, "qint8": torch.qint8}


def make_observer(observer, granularity, axis, dtype, scheme, reduce_range, narrow, averaging_constant):
    per_channel = granularity == "channel"
    qscheme = {
        ("tensor", "affine"): torch.per_tensor_affine,
        ("tensor", "symmetric"): torch.per_tensor_symmetric,
        ("channel", "affine"): torch.per_channel_affine,
        ("channel", "symmetric"): torch.per_channel_symmetric,
        ("channel", "float_qparams"): torch.per_channel_affine_float_qparams,
    }[(granularity, scheme)]
    kwargs = dict(dtype=DTYPES[dtype], qscheme=qscheme, reduce_range=reduce_range)
    if narrow:
        assert dtype == "qint8"
        kwargs.update(quant_min=-127, quant_max=127)
    if per_channel:
        kwargs["ch_axis"] = axis
    if observer == "moving_average":
        cls = MovingAveragePerChannelMinMaxObserver if per_channel else MovingAverageMinMaxObserver
        return cls(averaging_constant=averaging_constant, **kwargs)
    cls = PerChannelMinMaxObserver if per_channel else MinMaxObserver
    return cls(**kwargs)


# ---- Batches ------------------------------------------------------------------------------------------------------


def tensor_batches(rng, kind):
    """Per-tensor batches of varying shapes: they grow, shrink and move the range."""
    if kind == "mixed":
        return [
            rng.normal(0.0, 1.0, (4, 5)),
            rng.uniform(-0.2, 0.3, (3, 7)),  # inside the range so far: MinMax keeps it, the average shrinks
            rng.normal(1.0, 4.0, (2, 3, 4)),  # expands both ends
            np.full((2, 3), 0.75),  # constant
            np.zeros(5),  # all zero
            rng.uniform(-10.0, -2.0, (6,)),  # all negative, expands the low end
            rng.uniform(0.5, 20.0, (1, 9)),  # all positive, expands the high end
        ]
    if kind == "zero":
        return [np.zeros((3, 4)), np.zeros((7,)), np.zeros((2, 2, 2))]
    if kind == "constant":
        return [np.full((4,), 2.5), np.full((2, 3), 2.5), np.full((5,), -1.0), np.full((1,), 2.5)]
    if kind == "zero_then_data":
        return [np.zeros((8,)), rng.normal(0.0, 2.0, (3, 5)), np.zeros((4,)), rng.uniform(-1.0, 3.0, (10,))]
    raise ValueError(kind)


def channel_batches(rng, axis, channels):
    """3-D batches with `channels` channels on `axis`; the other dims change between batches. Channel 1 is a
    constant, channel 2 all zero, the others normal with their own spread and offset; the batch factor shrinks and
    expands the ranges."""
    others = [(4, 5), (2, 6), (1, 1), (3, 2)]
    factors = [1.0, 0.3, 2.5, 1.0]
    spread = rng.uniform(0.1, 3.0, channels)
    offset = rng.uniform(-1.0, 1.0, channels)
    out = []
    for (a, b), factor in zip(others, factors):
        dims = [a, b]
        dims.insert(axis % 3, channels)
        x = rng.normal(0.0, 1.0, dims)
        shape = [1, 1, 1]
        shape[axis % 3] = channels
        x = x * (spread * factor).reshape(shape) + offset.reshape(shape)
        x = np.moveaxis(x, axis % 3, 0)  # a view with the channel first, to set whole channels
        x[1] = 0.5
        x[2] = 0.0
        out.append(np.moveaxis(x, 0, axis % 3))
    return out


# ---- Cases --------------------------------------------------------------------------------------------------------

CASES = [
    # name, observer, granularity, axis, dtype, scheme, reduce_range, narrow, averaging_constant, batches
    ("mm_t_aff_u8", "minmax", "tensor", 0, "quint8", "affine", 0, 0, None, "mixed"),
    ("mm_t_aff_s8", "minmax", "tensor", 0, "qint8", "affine", 0, 0, None, "mixed"),
    ("mm_t_aff_u8_rr", "minmax", "tensor", 0, "quint8", "affine", 1, 0, None, "mixed"),
    ("mm_t_sym_s8", "minmax", "tensor", 0, "qint8", "symmetric", 0, 0, None, "mixed"),
    ("mm_t_sym_u8", "minmax", "tensor", 0, "quint8", "symmetric", 0, 0, None, "mixed"),
    ("mm_t_sym_s8_rr", "minmax", "tensor", 0, "qint8", "symmetric", 1, 0, None, "mixed"),
    ("mm_t_sym_s8_narrow", "minmax", "tensor", 0, "qint8", "symmetric", 0, 1, None, "mixed"),
    ("mm_t_zero", "minmax", "tensor", 0, "quint8", "affine", 0, 0, None, "zero"),
    ("mm_t_zero_sym", "minmax", "tensor", 0, "qint8", "symmetric", 0, 0, None, "zero"),
    ("mm_t_const", "minmax", "tensor", 0, "quint8", "affine", 0, 0, None, "constant"),
    ("ma_t_aff_u8", "moving_average", "tensor", 0, "quint8", "affine", 0, 0, 0.01, "mixed"),
    ("ma_t_aff_s8", "moving_average", "tensor", 0, "qint8", "affine", 0, 0, 0.3, "mixed"),
    ("ma_t_aff_u8_rr", "moving_average", "tensor", 0, "quint8", "affine", 1, 0, 0.5, "mixed"),
    ("ma_t_sym_s8", "moving_average", "tensor", 0, "qint8", "symmetric", 0, 0, 0.1, "mixed"),
    ("ma_t_sym_u8", "moving_average", "tensor", 0, "quint8", "symmetric", 0, 0, 0.01, "mixed"),
    ("ma_t_const", "moving_average", "tensor", 0, "quint8", "affine", 0, 0, 0.01, "constant"),
    ("ma_t_zero_then_data", "moving_average", "tensor", 0, "quint8", "affine", 0, 0, 0.01, "zero_then_data"),
    ("mm_c0_aff_u8", "minmax", "channel", 0, "quint8", "affine", 0, 0, None, "channel"),
    ("mm_c1_aff_u8", "minmax", "channel", 1, "quint8", "affine", 0, 0, None, "channel"),
    ("mm_cm1_aff_u8", "minmax", "channel", -1, "quint8", "affine", 0, 0, None, "channel"),
    ("mm_c0_sym_s8", "minmax", "channel", 0, "qint8", "symmetric", 0, 0, None, "channel"),
    ("mm_c1_sym_s8", "minmax", "channel", 1, "qint8", "symmetric", 0, 0, None, "channel"),
    ("mm_cm1_sym_s8", "minmax", "channel", -1, "qint8", "symmetric", 0, 0, None, "channel"),
    ("mm_c1_sym_u8", "minmax", "channel", 1, "quint8", "symmetric", 0, 0, None, "channel"),
    ("mm_cm1_aff_s8_rr", "minmax", "channel", -1, "qint8", "affine", 1, 0, None, "channel"),
    ("mm_c0_sym_s8_narrow", "minmax", "channel", 0, "qint8", "symmetric", 0, 1, None, "channel"),
    ("mm_c0_floatqp_u8", "minmax", "channel", 0, "quint8", "float_qparams", 0, 0, None, "channel"),
    ("ma_c0_aff_u8", "moving_average", "channel", 0, "quint8", "affine", 0, 0, 0.01, "channel"),
    ("ma_c1_aff_u8", "moving_average", "channel", 1, "quint8", "affine", 0, 0, 0.2, "channel"),
    ("ma_cm1_aff_s8", "moving_average", "channel", -1, "qint8", "affine", 0, 0, 0.3, "channel"),
    ("ma_c1_sym_s8", "moving_average", "channel", 1, "qint8", "symmetric", 0, 0, 0.05, "channel"),
    ("ma_cm1_sym_s8_rr", "moving_average", "channel", -1, "qint8", "symmetric", 1, 0, 0.7, "channel"),
]


def main():
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "observers"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for stale in glob.glob(os.path.join(args.out, "*.npy")):
        os.remove(stale)
    warnings.filterwarnings("ignore")  # reduce_range deprecation
    torch.manual_seed(0)

    lines = [
        "# Generated by tests/vectors/gen_observer_vectors.py with torch %s, numpy %s. Do not edit."
        % (torch.__version__, np.__version__)
    ]
    rng = np.random.default_rng(20240607)
    total = 0
    for name, observer, gran, axis, dtype, scheme, reduce_range, narrow, constant, kind in CASES:
        if gran == "channel":
            batches = channel_batches(rng, axis, 5)
        else:
            batches = tensor_batches(rng, kind)
        batches = [np.ascontiguousarray(b, dtype=F32) for b in batches]
        obs = make_observer(observer, gran, axis, dtype, scheme, bool(reduce_range), narrow, constant)
        rows = []
        for k, x in enumerate(batches):
            obs(torch.from_numpy(x.copy()))
            scale, zp = obs.calculate_qparams()
            row = [obs.min_val.reshape(-1), obs.max_val.reshape(-1), scale.reshape(-1), zp.reshape(-1)]
            row = [r.to(torch.float64).numpy() for r in row]
            if scheme != "float_qparams":
                assert np.all(row[3] == np.round(row[3])) and np.all(np.abs(row[3]) < 2**24)
            rows.append(np.stack(row).astype(F32))
            path = os.path.join(args.out, "%s_b%d.npy" % (name, k))
            np.save(path, x)
            total += os.path.getsize(path)
        # float64 -> float32 above must be exact: min/max/scale are float32 in torch.
        for r, k in zip(rows, range(len(rows))):
            assert np.all(np.isfinite(r)), (name, k)
        path = os.path.join(args.out, "%s_expect.npy" % name)
        np.save(path, np.stack(rows))
        total += os.path.getsize(path)
        fields = "observer=%s granularity=%s axis=%d dtype=%s scheme=%s reduce_range=%d narrow=%d" % (
            observer, gran, axis, dtype, scheme, reduce_range, narrow)
        if constant is not None:
            fields += " averaging_constant=%r" % constant
        lines.append("case %s %s batches=%d" % (name, fields, len(batches)))
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s: %d bytes of .npy" % (len(CASES), args.out, total))


if __name__ == "__main__":
    main()
