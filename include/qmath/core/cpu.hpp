// SPDX-License-Identifier: Apache-2.0
// core/cpu.hpp: the ISA bitmask, run-time CPU feature detection and the QMATH_ISA / test override (core layer).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "qmath/core/config.hpp"

#if QMATH_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#if QMATH_ARCH_AARCH64 && defined(__linux__)
#include <sys/auxv.h>
#endif

// Mode independent, so outside QMATH_BEGIN_NAMESPACE: one ISA enum for both modes, and one override mask, so
// QMATH_ISA and ScopedIsaOverride steer header-only and run-time-dispatch code alike.
namespace qmath {

/// Instruction-set paths. A path is named after the weakest CPU that can run it:
/// - avx2:       AVX2 + FMA + F16C (every AVX2 CPU has all three);
/// - avx512bw:   AVX-512 F + BW + VL + DQ (Skylake-SP and later, Zen 4);
/// - avx512bf16: avx512bw + AVX512_BF16 (`vcvtneps2bf16`);
/// - avx512vnni: avx512bw + AVX512_VNNI (`vpdpbusd` zmm); avxvnni: avx2 + AVX-VNNI (`vpdpbusd` ymm);
/// - neon:       aarch64 Advanced SIMD (baseline there); neon_dotprod: + `sdot`/`udot`.
enum class isa : std::uint32_t {
  none = 0,
  scalar = 1u << 0,
  avx2 = 1u << 1,
  avx512bw = 1u << 2,
  avx512bf16 = 1u << 3,
  avx512vnni = 1u << 4,
  avxvnni = 1u << 5,
  neon = 1u << 6,
  neon_dotprod = 1u << 7,
};

constexpr isa operator|(isa a, isa b) noexcept {
  return static_cast<isa>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr isa operator&(isa a, isa b) noexcept {
  return static_cast<isa>(static_cast<std::uint32_t>(a) & static_cast<std::uint32_t>(b));
}
constexpr bool has(isa set, isa one) noexcept { return (set & one) == one && one != isa::none; }

/// Every single ISA, weakest first; dispatch walks it backwards to find the best allowed path.
inline constexpr isa kAllIsas[] = {isa::scalar,     isa::avx2,       isa::avxvnni, isa::avx512bw,
                            isa::avx512vnni, isa::avx512bf16, isa::neon,    isa::neon_dotprod};

constexpr const char* isa_name(isa one) noexcept {
  switch (one) {
    case isa::scalar: return "scalar";
    case isa::avx2: return "avx2";
    case isa::avx512bw: return "avx512bw";
    case isa::avx512bf16: return "avx512bf16";
    case isa::avx512vnni: return "avx512vnni";
    case isa::avxvnni: return "avxvnni";
    case isa::neon: return "neon";
    case isa::neon_dotprod: return "neon_dotprod";
    default: return "none";
  }
}

// Not `detail`: this header sits outside the mode namespace (config.hpp), and a second qmath::detail there would
// make every qmath::detail:: name ambiguous.
namespace cpu_detail {

#if QMATH_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
inline std::uint64_t read_xcr0() noexcept {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

inline isa detect_isas() noexcept {
  isa found = isa::scalar;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return found;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return found;
  const std::uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // XMM and YMM state saved by the OS
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM0-15 upper halves, ZMM16-31
  if (!os_ymm) return found;
  unsigned b7 = 0, c7 = 0, d7 = 0, a7 = 0;
  __get_cpuid_count(7, 0, &a7, &b7, &c7, &d7);
  unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
  if (a7 >= 1) __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71);
  const bool avx2 = (b7 >> 5) & 1;
  const bool avx512 = os_zmm && ((b7 >> 16) & 1) /*F*/ && ((b7 >> 17) & 1) /*DQ*/ && ((b7 >> 30) & 1) /*BW*/ &&
                      ((b7 >> 31) & 1) /*VL*/;
  if (avx2 && fma && f16c) {
    found = found | isa::avx2;
    if ((a71 >> 4) & 1) found = found | isa::avxvnni;
    if (avx512) {
      found = found | isa::avx512bw;
      if ((c7 >> 11) & 1) found = found | isa::avx512vnni;
      if ((a71 >> 5) & 1) found = found | isa::avx512bf16;
    }
  }
  return found;
}
#elif QMATH_ARCH_AARCH64 && defined(__linux__)
inline isa detect_isas() noexcept {
  isa found = isa::scalar | isa::neon;  // Advanced SIMD is mandatory on aarch64
  const unsigned long hwcap = getauxval(AT_HWCAP);
  if (hwcap & (1ul << 20)) found = found | isa::neon_dotprod;  // HWCAP_ASIMDDP
  return found;
}
#else
inline isa detect_isas() noexcept { return isa::scalar; }
#endif

/// Parses a comma-separated list of ISA names ("scalar,avx2"); unknown names are ignored. Scalar is always kept.
inline isa parse_isa_list(const char* text) noexcept {
  isa result = isa::scalar;
  std::string word;
  for (const char* p = text;; ++p) {
    if (*p == ',' || *p == '\0') {
      for (isa one : kAllIsas)
        if (word == isa_name(one)) result = result | one;
      word.clear();
      if (*p == '\0') break;
    } else if (*p != ' ') {
      word += *p;
    }
  }
  return result;
}

inline std::atomic<std::uint32_t>& isa_override_mask() noexcept {
  static std::atomic<std::uint32_t> mask{~0u};
  return mask;
}

}  // namespace cpu_detail

/// ISAs this CPU and operating system can run (CPUID + XGETBV on x86, HWCAP on aarch64), detected once.
inline isa supported_isas() noexcept {
  static const isa detected = cpu_detail::detect_isas();
  return detected;
}

/// supported_isas() restricted by the environment variable QMATH_ISA (a comma-separated allow-list such as
/// "scalar,avx2"; read once) and by any live ScopedIsaOverride. Kernels dispatch within this set.
inline isa allowed_isas() noexcept {
  static const isa from_env = [] {
    const char* text = std::getenv("QMATH_ISA");
    return text ? cpu_detail::parse_isa_list(text) : static_cast<isa>(~0u);
  }();
  return supported_isas() & from_env &
         static_cast<isa>(cpu_detail::isa_override_mask().load(std::memory_order_relaxed));
}

/// For tests and benchmarks: while alive, dispatch only chooses among `allowed` (scalar is always allowed).
/// Not meant to be used concurrently from several threads.
class ScopedIsaOverride {
 public:
  explicit ScopedIsaOverride(isa allowed) noexcept
      : previous_(cpu_detail::isa_override_mask().exchange(static_cast<std::uint32_t>(allowed | isa::scalar))) {}
  ~ScopedIsaOverride() { cpu_detail::isa_override_mask().store(previous_); }
  ScopedIsaOverride(const ScopedIsaOverride&) = delete;
  ScopedIsaOverride& operator=(const ScopedIsaOverride&) = delete;

 private:
  std::uint32_t previous_;
};

}  // namespace qmath
