// SPDX-License-Identifier: Apache-2.0
// tests/support/isa_environment.cpp: prints, at the start and end of every test binary, which ISA paths are
// compiled in, which this CPU runs (and so are tested) and which are skipped.
#include <cstdio>

#include <gtest/gtest.h>

#include "support/isa_params.hpp"

namespace {

void print_isa_coverage(const char* when) {
  std::printf("[qmath] %s ISA paths:", when);
  for (qmath::isa path : qmath::kAllIsas) {
    if (!qmath::has(qmath::kernels::compiled_isas(), path)) continue;
    std::printf(" %s=%s", qmath::isa_name(path),
                qmath::has(qmath::supported_isas(), path) ? "tested" : "SKIPPED(cpu lacks it)");
  }
  std::printf("\n");
  std::fflush(stdout);
}

class IsaEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { print_isa_coverage("compiled"); }
  void TearDown() override { print_isa_coverage("covered"); }
};

const auto* const kRegistered = ::testing::AddGlobalTestEnvironment(new IsaEnvironment);

}  // namespace
