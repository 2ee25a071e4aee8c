# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_conv_vectors.py: writes the PyTorch parity vectors of tests/kernels/test_conv_pytorch.cpp: the
# output codes of torch.ao.nn.quantized.Conv2d (torch.ops.quantized.conv2d) on Debian's PyTorch 1.13, with the
# 'onednn' engine (the x86 default) and 'qnnpack', for per-tensor and per-channel int8 weights, stride, padding,
# dilation, groups and depthwise (multiplier 1 and 2), uint8 activations.
#
# Run:  /usr/bin/python3 tests/vectors/gen_conv_vectors.py     (seeded: two runs write identical files)
# Output: tests/vectors/conv/quantized_conv2d.txt
#
# Format (plain C++ parses it): "case <name>" opens a case; then lines "key value ...". Floats are the hex bit
# patterns of float32. Tensors are in PyTorch's layouts: x NCHW uint8 codes, w OIHW int8 codes, y NCHW uint8 codes.
import os

import numpy as np
import torch

F32 = np.float32


def hexf(v):
    return "0x%08x" % np.array(v, dtype=F32).view(np.uint32)


def case(out, name, engine, batch, h, w, ic, oc, groups, k, stride, pad, dilation, per_channel, rng):
    torch.backends.quantized.engine = engine
    x_scale, x_zp = F32(rng.uniform(0.01, 0.05)), int(rng.integers(0, 40))
    x = torch.quantize_per_tensor(torch.from_numpy(rng.uniform(-0.5, 4.0, (batch, ic, h, w)).astype(F32)),
                                  float(x_scale), x_zp, torch.quint8)
    wf = torch.from_numpy((rng.standard_normal((oc, ic // groups, k[0], k[1])) * 0.3).astype(F32))
    if per_channel:
        w_scales = (np.abs(wf.numpy()).reshape(oc, -1).max(axis=1) / 127.0).astype(F32)
        wq = torch.quantize_per_channel(wf, torch.from_numpy(w_scales.astype(np.float64)), torch.zeros(oc, dtype=torch.long),
                                        0, torch.qint8)
    else:
        w_scales = np.array([np.abs(wf.numpy()).max() / 127.0], dtype=F32)
        wq = torch.quantize_per_tensor(wf, float(w_scales[0]), 0, torch.qint8)
    bias = (rng.standard_normal(oc) * 0.5).astype(F32)
    m = torch.ao.nn.quantized.Conv2d(ic, oc, k, stride=stride, padding=pad, dilation=dilation, groups=groups)
    m.set_weight_bias(wq, torch.from_numpy(bias))
    y_scale, y_zp = F32(rng.uniform(0.05, 0.2)), int(rng.integers(0, 128))
    m.scale, m.zero_point = float(y_scale), y_zp
    y = m(x)
    out.write(f"case {name}_{engine}\n")
    out.write(f"engine {engine}\n")
    out.write(f"shape {batch} {h} {w} {ic} {oc} {groups} {k[0]} {k[1]} {stride[0]} {stride[1]} {pad[0]} {pad[1]} "
              f"{dilation[0]} {dilation[1]}\n")
    out.write(f"x_scale {hexf(x_scale)}\nx_zero_point {x_zp}\n")
    out.write("w_scales " + " ".join(hexf(s) for s in w_scales) + "\n")
    out.write(f"y_scale {hexf(y_scale)}\ny_zero_point {y_zp}\n")
    out.write("bias " + " ".join(hexf(b) for b in bias) + "\n")
    out.write("x " + " ".join(str(v) for v in x.int_repr().flatten().tolist()) + "\n")
    out.write("w " + " ".join(str(v) for v in wq.int_repr().flatten().tolist()) + "\n")
    out.write("y " + " ".join(str(v) for v in y.int_repr().flatten().tolist()) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "conv"), exist_ok=True)
    rng = np.random.default_rng(20261203)
    cases = [  # name, batch, h, w, ic, oc, groups, kernel, stride, padding, dilation, per_channel
        ("plain_per_tensor", 1, 7, 8, 6, 10, 1, (3, 3), (1, 1), (1, 1), (1, 1), False),
        ("plain_per_channel", 2, 7, 6, 8, 12, 1, (3, 3), (1, 1), (1, 1), (1, 1), True),
        ("strided_5x5", 1, 11, 9, 5, 7, 1, (5, 5), (2, 2), (2, 2), (1, 1), True),
        ("dilated", 1, 10, 10, 4, 6, 1, (3, 3), (1, 1), (2, 2), (2, 2), True),
        ("asymmetric_1x3", 1, 5, 12, 6, 6, 1, (1, 3), (1, 2), (0, 1), (1, 1), False),
        ("grouped", 1, 8, 8, 8, 12, 4, (3, 3), (1, 1), (1, 1), (1, 1), True),
        ("depthwise", 1, 9, 9, 16, 16, 16, (3, 3), (1, 1), (1, 1), (1, 1), True),
        ("depthwise_multiplier2_s2", 1, 10, 10, 8, 16, 8, (3, 3), (2, 2), (1, 1), (1, 1), True),
        ("pointwise", 1, 6, 6, 32, 24, 1, (1, 1), (1, 1), (0, 0), (1, 1), True),
    ]
    with open(os.path.join(here, "conv", "quantized_conv2d.txt"), "w") as out:
        out.write(f"# torch {torch.__version__}, written by tests/vectors/gen_conv_vectors.py\n")
        for engine in ("onednn", "qnnpack"):
            for c in cases:
                case(out, c[0], engine, *c[1:], rng)


if __name__ == "__main__":
    main()
