// SPDX-License-Identifier: Apache-2.0
// ISA detection, the QMATH_ISA allow-list parser, ScopedIsaOverride and the dispatch it steers.
#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/kernels/dispatch.hpp"

namespace {

TEST(Cpu, ScalarIsAlwaysSupportedAndAllowed) {
  EXPECT_TRUE(qmath::has(qmath::supported_isas(), qmath::isa::scalar));
  EXPECT_TRUE(qmath::has(qmath::allowed_isas(), qmath::isa::scalar));
}

TEST(Cpu, WiderPathsImplyTheirBase) {
  const qmath::isa s = qmath::supported_isas();
  if (qmath::has(s, qmath::isa::avx512bw)) {
    EXPECT_TRUE(qmath::has(s, qmath::isa::avx2));
  }
  if (qmath::has(s, qmath::isa::avx512vnni) || qmath::has(s, qmath::isa::avx512bf16)) {
    EXPECT_TRUE(qmath::has(s, qmath::isa::avx512bw));
  }
  if (qmath::has(s, qmath::isa::neon_dotprod)) {
    EXPECT_TRUE(qmath::has(s, qmath::isa::neon));
  }
}

TEST(Cpu, ParseIsaList) {
  using qmath::isa;
  EXPECT_EQ(qmath::cpu_detail::parse_isa_list(""), isa::scalar);
  EXPECT_EQ(qmath::cpu_detail::parse_isa_list("avx2"), isa::scalar | isa::avx2);
  EXPECT_EQ(qmath::cpu_detail::parse_isa_list("avx2, avx512bw,bogus"), isa::scalar | isa::avx2 | isa::avx512bw);
  EXPECT_EQ(qmath::cpu_detail::parse_isa_list("neon_dotprod"), isa::scalar | isa::neon_dotprod);
}

TEST(Cpu, OverrideSteersDispatchAndRestores) {
  const qmath::isa before = qmath::kernels::active_convert_kernels().path;
  {
    qmath::ScopedIsaOverride only_scalar(qmath::isa::scalar);
    EXPECT_EQ(qmath::allowed_isas(), qmath::isa::scalar);
    EXPECT_EQ(qmath::kernels::active_convert_kernels().path, qmath::isa::scalar);
  }
  EXPECT_EQ(qmath::kernels::active_convert_kernels().path, before);
}

TEST(Cpu, ActivePathIsTheBestCompiledAndSupported) {
  const qmath::isa usable = qmath::kernels::compiled_isas() & qmath::allowed_isas();
  const qmath::isa active = qmath::kernels::active_convert_kernels().path;
  EXPECT_TRUE(qmath::has(usable, active));
  if (qmath::has(usable, qmath::isa::avx512bw)) {
    EXPECT_EQ(active, qmath::isa::avx512bw);
  }
  std::printf("[qmath] conversions dispatch to: %s\n", qmath::isa_name(active));
}

}  // namespace
