#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_static_layer_vectors.py: torch 1.13's static quantized layers given fixed parameters, for
# tests/nn/test_static_torch.cpp: torch.ao.nn.quantized.Linear / Conv2d and the fused
# torch.ao.nn.intrinsic.quantized.LinearReLU / ConvReLU2d, engines onednn and qnnpack, per-tensor and per-channel
# symmetric int8 weights (torch's default: scale = max|w| / 127.5), uint8 activations.
#
# Run:  /usr/bin/python3 tests/vectors/gen_static_layer_vectors.py     (seeded: two runs write identical files)
# Output: tests/vectors/nn/static_layers.txt, in the format of tests/vectors/conv/quantized_conv2d.txt plus a
# "layer" line (conv, conv_relu, linear, linear_relu); floats as float32 hex bits; x NCHW uint8 codes (a Linear's
# input is N x in_features, written as [N, in, 1, 1]), w int8 codes (OIHW, or [out, in]), y uint8 codes.
import os

import numpy as np
import torch
import torch.nn.intrinsic.quantized as nniq  # torch 1.13 keeps the fused modules here
import torch.ao.nn.quantized as nnq

F32 = np.float32


def hexf(v):
    return "0x%08x" % np.array(v, dtype=F32).view(np.uint32)


def case(out, layer, engine, batch, h, w, ic, oc, k, pad, per_channel, rng):
    torch.backends.quantized.engine = engine
    x_scale, x_zp = F32(rng.uniform(0.01, 0.05)), int(rng.integers(0, 256))
    linear = layer.startswith("linear")
    shape = (batch, ic) if linear else (batch, ic, h, w)
    x = torch.quantize_per_tensor(torch.from_numpy(rng.uniform(-3.0, 3.0, shape).astype(F32)), float(x_scale), x_zp,
                                  torch.quint8)
    wshape = (oc, ic) if linear else (oc, ic, k, k)
    wf = torch.from_numpy((rng.standard_normal(wshape) * 0.3).astype(F32))
    amax = np.abs(wf.numpy()).reshape(oc, -1).max(axis=1)
    if per_channel:
        w_scales = np.maximum((amax / F32(127.5)).astype(F32), F32(np.finfo(F32).eps))
        wq = torch.quantize_per_channel(wf, torch.from_numpy(w_scales.astype(np.float64)),
                                        torch.zeros(oc, dtype=torch.long), 0, torch.qint8)
    else:
        w_scales = np.array([max(F32(amax.max()) / F32(127.5), np.finfo(F32).eps)], dtype=F32)
        wq = torch.quantize_per_tensor(wf, float(w_scales[0]), 0, torch.qint8)
    bias = (rng.standard_normal(oc) * 0.5).astype(F32)
    if layer == "linear":
        m = nnq.Linear(ic, oc)
    elif layer == "linear_relu":
        m = nniq.LinearReLU(ic, oc)
    elif layer == "conv":
        m = nnq.Conv2d(ic, oc, k, padding=pad)
    else:
        m = nniq.ConvReLU2d(ic, oc, k, padding=pad)
    m.set_weight_bias(wq, torch.from_numpy(bias))
    y_scale, y_zp = F32(rng.uniform(0.05, 0.3)), int(rng.integers(0, 256))
    m.scale, m.zero_point = float(y_scale), y_zp
    y = m(x)
    hh, ww, kk = (1, 1, 1) if linear else (h, w, k)
    out.write(f"case {layer}_{'pc' if per_channel else 'pt'}_{engine}\n")
    out.write(f"layer {layer}\nengine {engine}\n")
    out.write(f"shape {batch} {hh} {ww} {ic} {oc} 1 {kk} {kk} 1 1 {0 if linear else pad} {0 if linear else pad} 1 1\n")
    out.write(f"x_scale {hexf(x_scale)}\nx_zero_point {x_zp}\n")
    out.write("w_scales " + " ".join(hexf(s) for s in w_scales) + "\n")
    out.write(f"y_scale {hexf(y_scale)}\ny_zero_point {y_zp}\n")
    out.write("bias " + " ".join(hexf(b) for b in bias) + "\n")
    out.write("w_float " + " ".join(hexf(v) for v in wf.numpy().flatten()) + "\n")
    out.write("x " + " ".join(str(v) for v in x.int_repr().flatten().tolist()) + "\n")
    out.write("w " + " ".join(str(v) for v in wq.int_repr().flatten().tolist()) + "\n")
    out.write("y " + " ".join(str(v) for v in y.int_repr().flatten().tolist()) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "nn"), exist_ok=True)
    rng = np.random.default_rng(20261204)
    with open(os.path.join(here, "nn", "static_layers.txt"), "w") as out:
        for engine in ("onednn", "qnnpack"):
            for per_channel in (False, True):
                if engine == "qnnpack" and per_channel:
                    continue  # torch 1.13's qnnpack linear / conv take per-tensor weights only
                case(out, "linear", engine, 7, 1, 1, 67, 19, 1, 0, per_channel, rng)
                case(out, "linear_relu", engine, 5, 1, 1, 256, 10, 1, 0, per_channel, rng)
                case(out, "conv", engine, 2, 9, 7, 5, 12, 3, 1, per_channel, rng)
                case(out, "conv_relu", engine, 1, 14, 14, 8, 16, 5, 2, per_channel, rng)


if __name__ == "__main__":
    main()
