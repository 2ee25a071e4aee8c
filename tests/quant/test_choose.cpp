// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_choose.cpp: (being written)
#include <gtest/gtest.h>
