#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_fold_vectors.py: torch 1.13's torch.nn.utils.fusion.fuse_conv_bn_eval on random Conv2d +
# BatchNorm2d pairs, for tests/nn/test_static_layers.cpp (NnLayers.FoldBatchnormMatchesTorch).
#   /usr/bin/python3 tests/vectors/gen_fold_vectors.py > tests/vectors/nn/fold_batchnorm.txt
# Per case: "case in out groups k eps has_bias", then lines of float32 hex bits: conv weight (OIHW), conv bias (or
# "none"), gamma, beta, running_mean, running_var, fused weight, fused bias.
import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval

torch.manual_seed(7)


def hexes(t):
    return " ".join("0x%08x" % v for v in t.detach().numpy().astype(np.float32).view(np.uint32).flatten())


for ic, oc, groups, k, eps, bias in [(3, 4, 1, 3, 1e-5, True), (4, 6, 2, 1, 1e-3, False), (6, 6, 6, 3, 1e-5, True)]:
    conv = torch.nn.Conv2d(ic, oc, k, groups=groups, bias=bias).eval()
    bn = torch.nn.BatchNorm2d(oc, eps=eps).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(oc))
        bn.bias.copy_(torch.randn(oc))
        bn.running_mean.copy_(torch.randn(oc))
        bn.running_var.copy_(torch.rand(oc) * 2 + 0.05)
    fused = fuse_conv_bn_eval(conv, bn)
    print("case %d %d %d %d %.9g %d" % (ic, oc, groups, k, eps, int(bias)))
    print(hexes(conv.weight))
    print(hexes(conv.bias) if bias else "none")
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var, fused.weight, fused.bias):
        print(hexes(t))
