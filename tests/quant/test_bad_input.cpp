// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_bad_input.cpp: (being written)
#include <gtest/gtest.h>
