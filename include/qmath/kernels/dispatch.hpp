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
// Every family goes through the same three functions (compiled_paths, kernels_for, best_active) over the
// KernelSets of kernel_set.hpp; the per-family functions below are thin wrappers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qmath/core/config.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/kernels/kernel_set.hpp"
#include "qmath/kernels/ref/convert.hpp"
#include "qmath/kernels/ref/depthwise.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/kernels/ref/pack.hpp"
#include "qmath/kernels/ref/quantize.hpp"

#if !defined(QMATH_RUNTIME_DISPATCH)
#include "qmath/kernels/simd/convert.hpp"
#include "qmath/kernels/simd/depthwise.hpp"
#include "qmath/kernels/simd/gemm_u8s8.hpp"
#include "qmath/kernels/simd/quantize.hpp"
#endif

QMATH_BEGIN_NAMESPACE
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
                                                &ref::gemm_pack_a_scalar, &ref::range_f32<void>};

inline constexpr DepthwiseKernels kScalarDepthwiseKernels{isa::scalar, &ref::depthwise_scalar};

/// The scalar path: every family has it, in both modes.
inline constexpr KernelSet kScalarKernelSet{isa::scalar, &kScalarConvertKernels, &kScalarQuantizeKernels,
                                            &kScalarGemmKernels, &kScalarDepthwiseKernels};

namespace dispatch_detail {
#if defined(QMATH_RUNTIME_DISPATCH)
inline kernel_abi::KernelSetList built_sets() noexcept { return kernel_abi::built_kernel_sets(); }
#else
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

// The tables of the architecture the compiler flags select, where qmath has bodies for it. Class templates so
// that a body is instantiated only when its set uses it.
struct NoTables {
  static constexpr const ConvertKernels* convert = nullptr;
  static constexpr const QuantizeKernels* quantize = nullptr;
  static constexpr const GemmKernels* gemm = nullptr;
  static constexpr const DepthwiseKernels* depthwise = nullptr;
};
template <class Arch>
struct ConvertTables {
  static constexpr ConvertKernels convert_table = simd::make_convert_kernels<Arch>(isa_of_arch<Arch>());
  static constexpr QuantizeKernels quantize_table = simd::make_quantize_kernels<Arch>(isa_of_arch<Arch>());
  static constexpr const ConvertKernels* convert = &convert_table;
  static constexpr const QuantizeKernels* quantize = &quantize_table;
};
template <class Arch>
struct GemmTable {
  static constexpr GemmKernels table = simd::make_gemm_kernels<Arch>(isa_of_gemm_arch<Arch>());
  static constexpr DepthwiseKernels depthwise_table = simd::make_depthwise_kernels<Arch>(isa_of_gemm_arch<Arch>());
  static constexpr const GemmKernels* gemm = &table;
  static constexpr const DepthwiseKernels* depthwise = &depthwise_table;
};

using FlagsArch = xsimd::default_arch;
using FlagsGemmArch = simd::gemm_default_arch;
// A dot-product GEMM arch (avx512vnni over avx512bw, ...) is a path of its own, with the GEMM only.
inline constexpr bool kGemmHasOwnArch = !std::is_same<FlagsArch, FlagsGemmArch>::value;
using FlagsConvert = std::conditional_t<simd::has_convert_body<FlagsArch>::value, ConvertTables<FlagsArch>, NoTables>;
using FlagsGemm = std::conditional_t<simd::has_gemm_body<FlagsGemmArch>::value, GemmTable<FlagsGemmArch>, NoTables>;

inline constexpr KernelSet kFlagsSet{isa_of_arch<FlagsArch>(), FlagsConvert::convert, FlagsConvert::quantize,
                                     kGemmHasOwnArch ? nullptr : FlagsGemm::gemm,
                                     kGemmHasOwnArch ? nullptr : FlagsGemm::depthwise};
inline constexpr KernelSet kFlagsGemmSet{isa_of_gemm_arch<FlagsGemmArch>(), nullptr, nullptr,
                                         kGemmHasOwnArch ? FlagsGemm::gemm : nullptr,
                                         kGemmHasOwnArch ? FlagsGemm::depthwise : nullptr};
inline constexpr const KernelSet* kFlagsSets[] = {&kFlagsSet, &kFlagsGemmSet};

inline kernel_abi::KernelSetList built_sets() noexcept { return {kFlagsSets, 2}; }
#endif

template <class Kernels>
const Kernels* find(const kernel_abi::KernelSetList& built, Family<Kernels> family, isa path) noexcept {
  if (path == isa::scalar) return kScalarKernelSet.*family;
  for (std::size_t i = 0; i < built.count; ++i)
    if (built.sets[i]->path == path && built.sets[i]->*family != nullptr) return built.sets[i]->*family;
  return nullptr;
}
}  // namespace dispatch_detail

/// The paths of one family compiled into this program (scalar always), e.g. compiled_paths(&KernelSet::gemm).
template <class Kernels>
isa compiled_paths(Family<Kernels> family) noexcept {
  isa paths = isa::scalar;
  const kernel_abi::KernelSetList built = dispatch_detail::built_sets();
  for (std::size_t i = 0; i < built.count; ++i)
    if (built.sets[i]->*family != nullptr) paths = paths | built.sets[i]->path;
  return paths;
}

/// One family's table on one path, or nullptr when that path is not compiled in for it. Does not check that the
/// CPU can run it: see supported_isas().
template <class Kernels>
const Kernels* kernels_for(Family<Kernels> family, isa path) noexcept {
  return dispatch_detail::find(dispatch_detail::built_sets(), family, path);
}

/// The table of one family that calls go through: its best compiled path that this CPU runs and QMATH_ISA /
/// ScopedIsaOverride allow. Asked on every call (a few compares, cheap next to bulk work), so an override takes
/// effect at once.
template <class Kernels>
const Kernels& best_active(Family<Kernels> family) noexcept {
  const isa allowed = allowed_isas();
  const kernel_abi::KernelSetList built = dispatch_detail::built_sets();
  for (std::size_t i = sizeof(kAllIsas) / sizeof(kAllIsas[0]); i-- > 1;) {  // kAllIsas is worst to best, scalar first
    if (!has(allowed, kAllIsas[i])) continue;
    if (const Kernels* table = dispatch_detail::find(built, family, kAllIsas[i])) return *table;
  }
  return *(kScalarKernelSet.*family);
}

/// The conversion paths compiled into this program (scalar always). The quantize family has the same paths.
inline isa compiled_isas() noexcept { return compiled_paths(&KernelSet::convert); }
/// The int8 GEMM paths compiled into this program (scalar always); the dot-product paths (avx512vnni, avxvnni,
/// neon_dotprod) have GEMM kernels only.
inline isa compiled_gemm_isas() noexcept { return compiled_paths(&KernelSet::gemm); }

inline const ConvertKernels* convert_kernels(isa path) noexcept { return kernels_for(&KernelSet::convert, path); }
inline const QuantizeKernels* quantize_kernels(isa path) noexcept { return kernels_for(&KernelSet::quantize, path); }
inline const GemmKernels* gemm_kernels(isa path) noexcept { return kernels_for(&KernelSet::gemm, path); }
/// The depthwise convolution's table of a GEMM path (every GEMM path has one).
inline const DepthwiseKernels* depthwise_kernels(isa path) noexcept { return kernels_for(&KernelSet::depthwise, path); }

inline const ConvertKernels& active_convert_kernels() noexcept { return best_active(&KernelSet::convert); }
inline const QuantizeKernels& active_quantize_kernels() noexcept { return best_active(&KernelSet::quantize); }
/// The GEMM table new packings use.
inline const GemmKernels& active_gemm_kernels() noexcept { return best_active(&KernelSet::gemm); }

}  // namespace kernels
QMATH_END_NAMESPACE  // qmath
