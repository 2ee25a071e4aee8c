// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_quantize_paths.cpp: (being written)
#include <gtest/gtest.h>
