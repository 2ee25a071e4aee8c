// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_onnx_quantize.cpp: (being written)
#include <gtest/gtest.h>
