#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# tests/vectors/gen_nn_vectors.py: torch 1.13 references for nn/train.hpp (tests/nn/test_train.cpp reads them).
#   /usr/bin/python3 tests/vectors/gen_nn_vectors.py > tests/vectors/nn/train.txt
# Lines: "loss N C T alpha", student logits, teacher logits, labels, the loss, d loss / d student (float32 values
# printed with 9 significant digits). "sgd n lr momentum weight_decay steps", the initial parameter, one gradient
# line per step, the parameter after the steps.
import torch
import torch.nn.functional as F

torch.manual_seed(2024)


def row(values):
    return " ".join("%.9g" % float(v) for v in values)


def loss_case(n, c, t, alpha, scale):
    s = (torch.randn(n, c) * scale).float().requires_grad_(True)
    te = (torch.randn(n, c) * scale).float()
    y = torch.randint(0, c, (n,))
    kl = F.kl_div(F.log_softmax(s.double() / t, dim=1), F.softmax(te.double() / t, dim=1), reduction="batchmean")
    loss = kl * t * t + alpha * F.cross_entropy(s.double(), y)
    loss.backward()
    print("loss %d %d %.9g %.9g" % (n, c, t, alpha))
    print(row(s.detach().flatten()))
    print(row(te.flatten()))
    print(" ".join(str(int(v)) for v in y))
    print("%.17g" % loss.item())
    print(row(s.grad.flatten()))


for n, c, t, alpha, scale in [(1, 2, 1.0, 0.0, 1.0), (4, 10, 1.0, 1.0, 3.0), (8, 10, 4.0, 0.5, 5.0),
                              (3, 7, 2.0, 0.0, 10.0), (16, 10, 20.0, 0.3, 2.0), (5, 3, 0.5, 2.0, 1.0)]:
    loss_case(n, c, t, alpha, scale)

for lr, momentum, wd in [(0.1, 0.0, 0.0), (0.05, 0.9, 0.0), (0.01, 0.9, 1e-3)]:
    p = torch.randn(6).float()
    grads = [torch.randn(6).float() for _ in range(3)]
    param = torch.nn.Parameter(p.clone())
    opt = torch.optim.SGD([param], lr=lr, momentum=momentum, weight_decay=wd)
    for g in grads:
        opt.zero_grad()
        param.grad = g.clone()
        opt.step()
    print("sgd 6 %.9g %.9g %.9g 3" % (lr, momentum, wd))
    print(row(p))
    for g in grads:
        print(row(g))
    print(row(param.detach()))
