// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_requantize.cpp: (being written)
#include <gtest/gtest.h>
