# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_fake_quant_vectors.py: writes the PyTorch 1.13 vectors of tests/quant/test_fake_quant.cpp.
#
# Run with Debian's PyTorch 1.13 (python3-torch) and NumPy on an x86-64 CPU with AVX2:
#   /usr/bin/python3 tests/vectors/gen_fake_quant_vectors.py
# Output: tests/vectors/fake_quant/<case>.npy (float32 rows of data) and <case>.params.npy (float64 parameters).
# Everything is seeded, so two runs write identical files.
#
# Why AVX2: torch compiles these kernels once per ATen CPU capability, and GCC fuses `zero_point + x * inv_scale`
# into an FMA in the AVX2 / AVX512 builds only. The float-zero-point fake quantize and every learnable backward
# therefore differ (one code, near rounding ties) under ATEN_CPU_CAPABILITY=default. qmath reproduces the AVX2
# build, the one torch picks on any x86-64 CPU of the last decade; the script refuses to run under another one.
#
# Row layouts (every row has the same length; masks are stored as 0.0 / 1.0):
#   fwd_pt_<name>: x, y = fake_quantize_per_tensor_affine(x), mask, dy, dx = autograd grad of x for dy
#     params: scale, zero_point, qmin, qmax
#   fwd_pc_<name>: the same rows for fake_quantize_per_channel_affine, x flattened in row-major order
#     params: axis (as qmath takes it, may be negative), qmin, qmax, float_zero_point (0 / 1), rank, dims...,
#             scales (C), zero points (C)
#   lsq_pt_<name>: x, dy, y, dx, dscale_i, dzero_point_i of _fake_quantize_learnable_per_tensor_affine, where
#     dscale_i / dzero_point_i are the gradients of a one-element call on x[i] alone (no reduction involved)
#     params: scale, zero_point (float), qmin, qmax, grad_factor (as the float torch's kernel uses),
#             dscale, dzero_point (torch's gradients of the whole tensor)
#   lsq_pc_<name>: x, dy, y, dx of _fake_quantize_learnable_per_channel_affine
#     params: axis (as qmath takes it), qmin, qmax, grad_factor, rank, dims..., scales (C), zero points (C),
#             dscale (C), dzero_point (C)
import os
import sys

import numpy as np
import torch

F32 = np.float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_quant")


def check_torch():
    if not torch.__version__.startswith("1.13"):
        sys.exit("needs torch 1.13, found %s" % torch.__version__)
    config = torch.__config__.show()
    if "CPU capability usage: AVX2" not in config and "CPU capability usage: AVX512" not in config:
        sys.exit("needs torch's AVX2 or AVX512 CPU capability (see the top of this file)")


def save(name, rows, params):
    data = np.stack([np.asarray(r, dtype=F32).reshape(-1) for r in rows])
    np.save(os.path.join(OUT, name + ".npy"), data)
    np.save(os.path.join(OUT, name + ".params.npy"), np.asarray(params, dtype=np.float64))


def nudge(xs):
    """xs with their float32 neighbours on both sides."""
    xs = np.asarray(xs, dtype=F32)
    return np.concatenate([xs, np.nextafter(xs, F32(np.inf)), np.nextafter(xs, F32(-np.inf))])


def tricky(rng, scale, zp, qmin, qmax, n, with_specials=True):
    """n inputs for one (scale, zero point): rounding ties and their neighbours, the clamp ends, random values,
    and (optionally) signed zeros, subnormals, huge values, +-Inf and NaN."""
    centre = int(np.round(zp))
    codes = np.arange(max(qmin - 3, centre - 60), min(qmax + 4, centre + 61), dtype=np.float64)
    codes = np.concatenate([codes, [qmin - 1, qmin, qmax, qmax + 1]])
    base = np.concatenate([(codes + d - zp) * float(scale) for d in (0.5, -0.5, 0.0, 0.25)])
    span = min(qmax - qmin, 4096)
    picks = [nudge(base), rng.standard_normal(n // 4) * float(scale) * span / 3]
    specials = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-40, -3e-39, 1.2e-38, 1e9, -1e9, 1e30, -1e30, 3.4e38,
                         -3.4e38, np.inf, -np.inf, np.nan], dtype=F32)
    special = rng.permutation(specials)[: min(16, n // 2)] if with_specials else specials[:0]
    body = rng.permutation(np.concatenate([np.asarray(p, dtype=F32) for p in picks]))[: n - len(special)]
    return rng.permutation(np.concatenate([body, special])).astype(F32)


def grads_for(rng, n):
    dy = rng.standard_normal(n).astype(F32)
    dy[rng.choice(n, 6, replace=False)] = [-0.0, 0.0, -3.0, np.nan, np.inf, -np.inf]
    return dy


def forward_per_tensor(rng):
    # name, scale, zero point, qmin, qmax
    configs = [("u8", 0.1, 3, 0, 255), ("i8", 0.0173, -5, -128, 127), ("u4", 0.25, 7, 0, 15),
               ("i4", 0.3, 0, -8, 7), ("i32", 3.0, 1000, -2**31, 2**31 - 1), ("tiny", 2.5e-38, 128, 0, 255)]
    for name, scale, zp, qmin, qmax in configs:
        scale = F32(scale)
        n = 256
        x = tricky(rng, scale, zp, qmin, qmax, n)
        if name == "i32":  # codes beyond 2^24, where torch adds the zero point in float
            big = (np.arange(-40, 40) + 2.0**24) * float(scale)
            x[:80] = np.concatenate([big, -big])[rng.permutation(160)[:80]]
            x[80:160] = rng.standard_normal(80) * 2.0**30
        xt = torch.from_numpy(x.copy()).requires_grad_()
        y = torch.fake_quantize_per_tensor_affine(xt, float(scale), zp, qmin, qmax)
        dy = grads_for(rng, n)
        y.backward(torch.from_numpy(dy))
        xm = torch.from_numpy(x.copy()).requires_grad_()  # the mask is the gradient of ones
        torch.fake_quantize_per_tensor_affine(xm, float(scale), zp, qmin, qmax).backward(torch.ones(n))
        save("fwd_pt_" + name, [x, y.detach().numpy(), xm.grad.numpy(), dy, xt.grad.numpy()],
             [scale, zp, qmin, qmax])


def forward_per_channel(rng):
    # name, dims, axis (qmath; torch gets the normalized one), qmin, qmax, float zero points
    configs = [("u8_axis0", (4, 6, 12), 0, 0, 255, False), ("i8_axis1", (4, 6, 12), 1, -128, 127, False),
               ("i4_axis-1", (3, 5, 8), -1, -8, 7, False), ("u4_axis1", (4, 6, 12), 1, 0, 15, False),
               ("u8f_axis1", (4, 6, 12), 1, 0, 255, True), ("i8f_axis-1", (6, 4, 8), -1, -128, 127, True)]
    for name, dims, axis, qmin, qmax, float_zp in configs:
        rank = len(dims)
        ax = axis % rank
        c = dims[ax]
        scales = rng.choice([0.1, 0.0173, 0.3, 0.25, 0.37, 1e-3, 2.5], c).astype(F32)
        if float_zp:
            zps = rng.uniform(qmin, qmax, c).astype(F32)
            zps[0] = F32(qmin + 3.5)
        else:
            zps = rng.integers(qmin, qmax + 1, c).astype(np.int32)
            zps[0] = qmin
            zps[-1] = qmax
        per = int(np.prod(dims)) // c
        cols = [tricky(rng, scales[k], float(zps[k]), qmin, qmax, per, with_specials=(k % 2 == 0)) for k in range(c)]
        x = np.moveaxis(np.stack(cols).reshape((c,) + tuple(d for i, d in enumerate(dims) if i != ax)), 0, ax)
        x = np.ascontiguousarray(x, dtype=F32)
        zt = torch.from_numpy(zps.copy())
        xt = torch.from_numpy(x.copy()).requires_grad_()
        y = torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(scales.copy()), zt, ax, qmin, qmax)
        dy = grads_for(rng, x.size).reshape(dims)
        y.backward(torch.from_numpy(dy))
        xm = torch.from_numpy(x.copy()).requires_grad_()
        torch.fake_quantize_per_channel_affine(xm, torch.from_numpy(scales.copy()), zt, ax, qmin,
                                               qmax).backward(torch.ones(dims))
        save("fwd_pc_" + name, [x, y.detach().numpy(), xm.grad.numpy(), dy, xt.grad.numpy()],
             [axis, qmin, qmax, 1 if float_zp else 0, rank, *dims, *scales, *zps])


def lsq_grad_factor(numel, qmax):
    return F32(1.0 / (numel * qmax) ** 0.5)  # _LearnableFakeQuantize's expression; the kernel takes a float


def learnable_per_tensor(rng):
    # name, scale, zero point (float), qmin, qmax, LSQ grad factor; 2.5 and -3.7 show that torch's forward rounds
    # the zero point half to even and its backward adds 0.5 and truncates (so -3.0 acts as -2 there); 300.2 lies
    # outside and is clamped.
    configs = [("u8", 0.1, 3.3, 0, 255, False), ("i8", 0.0173, -5.7, -128, 127, True),
               ("u4", 0.25, 6.5, 0, 15, False), ("i4", 0.37, -3.7, -8, 7, True), ("i4b", 0.3, 2.5, -8, 7, False),
               ("u8clamp", 0.02, 300.2, 0, 255, True), ("i4negint", 0.5, -3.0, -8, 7, False)]
    n = 200
    for name, scale, zp, qmin, qmax, scaled in configs:
        scale, zp = F32(scale), F32(zp)
        x = tricky(rng, scale, float(np.clip(np.round(zp), qmin, qmax)), qmin, qmax, n)
        dy = rng.standard_normal(n).astype(F32)
        gf = lsq_grad_factor(n, qmax) if scaled else F32(1.0)

        def run(xv, dyv):
            xt = torch.from_numpy(xv.copy()).requires_grad_()
            st = torch.tensor([scale], requires_grad=True)
            zt = torch.tensor([zp], requires_grad=True)
            y = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zt, qmin, qmax, float(gf))
            y.backward(torch.from_numpy(dyv.copy()))
            return y.detach().numpy(), xt.grad.numpy(), st.grad.numpy()[0], zt.grad.numpy()[0]

        y, dx, dscale, dzp = run(x, dy)
        each = [run(x[i:i + 1], dy[i:i + 1]) for i in range(n)]
        save("lsq_pt_" + name, [x, dy, y, dx, [e[2] for e in each], [e[3] for e in each]],
             [scale, zp, qmin, qmax, gf, dscale, dzp])


def learnable_per_channel(rng):
    # name, dims, axis (qmath), qmin, qmax, LSQ grad factor. The "each" cases give every element its own channel
    # (dims (n, 1), axis 0), so torch's per-channel sums have one term and are bit exact.
    configs = [("u8_axis1", (3, 8, 10), 1, 0, 255, False), ("i8_axis0", (6, 5, 8), 0, -128, 127, True),
               ("i4_axis-1", (4, 5, 12), -1, -8, 7, True), ("u4_axis1", (3, 8, 10), 1, 0, 15, False),
               ("each_u8", (192, 1), 0, 0, 255, True), ("each_i4", (192, 1), 0, -8, 7, False)]
    for name, dims, axis, qmin, qmax, scaled in configs:
        rank = len(dims)
        ax = axis % rank
        c = dims[ax]
        numel = int(np.prod(dims))
        scales = rng.choice([0.1, 0.0173, 0.3, 0.25, 0.37, 1e-3], c).astype(F32)
        zps = rng.uniform(qmin - 2, qmax + 2, c).astype(F32)
        zps[rng.choice(c, min(c, 4), replace=False)] = np.round(zps[:min(c, 4)]) + F32(0.5)  # ties: half to even
        if name.startswith("each"):
            # One element per channel: draw each x from its own channel's tricky set.
            x = np.array([tricky(rng, scales[k], float(np.clip(np.round(zps[k]), qmin, qmax)), qmin, qmax, 32)[
                rng.integers(32)] for k in range(c)], dtype=F32).reshape(dims)
            x[:12, 0] = [0.0, -0.0, 1e-40, 1e30, -1e30, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e9, -1e9]
        else:
            per = numel // c
            cols = [tricky(rng, scales[k], float(np.clip(np.round(zps[k]), qmin, qmax)), qmin, qmax, per,
                           with_specials=(k == 1)) for k in range(c)]
            x = np.moveaxis(np.stack(cols).reshape((c,) + tuple(d for i, d in enumerate(dims) if i != ax)), 0, ax)
        x = np.ascontiguousarray(x, dtype=F32)
        dy = rng.standard_normal(dims).astype(F32)
        gf = lsq_grad_factor(numel, qmax) if scaled else F32(1.0)
        xt = torch.from_numpy(x.copy()).requires_grad_()
        st = torch.from_numpy(scales.copy()).requires_grad_()
        zt = torch.from_numpy(zps.copy()).requires_grad_()
        y = torch._fake_quantize_learnable_per_channel_affine(xt, st, zt, ax, qmin, qmax, float(gf))
        y.backward(torch.from_numpy(dy.copy()))
        save("lsq_pc_" + name, [x, dy, y.detach().numpy(), xt.grad.numpy()],
             [axis, qmin, qmax, gf, rank, *dims, *scales, *zps, *st.grad.numpy(), *zt.grad.numpy()])


def main():
    check_torch()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    np.seterr(all="ignore")
    forward_per_tensor(np.random.default_rng(1301))
    forward_per_channel(np.random.default_rng(1302))
    learnable_per_tensor(np.random.default_rng(1303))
    learnable_per_channel(np.random.default_rng(1304))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d files, %d bytes, to %s" % (len(os.listdir(OUT)), total, OUT))


if __name__ == "__main__":
    main()
