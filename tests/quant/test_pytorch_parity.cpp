// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_pytorch_parity.cpp: (being written)
#include <gtest/gtest.h>
