// SPDX-License-Identifier: Apache-2.0
// The scalar fp16 reference against the CPU's own converter (F16C `vcvtps2ph` / `vcvtph2ps` on one lane) on all
// 2^32 fp32 inputs and all 2^16 codes. Only the two helpers below are compiled for F16C (a target attribute, not
// -mf16c on the unit, so the inline qmath functions this unit shares with others stay baseline code); the test
// skips, saying so, on a CPU without F16C.
#include <immintrin.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/format/fp16.hpp"

namespace {

__attribute__((target("avx,f16c"))) std::uint16_t hardware_f32_to_f16(float x) {
  return static_cast<std::uint16_t>(
      _mm_cvtsi128_si32(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
}
__attribute__((target("avx,f16c"))) float hardware_f16_to_f32(std::uint16_t code) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(code))));
}

TEST(F16cHardware, ScalarReferenceMatchesHardwareOnAllInputs) {
  if (!qmath::has(qmath::supported_isas(), qmath::isa::avx2)) GTEST_SKIP() << "this CPU lacks F16C";
  std::uint64_t mismatches = 0;
  for (std::uint64_t bits = 0; bits < (1ull << 32); ++bits) {
    const float x = qmath::f32_from_bits(static_cast<std::uint32_t>(bits));
    const std::uint16_t hw = hardware_f32_to_f16(x);
    if (hw != qmath::f32_to_f16_bits(x) && ++mismatches < 5)
      ADD_FAILURE() << std::hex << "input 0x" << bits << ": hardware 0x" << hw << ", reference 0x"
                    << qmath::f32_to_f16_bits(x);
  }
  EXPECT_EQ(mismatches, 0u);
  for (std::uint32_t code = 0; code < (1u << 16); ++code)
    ASSERT_EQ(qmath::f32_bits(hardware_f16_to_f32(static_cast<std::uint16_t>(code))),
              qmath::f32_bits(qmath::f16_bits_to_f32(static_cast<std::uint16_t>(code))))
        << std::hex << "code 0x" << code;
}

}  // namespace
