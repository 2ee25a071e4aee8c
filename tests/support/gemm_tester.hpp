// SPDX-License-Identifier: Apache-2.0
// tests/support/gemm_tester.hpp: a fluent tester for the int8 GEMM (XNNPACK style). It builds A and B with the
// chosen shape, strides, types, zero points and value pattern, packs B for one ISA path, runs qmath::gemm with one
// output stage and checks every element, bit for bit, against the scalar reference computed on the UNPACKED
// operands (ref::gemm_u8s8_i32 + the ref stage functions), and that the guard bytes around C stay untouched.
//
//   GemmTester().m(5).n(17).k(33).lda(41).a_zero_point(128).per_row_a_zero_points(true).per_channel_b(true)
//       .b_order(qmath::gemm_b_order::n_by_k).a_signed(true).b_unsigned(true).output(GemmStage::fixed_s8)
//       .threads(2).seed(7).run(qmath::isa::avx2);
//
// Anything not set is drawn from the seed (zero points, multipliers, bias, output zero point), so a failure is
// reproduced by the fluent chain it prints. A's and B's base pointers are one byte past an allocation of exactly
// the bytes the strides need (unaligned, and AddressSanitizer sees any over-read); the padding of lda / ldb holds
// junk that must not matter. C has ldc > N by default, canary bytes in the gaps and guard regions before and after.
// When K exceeds the bound of the zero points (computed here independently of gemm_max_k), run() expects
// qmath::error and an untouched C instead.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/core/cpu.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/conv.hpp"
#include "qmath/gemm.hpp"
#include "qmath/kernels/ref/conv2d_u8s8.hpp"
#include "qmath/kernels/ref/gemm_u8s8.hpp"
#include "qmath/quant/requantize.hpp"

namespace qmath_test {

/// Every GEMM path compiled into the test binary (compiled_gemm_isas()), scalar first.
inline std::vector<qmath::isa> compiled_gemm_isa_list() {
  std::vector<qmath::isa> list;
  for (qmath::isa path : qmath::kAllIsas)
    if (qmath::has(qmath::kernels::compiled_gemm_isas(), path)) list.push_back(path);
  return list;
}

inline std::string gemm_isa_param_name(const ::testing::TestParamInfo<qmath::isa>& info) {
  return qmath::isa_name(info.param);
}

/// The output stage under test (requantize*: float multiplier; fixed*: Q31 multiplier and shift).
enum class GemmStage { int32, requantize_s8, requantize_u8, fixed_s8, fixed_u8, dequantize };
inline constexpr GemmStage kAllGemmStages[] = {GemmStage::int32,    GemmStage::requantize_s8, GemmStage::requantize_u8,
                                               GemmStage::fixed_s8, GemmStage::fixed_u8,      GemmStage::dequantize};

inline const char* gemm_stage_name(GemmStage s) {
  switch (s) {
    case GemmStage::int32:
      return "int32";
    case GemmStage::requantize_s8:
      return "requantize_s8";
    case GemmStage::requantize_u8:
      return "requantize_u8";
    case GemmStage::fixed_s8:
      return "fixed_s8";
    case GemmStage::fixed_u8:
      return "fixed_u8";
    case GemmStage::dequantize:
      return "dequantize";
  }
  return "?";
}

/// Value pattern of an operand: random, all at the type's minimum / maximum, or each element at one end at random.
enum class GemmFill { random, min, max, extremes };

inline const char* gemm_fill_name(GemmFill f) {
  switch (f) {
    case GemmFill::random:
      return "random";
    case GemmFill::min:
      return "min";
    case GemmFill::max:
      return "max";
    case GemmFill::extremes:
      return "extremes";
  }
  return "?";
}

/// Largest K with K * da * db <= INT32_MAX, da / db the largest |value - zero point| the types allow: written
/// here from the definition, independently of qmath::gemm_max_k.
template <class TA, class TB>
std::int64_t independent_gemm_bound(const std::vector<std::int32_t>& za, const std::vector<std::int32_t>& zb) {
  std::int64_t da = 0, db = 0;
  for (std::int32_t z : za) da = std::max({da, z - qmath::int_traits<TA>::kMin, qmath::int_traits<TA>::kMax - z});
  for (std::int32_t z : zb) db = std::max({db, z - qmath::int_traits<TB>::kMin, qmath::int_traits<TB>::kMax - z});
  return da * db == 0 ? std::int64_t{std::numeric_limits<std::int32_t>::max()}
                      : std::int64_t{std::numeric_limits<std::int32_t>::max()} / (da * db);
}

class GemmTester {
 public:
  // clang-format off
  GemmTester& m(std::ptrdiff_t v) { m_ = v; return *this; }
  GemmTester& n(std::ptrdiff_t v) { n_ = v; return *this; }
  GemmTester& k(std::ptrdiff_t v) { k_ = v; return *this; }
  /// 0 (default): K.
  GemmTester& lda(std::ptrdiff_t v) { lda_ = v; return *this; }
  /// 0 (default): N for k_by_n, K for n_by_k.
  GemmTester& ldb(std::ptrdiff_t v) { ldb_ = v; return *this; }
  /// 0 (default): N + 3.
  GemmTester& ldc(std::ptrdiff_t v) { ldc_ = v; return *this; }
  GemmTester& a_signed(bool v) { a_signed_ = v; return *this; }
  GemmTester& b_unsigned(bool v) { b_unsigned_ = v; return *this; }
  GemmTester& b_order(qmath::gemm_b_order v) { b_order_ = v; return *this; }
  /// Per tensor: this zero point (default: drawn from the seed). Per row / column: one of the choices for each entry.
  GemmTester& a_zero_point(std::int32_t v) { a_zero_point_ = v; return *this; }
  GemmTester& b_zero_point(std::int32_t v) { b_zero_point_ = v; return *this; }
  /// M zero points for A, each the given one, the type's min, its max or random (seeded).
  GemmTester& per_row_a_zero_points(bool v) { per_row_a_ = v; return *this; }
  /// N zero points for B, chosen the same way.
  GemmTester& per_channel_b(bool v) { per_channel_b_ = v; return *this; }
  GemmTester& a_fill(GemmFill v) { a_fill_ = v; return *this; }
  GemmTester& b_fill(GemmFill v) { b_fill_ = v; return *this; }
  GemmTester& output(GemmStage v) { stage_ = v; return *this; }
  /// Multiplier (requantize / fixed) and b_scale (dequantize) per output column rather than one.
  GemmTester& per_channel_scale(bool v) { per_channel_scale_ = v; return *this; }
  /// Dequantize: one a_scale per row rather than one.
  GemmTester& per_row_a_scale(bool v) { per_row_a_scale_ = v; return *this; }
  GemmTester& bias(bool v) { bias_ = v; return *this; }
  /// Float multiplier (per tensor; per channel it is the base the columns scale). Default: from C's spread.
  GemmTester& multiplier(float v) { multiplier_ = v; return *this; }
  /// Fixed-point stage: this exact Q31 multiplier and shift (per tensor, or for every column).
  GemmTester& fixed_point(std::int32_t multiplier, int shift) {
    fixed_multiplier_ = multiplier;
    fixed_shift_ = shift;
    return *this;
  }
  GemmTester& output_zero_point(std::int32_t v) { output_zero_point_ = v; return *this; }
  GemmTester& clamp(std::int32_t lo, std::int32_t hi) {
    clamp_min_ = lo;
    clamp_max_ = hi;
    return *this;
  }
  GemmTester& threads(int v) { threads_ = v; return *this; }
  /// Conv mode: A is an NHWC input and B filters of this shape (M, N, K follow from it; lda / ldb / b_order and
  /// per-row A zero points do not apply), run through pack_conv_weights and conv2d.
  GemmTester& conv(const qmath::ConvParams& v) { conv_ = v; return *this; }
  GemmTester& conv_layout(qmath::conv_weight_layout v) { conv_layout_ = v; return *this; }
  GemmTester& seed(std::uint64_t v) { seed_ = v; return *this; }
  // clang-format on

  std::ptrdiff_t m() const { return m_; }
  std::ptrdiff_t n() const { return n_; }
  std::ptrdiff_t k() const { return k_; }

  /// Runs the case on `path` and checks it (fatal gtest failures: wrap in ASSERT_NO_FATAL_FAILURE).
  void run(qmath::isa path) {
    output_.clear();
    threw_ = false;
    path_ = path;
    if (conv_) {
      if (a_signed_) {
        if (b_unsigned_)
          run_conv_types<std::int8_t, std::uint8_t>(path);
        else
          run_conv_types<std::int8_t, std::int8_t>(path);
      } else {
        if (b_unsigned_)
          run_conv_types<std::uint8_t, std::uint8_t>(path);
        else
          run_conv_types<std::uint8_t, std::int8_t>(path);
      }
      return;
    }
    if (a_signed_) {
      if (b_unsigned_)
        run_types<std::int8_t, std::uint8_t>(path);
      else
        run_types<std::int8_t, std::int8_t>(path);
    } else {
      if (b_unsigned_)
        run_types<std::uint8_t, std::uint8_t>(path);
      else
        run_types<std::uint8_t, std::int8_t>(path);
    }
  }

  /// The M x N result of the last run (row-major, bytes of the output type); empty if it threw.
  const std::vector<unsigned char>& result() const { return output_; }
  /// Whether the last run expected (and got) qmath::error because K exceeded the bound.
  bool threw() const { return threw_; }

  /// The fluent chain that reproduces this case.
  std::string describe(qmath::isa path) const {
    std::ostringstream s;
    s << std::boolalpha << "GemmTester()";
    if (conv_) {
      const qmath::ConvParams& p = *conv_;
      s << ".conv({" << p.batch << ", " << p.in_h << ", " << p.in_w << ", " << p.in_channels << ", " << p.out_channels
        << ", " << p.groups << ", " << p.kernel_h << ", " << p.kernel_w << ", " << p.stride_h << ", " << p.stride_w
        << ", " << p.pad_top << ", " << p.pad_left << ", " << p.pad_bottom << ", " << p.pad_right << ", "
        << p.dilation_h << ", " << p.dilation_w << "})";
      if (conv_layout_ != qmath::conv_weight_layout::oihw)
        s << ".conv_layout(" << (conv_layout_ == qmath::conv_weight_layout::ohwi ? "ohwi" : "hwio") << ")";
    } else {
      s << ".m(" << m_ << ").n(" << n_ << ").k(" << k_ << ")";
    }
    if (lda_) s << ".lda(" << lda_ << ")";
    if (ldb_) s << ".ldb(" << ldb_ << ")";
    if (ldc_) s << ".ldc(" << ldc_ << ")";
    s << ".a_signed(" << a_signed_ << ").b_unsigned(" << b_unsigned_ << ").b_order("
      << (b_order_ == qmath::gemm_b_order::k_by_n ? "k_by_n" : "n_by_k") << ")";
    if (a_zero_point_) s << ".a_zero_point(" << *a_zero_point_ << ")";
    if (b_zero_point_) s << ".b_zero_point(" << *b_zero_point_ << ")";
    if (per_row_a_) s << ".per_row_a_zero_points(true)";
    if (per_channel_b_) s << ".per_channel_b(true)";
    if (a_fill_ != GemmFill::random) s << ".a_fill(GemmFill::" << gemm_fill_name(a_fill_) << ")";
    if (b_fill_ != GemmFill::random) s << ".b_fill(GemmFill::" << gemm_fill_name(b_fill_) << ")";
    s << ".output(GemmStage::" << gemm_stage_name(stage_) << ")";
    if (per_channel_scale_) s << ".per_channel_scale(true)";
    if (per_row_a_scale_) s << ".per_row_a_scale(true)";
    if (bias_) s << ".bias(true)";
    if (multiplier_) s << ".multiplier(" << *multiplier_ << ")";
    if (fixed_multiplier_) s << ".fixed_point(" << *fixed_multiplier_ << ", " << fixed_shift_ << ")";
    if (output_zero_point_) s << ".output_zero_point(" << *output_zero_point_ << ")";
    if (clamp_min_) s << ".clamp(" << *clamp_min_ << ", " << *clamp_max_ << ")";
    if (threads_ != 1) s << ".threads(" << threads_ << ")";
    s << ".seed(" << seed_ << ").run(isa::" << qmath::isa_name(path) << ")";
    return s.str();
  }

 private:
  static constexpr std::ptrdiff_t kGuardElements = 16;
  static constexpr unsigned char kCanary = 0xA5;

  template <class T>
  static std::int32_t random_in_type(std::mt19937_64& rng) {
    const std::int64_t span = qmath::int_traits<T>::kMax - qmath::int_traits<T>::kMin + 1;
    return static_cast<std::int32_t>(qmath::int_traits<T>::kMin + static_cast<std::int64_t>(rng() % span));
  }

  template <class T>
  static T fill_value(GemmFill fill, std::mt19937_64& rng) {
    switch (fill) {
      case GemmFill::min:
        return static_cast<T>(qmath::int_traits<T>::kMin);
      case GemmFill::max:
        return static_cast<T>(qmath::int_traits<T>::kMax);
      case GemmFill::extremes:
        return static_cast<T>((rng() & 1) ? qmath::int_traits<T>::kMax : qmath::int_traits<T>::kMin);
      case GemmFill::random:
        break;
    }
    return static_cast<T>(random_in_type<T>(rng));
  }

  /// `count` zero points of type T: the given one (or a random one) per tensor; per entry a mix of the given one,
  /// both ends of the range and random values.
  template <class T>
  static std::vector<std::int32_t> make_zero_points(std::size_t count, bool per_entry,
                                                    std::optional<std::int32_t> given, std::mt19937_64& rng) {
    const std::int32_t first = given ? *given : random_in_type<T>(rng);
    std::vector<std::int32_t> z(per_entry ? count : 1, first);
    for (std::size_t i = 0; per_entry && i < z.size(); ++i) {
      switch (rng() % 4) {
        case 0:
          z[i] = first;
          break;
        case 1:
          z[i] = static_cast<std::int32_t>(qmath::int_traits<T>::kMin);
          break;
        case 2:
          z[i] = static_cast<std::int32_t>(qmath::int_traits<T>::kMax);
          break;
        default:
          z[i] = random_in_type<T>(rng);
          break;
      }
    }
    return z;
  }

  template <class T>
  static std::string value_text(const unsigned char* bytes) {
    T v;
    std::memcpy(&v, bytes, sizeof(T));
    std::ostringstream s;
    if constexpr (std::is_floating_point<T>::value) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      s << v << " (0x" << std::hex << bits << std::dec << ")";
    } else {
      s << static_cast<std::int64_t>(v);
    }
    return s.str();
  }

  template <class TA, class TB>
  void run_types(qmath::isa path) {
    ASSERT_GE(m_, 0);
    ASSERT_GE(n_, 1);
    ASSERT_GE(k_, 1);
    const std::ptrdiff_t lda = lda_ ? lda_ : k_;
    const bool k_by_n = b_order_ == qmath::gemm_b_order::k_by_n;
    const std::ptrdiff_t b_rows = k_by_n ? k_ : n_, b_cols = k_by_n ? n_ : k_;
    const std::ptrdiff_t ldb = ldb_ ? ldb_ : b_cols;
    const std::ptrdiff_t ldc = ldc_ ? ldc_ : n_ + 3;
    ASSERT_GE(lda, k_) << "bad test case: lda < K";
    ASSERT_GE(ldb, b_cols) << "bad test case: ldb too small";
    ASSERT_GE(ldc, n_) << "bad test case: ldc < N";
    const std::string what = describe(path);

    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + 1);
    // Exactly the bytes the strides need, one byte in: unaligned, and an over-read leaves the allocation.
    std::vector<TA> a_store(static_cast<std::size_t>(1 + (m_ > 0 ? (m_ - 1) * lda + k_ : 0)));
    for (TA& v : a_store) v = static_cast<TA>(random_in_type<TA>(rng));  // lda padding: junk that must not matter
    const TA* a = a_store.data() + 1;
    for (std::ptrdiff_t i = 0; i < m_; ++i)
      for (std::ptrdiff_t p = 0; p < k_; ++p)
        a_store[static_cast<std::size_t>(1 + i * lda + p)] = fill_value<TA>(a_fill_, rng);
    std::vector<TB> b_store(static_cast<std::size_t>(1 + (b_rows - 1) * ldb + b_cols));
    for (TB& v : b_store) v = static_cast<TB>(random_in_type<TB>(rng));
    const TB* b = b_store.data() + 1;
    for (std::ptrdiff_t r = 0; r < b_rows; ++r)
      for (std::ptrdiff_t c = 0; c < b_cols; ++c)
        b_store[static_cast<std::size_t>(1 + r * ldb + c)] = fill_value<TB>(b_fill_, rng);
    const std::ptrdiff_t b_row_stride = k_by_n ? ldb : 1, b_col_stride = k_by_n ? 1 : ldb;

    const std::vector<std::int32_t> za = make_zero_points<TA>(static_cast<std::size_t>(std::max<std::ptrdiff_t>(m_, 1)),
                                                              per_row_a_ && m_ > 0, a_zero_point_, rng);
    const std::vector<std::int32_t> zb =
        make_zero_points<TB>(static_cast<std::size_t>(n_), per_channel_b_, b_zero_point_, rng);

    qmath::PackedGemmB packed;
    try {
      packed = qmath::pack_gemm_b<TB>(b, k_, n_, ldb, b_order_, zb.data(), zb.size(), path);
    } catch (const qmath::error& e) {
      FAIL() << "pack_gemm_b threw: " << e.what() << "\n  case: " << what;
    }
    ASSERT_EQ(packed.path(), path) << what;
    ASSERT_EQ(packed.k(), k_) << what;
    ASSERT_EQ(packed.n(), n_) << what;

    const std::int64_t bound = independent_gemm_bound<TA, TB>(za, zb);
    ASSERT_EQ(qmath::gemm_max_k<TA>(za.data(), za.size(), packed), bound) << "gemm_max_k disagrees\n  case: " << what;
    const bool must_throw = k_ > bound;

    std::vector<std::int32_t> c_ref;
    double rms = 1.0;
    if (!must_throw) {
      c_ref.resize(static_cast<std::size_t>(m_ * n_));
      qmath::kernels::ref::gemm_u8s8_i32<TA, TB>(m_, n_, k_, a, lda, za.data(), per_row_a_ && m_ > 0, b, b_row_stride,
                                                 b_col_stride, zb.data(), per_channel_b_, c_ref.data(), n_);
      double sum = 0.0;
      for (std::int32_t v : c_ref) sum += static_cast<double>(v) * static_cast<double>(v);
      if (!c_ref.empty()) rms = std::max(1.0, std::sqrt(sum / static_cast<double>(c_ref.size())));
    }
    const qmath::GemmA<TA> ga{a, m_, lda, za.data(), za.size()};
    run_stage([&](const auto& out, const qmath::GemmOptions& options) { qmath::gemm(ga, packed, out, options); }, ldc,
              c_ref, rms, must_throw, rng, what);
  }

  template <class Call>
  void run_stage(const Call& call, std::ptrdiff_t ldc, const std::vector<std::int32_t>& c_ref, double rms,
                 bool must_throw, std::mt19937_64& rng, const std::string& what) {
    switch (stage_) {
      case GemmStage::int32:
        return run_int32(call, ldc, c_ref, must_throw, what);
      case GemmStage::requantize_s8:
        return run_requantize<std::int8_t>(call, ldc, c_ref, rms, must_throw, rng, what);
      case GemmStage::requantize_u8:
        return run_requantize<std::uint8_t>(call, ldc, c_ref, rms, must_throw, rng, what);
      case GemmStage::fixed_s8:
        return run_fixed<std::int8_t>(call, ldc, c_ref, rms, must_throw, rng, what);
      case GemmStage::fixed_u8:
        return run_fixed<std::uint8_t>(call, ldc, c_ref, rms, must_throw, rng, what);
      case GemmStage::dequantize:
        return run_dequantize(call, ldc, c_ref, rms, must_throw, rng, what);
    }
  }

  /// Conv mode: the input (NHWC) is A's codes, the filters (made OIHW, given to the packer in conv_layout_) B's;
  /// C is the M x N output of conv2d and the reference is ref::conv2d_u8s8_i32.
  template <class TA, class TB>
  void run_conv_types(qmath::isa path) {
    const qmath::ConvParams& p = *conv_;
    ASSERT_TRUE(p.groups >= 1 && p.in_channels % p.groups == 0 && p.out_channels % p.groups == 0) << "bad test case";
    ASSERT_GE(p.out_h(), 1) << "bad test case: empty output";
    ASSERT_GE(p.out_w(), 1) << "bad test case: empty output";
    const std::ptrdiff_t cg = p.in_channels / p.groups;
    m_ = p.batch * p.out_h() * p.out_w();
    n_ = p.out_channels;
    k_ = p.kernel_h * p.kernel_w * cg;
    const std::ptrdiff_t ldc = ldc_ ? ldc_ : n_ + 3;
    const std::string what = describe(path);
    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + 1);
    std::vector<TA> x_store(static_cast<std::size_t>(1 + p.batch * p.in_h * p.in_w * p.in_channels));
    for (TA& v : x_store) v = fill_value<TA>(a_fill_, rng);
    const TA* x = x_store.data() + 1;
    const std::ptrdiff_t taps = p.kernel_h * p.kernel_w;
    std::vector<TB> w_oihw(static_cast<std::size_t>(n_ * cg * taps));
    for (TB& v : w_oihw) v = fill_value<TB>(b_fill_, rng);
    std::vector<TB> w_store(w_oihw.size() + 1);
    for (std::ptrdiff_t o = 0; o < n_; ++o)
      for (std::ptrdiff_t c = 0; c < cg; ++c)
        for (std::ptrdiff_t kh = 0; kh < p.kernel_h; ++kh)
          for (std::ptrdiff_t kw = 0; kw < p.kernel_w; ++kw) {
            std::ptrdiff_t at = 0;
            switch (conv_layout_) {
              case qmath::conv_weight_layout::oihw: at = ((o * cg + c) * p.kernel_h + kh) * p.kernel_w + kw; break;
              case qmath::conv_weight_layout::ohwi: at = ((o * p.kernel_h + kh) * p.kernel_w + kw) * cg + c; break;
              case qmath::conv_weight_layout::hwio: at = ((kh * p.kernel_w + kw) * cg + c) * n_ + o; break;
            }
            w_store[static_cast<std::size_t>(1 + at)] = w_oihw[static_cast<std::size_t>(((o * cg + c) * p.kernel_h + kh) * p.kernel_w + kw)];
          }
    const std::vector<std::int32_t> za = make_zero_points<TA>(1, false, a_zero_point_, rng);
    const std::vector<std::int32_t> zb = make_zero_points<TB>(static_cast<std::size_t>(n_), per_channel_b_, b_zero_point_, rng);
    qmath::PackedConvWeights packed;
    try {
      packed = qmath::pack_conv_weights<TB>(w_store.data() + 1, p, conv_layout_, zb.data(), zb.size(), path);
    } catch (const qmath::error& e) {
      FAIL() << "pack_conv_weights threw: " << e.what() << "\n  case: " << what;
    }
    ASSERT_EQ(packed.path(), path) << what;
    ASSERT_EQ(packed.depthwise(), p.groups > 1 && cg == 1) << what;
    const std::int64_t bound = independent_gemm_bound<TA, TB>(za, zb);
    ASSERT_EQ(qmath::conv_max_k<TA>(za[0], packed), bound) << "conv_max_k disagrees\n  case: " << what;
    const bool must_throw = k_ > bound;
    std::vector<std::int32_t> c_ref;
    double rms = 1.0;
    if (!must_throw) {
      c_ref.resize(static_cast<std::size_t>(m_ * n_));
      qmath::kernels::ref::conv2d_u8s8_i32<TA, TB>(p, x, za[0], w_oihw.data(), zb.data(), per_channel_b_, c_ref.data(), n_);
      double sum = 0.0;
      for (std::int32_t v : c_ref) sum += static_cast<double>(v) * static_cast<double>(v);
      rms = std::max(1.0, std::sqrt(sum / static_cast<double>(c_ref.size())));
    }
    run_stage([&](const auto& out, const qmath::GemmOptions& options) { qmath::conv2d(p, x, za[0], packed, out, options); },
              ldc, c_ref, rms, must_throw, rng, what);
  }

  /// C with kGuardElements before and after and ldc - N between rows, all canary bytes before the call.
  template <class T>
  struct Canvas {
    std::vector<T> store;
    std::ptrdiff_t m, n, ldc;
    Canvas(std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t ld) : m(rows), n(cols), ldc(ld) {
      store.resize(static_cast<std::size_t>(2 * kGuardElements + rows * ld));
      std::memset(static_cast<void*>(store.data()), kCanary, store.size() * sizeof(T));
    }
    T* c() { return store.data() + kGuardElements; }
    const unsigned char* at(std::ptrdiff_t i, std::ptrdiff_t j) const {
      return reinterpret_cast<const unsigned char*>(store.data() + kGuardElements + i * ldc + j);
    }
    /// First byte outside the M x N elements that is no longer the canary: -1 if none.
    std::ptrdiff_t first_touched_guard_byte() const {
      const auto* bytes = reinterpret_cast<const unsigned char*>(store.data());
      const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(store.size() * sizeof(T));
      for (std::ptrdiff_t byte = 0; byte < total; ++byte) {
        const std::ptrdiff_t element = byte / static_cast<std::ptrdiff_t>(sizeof(T)) - kGuardElements;
        const bool inside = element >= 0 && element < m * ldc && element % ldc < n;
        if (!inside && bytes[byte] != kCanary) return byte;
      }
      return -1;
    }
  };

  /// Calls gemm; on an expected throw checks that C is untouched, else compares with `expected` (M x N elements)
  /// and checks the guards.
  /// Calls call(out, options) (gemm or conv2d); on an expected throw checks that C is untouched, else compares
  /// with `expected` (M x N elements) and checks the guards.
  template <class T, class Call, class Output>
  void execute(const Call& call, Canvas<T>& canvas, const Output& out, const std::vector<T>& expected, bool must_throw,
               const std::string& what) {
    const qmath::GemmOptions options{threads_};
    if (must_throw) {
      bool threw = false;
      try {
        call(out, options);
      } catch (const qmath::error&) {
        threw = true;
      }
      ASSERT_TRUE(threw) << "K = " << k_ << " is beyond the bound, gemm must throw qmath::error\n  case: " << what;
      ASSERT_EQ(canvas.first_touched_guard_byte(), -1) << "gemm threw but wrote to C\n  case: " << what;
      threw_ = true;
      return;
    }
    try {
      call(out, options);
    } catch (const qmath::error& e) {
      FAIL() << "gemm threw: " << e.what() << "\n  case: " << what;
    }
    std::ptrdiff_t mismatches = 0, first_i = -1, first_j = -1;
    for (std::ptrdiff_t i = 0; i < m_; ++i)
      for (std::ptrdiff_t j = 0; j < n_; ++j)
        if (std::memcmp(canvas.at(i, j), &expected[static_cast<std::size_t>(i * n_ + j)], sizeof(T)) != 0) {
          if (mismatches++ == 0) first_i = i, first_j = j;
        }
    if (mismatches > 0) {
      std::ostringstream s;
      s << (conv_ ? "conv2d" : "GEMM") << " mismatch on path " << qmath::isa_name(path_) << " (M=" << m_ << " N=" << n_ << " K=" << k_
        << ", stage " << gemm_stage_name(stage_) << ", seed " << seed_ << "): " << mismatches << " of " << m_ * n_
        << " elements differ; first at (m=" << first_i << ", n=" << first_j << "): expected "
        << value_text<T>(
               reinterpret_cast<const unsigned char*>(&expected[static_cast<std::size_t>(first_i * n_ + first_j)]))
        << ", got " << value_text<T>(canvas.at(first_i, first_j)) << "\n  neighbourhood (expected/got):\n";
      for (std::ptrdiff_t i = std::max<std::ptrdiff_t>(0, first_i - 1); i <= std::min(m_ - 1, first_i + 1); ++i) {
        s << "   m=" << i << ":";
        for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(0, first_j - 2); j <= std::min(n_ - 1, first_j + 2); ++j)
          s << "  "
            << value_text<T>(reinterpret_cast<const unsigned char*>(&expected[static_cast<std::size_t>(i * n_ + j)]))
            << "/" << value_text<T>(canvas.at(i, j));
        s << "\n";
      }
      s << "  case: " << what;
      FAIL() << s.str();
    }
    const std::ptrdiff_t touched = canvas.first_touched_guard_byte();
    ASSERT_EQ(touched, -1) << "gemm wrote outside the M x N elements of C: byte " << touched << " of the canvas (guard "
                           << kGuardElements << " elements, ldc " << canvas.ldc << ", element size " << sizeof(T)
                           << ")\n  case: " << what;
    output_.resize(static_cast<std::size_t>(m_ * n_) * sizeof(T));
    for (std::ptrdiff_t i = 0; i < m_; ++i)
      std::memcpy(output_.data() + static_cast<std::size_t>(i * n_) * sizeof(T), canvas.at(i, 0),
                  static_cast<std::size_t>(n_) * sizeof(T));
  }

  template <class Call>
  void run_int32(const Call& call, std::ptrdiff_t ldc,
                 const std::vector<std::int32_t>& c_ref, bool must_throw, const std::string& what) {
    Canvas<std::int32_t> canvas(m_, n_, ldc);
    execute(call, canvas, qmath::GemmOutputInt32{canvas.c(), ldc}, c_ref, must_throw, what);
  }

  /// Per-column multipliers from a base: powers of two (exact ties for odd C) and arbitrary ratios.
  std::vector<float> column_multipliers(double rms, std::mt19937_64& rng) const {
    double base = multiplier_ ? static_cast<double>(*multiplier_) : 48.0 / rms;
    if (!multiplier_ && (rng() & 1)) base = std::ldexp(1.0, static_cast<int>(std::lround(std::log2(base))));
    std::vector<float> mult(per_channel_scale_ ? static_cast<std::size_t>(n_) : 1, static_cast<float>(base));
    for (std::size_t j = 0; per_channel_scale_ && j < mult.size(); ++j) {
      const double factor = (rng() & 1) ? std::ldexp(1.0, static_cast<int>(rng() % 5) - 2)
                                        : 0.3 + static_cast<double>(rng() % 1000) / 400.0;
      mult[j] = static_cast<float>(base * factor);
    }
    return mult;
  }

  /// Per-column int32 bias around C's spread, with a few entries near INT32_MIN / INT32_MAX (the sum wraps).
  std::vector<std::int32_t> column_bias(double rms, std::mt19937_64& rng) const {
    std::vector<std::int32_t> bias;
    if (!bias_) return bias;
    const auto span = static_cast<std::int64_t>(std::min(4.0 * rms, 1e9)) + 1;
    for (std::ptrdiff_t j = 0; j < n_; ++j) {
      const std::uint64_t r = rng();
      if (r % 16 == 0)
        bias.push_back(std::numeric_limits<std::int32_t>::max() - static_cast<std::int32_t>(r % 1000));
      else if (r % 16 == 1)
        bias.push_back(std::numeric_limits<std::int32_t>::min() + static_cast<std::int32_t>(r % 1000));
      else
        bias.push_back(
            static_cast<std::int32_t>(static_cast<std::int64_t>(r % static_cast<std::uint64_t>(2 * span)) - span));
    }
    return bias;
  }

  template <class Q>
  void output_range(std::mt19937_64& rng, std::int32_t& zero_point, std::int32_t& lo, std::int32_t& hi) const {
    zero_point = output_zero_point_ ? *output_zero_point_ : random_in_type<Q>(rng);
    lo = clamp_min_ ? *clamp_min_ : static_cast<std::int32_t>(qmath::int_traits<Q>::kMin);
    hi = clamp_max_ ? *clamp_max_ : static_cast<std::int32_t>(qmath::int_traits<Q>::kMax);
  }

  template <class Q, class Call>
  void run_requantize(const Call& call, std::ptrdiff_t ldc,
                      const std::vector<std::int32_t>& c_ref, double rms, bool must_throw, std::mt19937_64& rng,
                      const std::string& what) {
    namespace ref = qmath::kernels::ref;
    const std::vector<float> mult = column_multipliers(rms, rng);
    const std::vector<std::int32_t> bias = column_bias(rms, rng);
    std::int32_t zo, lo, hi;
    output_range<Q>(rng, zo, lo, hi);
    std::vector<Q> expected(c_ref.size());
    for (std::ptrdiff_t i = 0; i < m_ && !must_throw; ++i)
      for (std::ptrdiff_t j = 0; j < n_; ++j) {
        const std::size_t at = static_cast<std::size_t>(i * n_ + j);
        const std::int32_t v = ref::wrapping_add(c_ref[at], bias.empty() ? 0 : bias[static_cast<std::size_t>(j)]);
        expected[at] = static_cast<Q>(
            ref::requantize_float(v, mult[per_channel_scale_ ? static_cast<std::size_t>(j) : 0], zo, lo, hi));
      }
    Canvas<Q> canvas(m_, n_, ldc);
    qmath::GemmOutputRequantize<Q> out{
        canvas.c(), ldc, mult.data(), mult.size(), zo, bias.empty() ? nullptr : bias.data(), lo, hi};
    execute(call, canvas, out, expected, must_throw, what);
  }

  template <class Q, class Call>
  void run_fixed(const Call& call, std::ptrdiff_t ldc,
                 const std::vector<std::int32_t>& c_ref, double rms, bool must_throw, std::mt19937_64& rng,
                 const std::string& what) {
    namespace ref = qmath::kernels::ref;
    const std::vector<float> real = column_multipliers(rms, rng);
    std::vector<std::int32_t> mult(real.size()), shift(real.size());
    // Every 7th column of a per-channel stage gets a corner of the Q31 domain: zero, the largest multiplier,
    // the extreme shifts (a left shift that saturates the int32 product, a right shift by 31).
    const std::pair<std::int32_t, int> corners[] = {{0, 0},         {std::numeric_limits<std::int32_t>::max(), 30},
                                                    {1 << 30, -31}, {std::numeric_limits<std::int32_t>::max(), -31},
                                                    {1 << 30, 1},   {1518500250, 4},
                                                    {1 << 30, 0}};
    for (std::size_t j = 0; j < real.size(); ++j) {
      if (fixed_multiplier_) {
        mult[j] = *fixed_multiplier_;
        shift[j] = fixed_shift_;
      } else if (real.size() > 1 && j % 7 == 6) {
        const auto& corner = corners[(j / 7) % (sizeof(corners) / sizeof(corners[0]))];
        mult[j] = corner.first;
        shift[j] = corner.second;
      } else {
        const qmath::FixedPointMultiplier f = qmath::quantize_multiplier(static_cast<double>(real[j]));
        mult[j] = f.multiplier;
        shift[j] = f.shift;
      }
    }
    const std::vector<std::int32_t> bias = column_bias(rms, rng);
    std::int32_t zo, lo, hi;
    output_range<Q>(rng, zo, lo, hi);
    std::vector<Q> expected(c_ref.size());
    for (std::ptrdiff_t i = 0; i < m_ && !must_throw; ++i)
      for (std::ptrdiff_t j = 0; j < n_; ++j) {
        const std::size_t at = static_cast<std::size_t>(i * n_ + j);
        const std::size_t p = per_channel_scale_ ? static_cast<std::size_t>(j) : 0;
        const std::int32_t v = ref::wrapping_add(c_ref[at], bias.empty() ? 0 : bias[static_cast<std::size_t>(j)]);
        expected[at] = static_cast<Q>(ref::requantize_fixed(v, mult[p], shift[p], zo, lo, hi));
      }
    Canvas<Q> canvas(m_, n_, ldc);
    qmath::GemmOutputRequantizeFixed<Q> out{
        canvas.c(), ldc, mult.data(), shift.data(), mult.size(), zo, bias.empty() ? nullptr : bias.data(), lo, hi};
    execute(call, canvas, out, expected, must_throw, what);
  }

  template <class Call>
  void run_dequantize(const Call& call, std::ptrdiff_t ldc,
                      const std::vector<std::int32_t>& c_ref, double rms, bool must_throw, std::mt19937_64& rng,
                      const std::string& what) {
    namespace ref = qmath::kernels::ref;
    // Scales over several binades, some negative (only finiteness is required); bias around the outputs' spread.
    auto scale = [&rng]() {
      const float s = std::ldexp(1.0f + static_cast<float>(rng() % 4096) / 4096.0f, -static_cast<int>(rng() % 14) - 2);
      return (rng() % 8 == 0) ? -s : s;
    };
    std::vector<float> a_scale(per_row_a_scale_ ? static_cast<std::size_t>(std::max<std::ptrdiff_t>(m_, 1)) : 1);
    std::vector<float> b_scale(per_channel_scale_ ? static_cast<std::size_t>(n_) : 1);
    for (float& s : a_scale) s = scale();
    for (float& s : b_scale) s = scale();
    std::vector<float> bias;
    if (bias_)
      for (std::ptrdiff_t j = 0; j < n_; ++j)
        bias.push_back(static_cast<float>(rms * 1e-4 * (static_cast<double>(rng() % 2001) - 1000.0) / 1000.0));
    std::vector<float> expected(c_ref.size());
    for (std::ptrdiff_t i = 0; i < m_ && !must_throw; ++i)
      for (std::ptrdiff_t j = 0; j < n_; ++j) {
        const std::size_t at = static_cast<std::size_t>(i * n_ + j);
        expected[at] =
            ref::dequantize_accumulator(c_ref[at], a_scale[per_row_a_scale_ ? static_cast<std::size_t>(i) : 0],
                                        b_scale[per_channel_scale_ ? static_cast<std::size_t>(j) : 0],
                                        bias.empty() ? 0.0f : bias[static_cast<std::size_t>(j)]);
      }
    Canvas<float> canvas(m_, n_, ldc);
    qmath::GemmOutputDequantize out{canvas.c(),
                                    ldc,
                                    a_scale.data(),
                                    a_scale.size(),
                                    b_scale.data(),
                                    b_scale.size(),
                                    bias.empty() ? nullptr : bias.data()};
    execute(call, canvas, out, expected, must_throw, what);
  }

  std::ptrdiff_t m_ = 1, n_ = 1, k_ = 1, lda_ = 0, ldb_ = 0, ldc_ = 0;
  bool a_signed_ = false, b_unsigned_ = false;
  qmath::gemm_b_order b_order_ = qmath::gemm_b_order::k_by_n;
  std::optional<std::int32_t> a_zero_point_, b_zero_point_;
  bool per_row_a_ = false, per_channel_b_ = false;
  GemmFill a_fill_ = GemmFill::random, b_fill_ = GemmFill::random;
  GemmStage stage_ = GemmStage::int32;
  bool per_channel_scale_ = false, per_row_a_scale_ = false, bias_ = false;
  std::optional<float> multiplier_;
  std::optional<std::int32_t> fixed_multiplier_;
  int fixed_shift_ = 0;
  std::optional<std::int32_t> output_zero_point_, clamp_min_, clamp_max_;
  int threads_ = 1;
  std::uint64_t seed_ = 1;
  std::optional<qmath::ConvParams> conv_;
  qmath::conv_weight_layout conv_layout_ = qmath::conv_weight_layout::oihw;
  qmath::isa path_ = qmath::isa::scalar;

  std::vector<unsigned char> output_;
  bool threw_ = false;
};

}  // namespace qmath_test
