// SPDX-License-Identifier: Apache-2.0
// kernels/dispatch.hpp: which kernel table runs (kernels layer).
//
// Two modes, chosen by how qmath is linked:
// - header-only (default): the paths are the scalar reference and the xsimd body for the architecture the
//   user's compiler flags select (xsimd::default_arch), as with Eigen: -mavx2 -mfma -mf16c gives avx2,
//   -march=x86-64-v4 gives avx512bw, any aarch64 compiler gives neon.
// - run-time dispatch: link qmath::isa_kernels (it defines QMATH_RUNTIME_DISPATCH). Every ISA variant the
//   compiler could build lives in its own translation unit there, and each call takes the best path in
//   compiled_isas() & allowed_isas().
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmath/core/cpu.hpp"
#include "qmath/kernels/convert_table.hpp"
#include "qmath/kernels/gemm_table.hpp"
#include "qmath/kernels/quantize_table.hpp"
#include "qmath/kernels/ref/convert.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/kernels/ref/pack.hpp"
#include "qmath/kernels/ref/quantize.hpp"

#if !defined(QMATH_RUNTIME_DISPATCH)
#include "qmath/kernels/simd/convert.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"
#include "qmath/kernels/simd/quantize.hpp"
#endif

namespace qmath {
namespace kernels {

inline constexpr ConvertKernels kScalarConvertKernels{isa::scalar,
                                                      &ref::convert_f32_to_f16,
                                                      &ref::convert_f16_to_f32,
                                                      &ref::convert_f32_to_bf16,
                                                      &ref::convert_bf16_to_f32,
                                                      &ref::convert_f32_to_fp8,
                                                      &ref::convert_fp8_to_f32};

inline constexpr QuantizeKernels kScalarQuantizeKernels{
    isa::scalar,
    {&ref::quantize<std::int8_t>, &ref::quantize<std::uint8_t>, &ref::quantize<std::int16_t>,
     &ref::quantize<std::uint16_t>},
    {&ref::dequantize<std::int8_t>, &ref::dequantize<std::uint8_t>, &ref::dequantize<std::int16_t>,
     &ref::dequantize<std::uint16_t>},
    {&ref::requantize<std::int8_t>, &ref::requantize<std::uint8_t>, &ref::requantize<std::int16_t>,
     &ref::requantize<std::uint16_t>}};

inline constexpr GemmKernels kScalarGemmKernels{isa::scalar, ref::kScalarGemmLayout, &ref::gemm_compute_scalar,
                                                &ref::gemm_pack_a_scalar};

#if defined(QMATH_RUNTIME_DISPATCH)
namespace detail {
// Defined in qmath::isa_kernels (src/isa/registry.cpp).
isa built_isas() noexcept;
isa built_gemm_isas() noexcept;
const ConvertKernels* built_convert_kernels(isa path) noexcept;
const QuantizeKernels* built_quantize_kernels(isa path) noexcept;
const GemmKernels* built_gemm_kernels(isa path) noexcept;
}  // namespace detail
#endif

// The functions below behave differently in the two modes, so each mode gets its own inline namespace: a program
// that mixes header-only and run-time-dispatch translation units (say, a library built with qmath::qmath linked
// into an application with qmath::isa_kernels) then keeps both versions instead of the linker picking one.
#if defined(QMATH_RUNTIME_DISPATCH)
inline namespace runtime_dispatch {
namespace dispatch_detail {
inline isa built_isas() noexcept { return detail::built_isas(); }
inline const ConvertKernels* built_convert_kernels(isa path) noexcept { return detail::built_convert_kernels(path); }
inline const QuantizeKernels* built_quantize_kernels(isa path) noexcept { return detail::built_quantize_kernels(path); }
inline isa built_gemm_isas() noexcept { return detail::built_gemm_isas(); }
inline const GemmKernels* built_gemm_kernels(isa path) noexcept { return detail::built_gemm_kernels(path); }
}  // namespace dispatch_detail
#else
inline namespace header_only {
namespace dispatch_detail {
template <class Arch>
constexpr isa isa_of_arch() noexcept {
#if XSIMD_WITH_AVX512BW
  if (x86::is_avx512_family<Arch>::value) return isa::avx512bw;
#endif
#if XSIMD_WITH_AVX2
  if (x86::is_avx2_family<Arch>::value) return isa::avx2;
#endif
#if XSIMD_WITH_NEON64
  if (arm::is_neon64_family<Arch>::value) return isa::neon;
#endif
  return isa::none;
}

template <class Arch, bool = simd::has_convert_body<Arch>::value>
struct DefaultConvertKernels {
  static constexpr isa path = isa::none;
  static const ConvertKernels* get() noexcept { return nullptr; }
  static const QuantizeKernels* get_quantize() noexcept { return nullptr; }
};
template <class Arch>
struct DefaultConvertKernels<Arch, true> {
  static constexpr isa path = isa_of_arch<Arch>();
  static const ConvertKernels* get() noexcept {
    static constexpr ConvertKernels table = simd::make_convert_kernels<Arch>(path);
    return &table;
  }
  static const QuantizeKernels* get_quantize() noexcept {
    static constexpr QuantizeKernels table = simd::make_quantize_kernels<Arch>(path);
    return &table;
  }
};

inline isa built_isas() noexcept { return DefaultConvertKernels<xsimd::default_arch>::path; }
inline const ConvertKernels* built_convert_kernels(isa path) noexcept {
  using Default = DefaultConvertKernels<xsimd::default_arch>;
  return path == Default::path ? Default::get() : nullptr;
}
inline const QuantizeKernels* built_quantize_kernels(isa path) noexcept {
  using Default = DefaultConvertKernels<xsimd::default_arch>;
  return path == Default::path ? Default::get_quantize() : nullptr;
}

template <class Arch>
constexpr isa isa_of_gemm_arch() noexcept {
#if defined(QMATH_HAVE_AVX512VNNI_ARCH)
  if (std::is_same<Arch, x86::avx512vnni>::value) return isa::avx512vnni;
#endif
#if defined(QMATH_HAVE_AVXVNNI_ARCH)
  if (std::is_same<Arch, x86::avxvnni>::value) return isa::avxvnni;
#endif
#if defined(QMATH_HAVE_NEON_DOTPROD_ARCH)
  if (std::is_same<Arch, arm::neon_dotprod>::value) return isa::neon_dotprod;
#endif
  return isa_of_arch<Arch>();
}

template <class Arch, bool = simd::has_gemm_body<Arch>::value>
struct DefaultGemmKernels {
  static constexpr isa path = isa::none;
  static const GemmKernels* get() noexcept { return nullptr; }
};
template <class Arch>
struct DefaultGemmKernels<Arch, true> {
  static constexpr isa path = isa_of_gemm_arch<Arch>();
  static const GemmKernels* get() noexcept {
    static constexpr GemmKernels table = simd::make_gemm_kernels<Arch>(path);
    return &table;
  }
};
inline isa built_gemm_isas() noexcept { return DefaultGemmKernels<simd::gemm_default_arch>::path; }
inline const GemmKernels* built_gemm_kernels(isa path) noexcept {
  using Default = DefaultGemmKernels<simd::gemm_default_arch>;
  return path == Default::path ? Default::get() : nullptr;
}
}  // namespace dispatch_detail
#endif

/// The ISA paths compiled into this program (scalar always).
inline isa compiled_isas() noexcept { return isa::scalar | dispatch_detail::built_isas(); }

/// The conversion table of one path, or nullptr when that path is not compiled in. Does not check that the
/// CPU can run it: see supported_isas().
inline const ConvertKernels* convert_kernels(isa path) noexcept {
  if (path == isa::scalar) return &kScalarConvertKernels;
  return has(compiled_isas(), path) ? dispatch_detail::built_convert_kernels(path) : nullptr;
}

/// The table calls go through: the best compiled path this CPU runs and QMATH_ISA / ScopedIsaOverride allow.
inline const ConvertKernels& active_convert_kernels() noexcept {
  const isa usable = compiled_isas() & allowed_isas();
  for (std::size_t i = sizeof(kAllIsas) / sizeof(kAllIsas[0]); i-- > 0;) {
    if (!has(usable, kAllIsas[i])) continue;
    if (const ConvertKernels* table = convert_kernels(kAllIsas[i])) return *table;
  }
  return kScalarConvertKernels;
}

/// The quantize / dequantize / requantize table of one path, or nullptr when that path is not compiled in.
inline const QuantizeKernels* quantize_kernels(isa path) noexcept {
  if (path == isa::scalar) return &kScalarQuantizeKernels;
  return has(compiled_isas(), path) ? dispatch_detail::built_quantize_kernels(path) : nullptr;
}

/// The quantize table calls go through (same choice as active_convert_kernels()).
inline const QuantizeKernels& active_quantize_kernels() noexcept {
  const isa usable = compiled_isas() & allowed_isas();
  for (std::size_t i = sizeof(kAllIsas) / sizeof(kAllIsas[0]); i-- > 0;) {
    if (!has(usable, kAllIsas[i])) continue;
    if (const QuantizeKernels* table = quantize_kernels(kAllIsas[i])) return *table;
  }
  return kScalarQuantizeKernels;
}

/// The int8 GEMM paths compiled into this program (scalar always). A family of its own: the dot-product paths
/// (avx512vnni, avxvnni, neon_dotprod) have GEMM kernels only.
inline isa compiled_gemm_isas() noexcept { return isa::scalar | dispatch_detail::built_gemm_isas(); }

/// The GEMM table of one path, or nullptr when that path is not compiled in (the CPU is not consulted).
inline const GemmKernels* gemm_kernels(isa path) noexcept {
  if (path == isa::scalar) return &kScalarGemmKernels;
  return has(compiled_gemm_isas(), path) ? dispatch_detail::built_gemm_kernels(path) : nullptr;
}

/// The GEMM table new packings use: the best compiled path this CPU runs and QMATH_ISA / ScopedIsaOverride allow.
inline const GemmKernels& active_gemm_kernels() noexcept {
  const isa usable = compiled_gemm_isas() & allowed_isas();
  for (std::size_t i = sizeof(kAllIsas) / sizeof(kAllIsas[0]); i-- > 0;) {
    if (!has(usable, kAllIsas[i])) continue;
    if (const GemmKernels* table = gemm_kernels(kAllIsas[i])) return *table;
  }
  return kScalarGemmKernels;
}

}  // inline namespace runtime_dispatch / header_only
}  // namespace kernels
}  // namespace qmath
