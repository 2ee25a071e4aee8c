// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_quantize_api.cpp: (being written)
#include <gtest/gtest.h>
