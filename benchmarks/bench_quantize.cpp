// SPDX-License-Identifier: Apache-2.0
// benchmarks/bench_quantize.cpp: throughput of bulk int8 quantize / dequantize (per tensor, per channel on both axes
// of a row-major square matrix) on every compiled ISA path, against bare intrinsics loops with the same arithmetic,
// a plain scalar loop and the equivalent Eigen expression.
//
// Compiled without ISA flags, as a user compiles by default: qmath's paths come from qmath::isa_kernels (run-time
// dispatch, forced per row with ScopedIsaOverride), the bare loops from their own ISA-flagged units
// (bare_quantize_*.cpp), and the scalar loop and Eigen see only SSE2.
// Rates are bytes of INPUT per second: 4 bytes per float for quantize, 1 byte per int8 code for dequantize.
// Sizes: 16M elements (streams from memory, [4096, 4096] per channel) and 64K elements (L2, [256, 256]).
//
// Before timing, every baseline is checked against qmath's codes (bit for bit) on the timed data, and the bare
// loops also on NaN / Inf / ties / saturating inputs with tails; a mismatch aborts with a message.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include "bare_quantize.hpp"
#include "qmath/core/cpu.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/quant/quantize.hpp"
#include "shapes.hpp"

namespace {

using qmath::isa;
using qmath_bench::AlignedArray;
using Code = std::int8_t;
static_assert(sizeof(int) == sizeof(std::int32_t), "Eigen's ArrayXi data is handed to loops taking int32_t");

enum class Op {
  quantize_tensor,
  quantize_tensor_onnx,
  quantize_axis0,
  quantize_axis1,
  dequantize_tensor,
  dequantize_axis0,
  dequantize_axis1
};

struct OpInfo {
  Op op;
  const char* name;
  std::size_t in_bytes;  // bytes of one input element
  bool quantizes;
};

// axis0: a channel is a row, one (S, Z) per run of `cols` elements; axis1: a channel is a column, so along a row
// every element has its own (S, Z).
constexpr OpInfo kOps[] = {
    {Op::quantize_tensor, "quantize_per_tensor", 4, true},
    {Op::quantize_tensor_onnx, "quantize_per_tensor_onnx", 4, true},
    {Op::quantize_axis0, "quantize_per_channel_axis0", 4, true},
    {Op::quantize_axis1, "quantize_per_channel_axis1", 4, true},
    {Op::dequantize_tensor, "dequantize_per_tensor", 1, false},
    {Op::dequantize_axis0, "dequantize_per_channel_axis0", 1, false},
    {Op::dequantize_axis1, "dequantize_per_channel_axis1", 1, false},
};

using ColumnF = Eigen::ArrayXf;
using ColumnI = Eigen::ArrayXi;
using RowF = Eigen::Array<float, 1, Eigen::Dynamic>;
using RowI = Eigen::Array<int, 1, Eigen::Dynamic>;

// Per-channel parameters in every form the paths want: qmath's QParams, and 1/S, Z and the float clamp bounds
// [qmin - Z, qmax - Z] for the baselines. Channel is the template's vector shape (column for axis 0, row for axis 1).
template <class VecF, class VecI>
struct ChannelParams {
  qmath::QParams<Code> p;
  VecF factor, lo, hi, scale, zero_point_f;
  VecI zero_point;
};

template <class VecF, class VecI>
ChannelParams<VecF, VecI> make_channel_params(int axis, std::size_t channels, std::mt19937& rng) {
  std::uniform_real_distribution<float> scale_dist(0.005f, 0.05f);
  std::uniform_int_distribution<int> zp_dist(-20, 20);
  ChannelParams<VecF, VecI> c;
  c.p.granularity = qmath::per_channel(axis);
  c.p.scale.resize(channels);
  c.p.zero_point.resize(channels);
  const auto count = static_cast<Eigen::Index>(channels);
  for (VecF* v : {&c.factor, &c.lo, &c.hi, &c.scale, &c.zero_point_f}) v->resize(count);
  c.zero_point.resize(count);
  for (Eigen::Index k = 0; k < count; ++k) {
    const float s = scale_dist(rng);
    const int z = zp_dist(rng);
    c.p.scale[static_cast<std::size_t>(k)] = s;
    c.p.zero_point[static_cast<std::size_t>(k)] = z;
    c.factor(k) = 1.0f / s;  // the reciprocal qmath multiplies by (PyTorch numerics)
    c.lo(k) = static_cast<float>(c.p.qmin - z);
    c.hi(k) = static_cast<float>(c.p.qmax - z);
    c.scale(k) = s;
    c.zero_point_f(k) = static_cast<float>(z);
    c.zero_point(k) = z;
  }
  return c;
}

// One size's inputs, outputs and parameters. x is a row-major [rows, cols] matrix for the per-channel ops.
struct Data {
  std::size_t rows = 0, cols = 0, n = 0;
  qmath::TensorShape shape;
  AlignedArray<float> x;
  AlignedArray<Code> codes;  // the dequantize input
  AlignedArray<Code> out_codes;
  AlignedArray<float> out_x;
  qmath::QParams<Code> tensor, tensor_onnx;
  ChannelParams<ColumnF, ColumnI> axis0;  // one entry per row
  ChannelParams<RowF, RowI> axis1;        // one entry per column
};

// Values that hit every branch of the arithmetic: NaN, +-Inf, +-FLT_MAX, denormals, -0, exact ties of the per-tensor
// scale (a power of two, so x * (1/S) and x / S are exact), the clamp bounds +-0.5, and plain normal samples.
float adversarial_value(std::mt19937& rng, float scale, std::int32_t zero_point) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int> integer(-300, 300);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  switch (kind(rng)) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: {
      const float inf = std::numeric_limits<float>::infinity();
      return (integer(rng) & 1) ? inf : -inf;
    }
    case 2: return (integer(rng) & 1) ? std::numeric_limits<float>::max() : -std::numeric_limits<float>::max();
    case 3: return (integer(rng) & 1) ? std::numeric_limits<float>::denorm_min() * 3.0f : -0.0f;
    case 4:
    case 5: return (static_cast<float>(integer(rng)) + 0.5f) * scale;
    case 6: return (static_cast<float>(127 - zero_point) + ((integer(rng) & 1) ? 0.5f : -0.5f)) * scale;
    case 7: return (static_cast<float>(-128 - zero_point) + ((integer(rng) & 1) ? 0.5f : -0.5f)) * scale;
    default: return normal(rng);
  }
}

// rows x cols elements; `adversarial` fills x with adversarial_value() and the codes with every byte value, else
// x holds N(0, 1) samples and the codes are qmath's per-tensor codes of x.
Data make_data(std::size_t rows, std::size_t cols, bool adversarial) {
  Data d;
  d.rows = rows, d.cols = cols, d.n = rows * cols;
  d.shape = qmath::TensorShape{{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)},
                               qmath::storage_order::row_major};
  d.x = qmath_bench::make_aligned<float>(d.n);
  d.codes = qmath_bench::make_aligned<Code>(d.n);
  d.out_codes = qmath_bench::make_aligned<Code>(d.n);
  d.out_x = qmath_bench::make_aligned<float>(d.n);
  std::mt19937 rng(adversarial ? 7u : 20240601u);  // fixed seeds: every run times the same data
  // Per tensor: Z != 0 so the clamp bounds are asymmetric; S clamps about 1% of N(0, 1) samples. The adversarial
  // scale is a power of two so that exact ties survive the multiply and the divide.
  const float scale = adversarial ? 0.125f : 0.02f;
  d.tensor = qmath::make_qparams<Code>(scale, -5, qmath::profile::pytorch);
  d.tensor_onnx = qmath::make_qparams<Code>(scale, -5, qmath::profile::onnx);
  d.axis0 = make_channel_params<ColumnF, ColumnI>(0, rows, rng);
  d.axis1 = make_channel_params<RowF, RowI>(1, cols, rng);
  if (adversarial) {
    for (std::size_t i = 0; i < d.n; ++i) d.x[i] = adversarial_value(rng, scale, -5);
    std::uniform_int_distribution<int> byte(-128, 127);
    for (std::size_t i = 0; i < d.n; ++i) d.codes[i] = static_cast<Code>(byte(rng));
  } else {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t i = 0; i < d.n; ++i) d.x[i] = normal(rng);
    qmath::quantize(d.x.get(), d.n, d.tensor, d.codes.get());
  }
  return d;
}

// The timed data of each size, built on first use and kept for the whole run.
Data& data_of(std::size_t n) {
  static std::vector<std::pair<std::size_t, std::unique_ptr<Data>>> cache;
  for (auto& entry : cache)
    if (entry.first == n) return *entry.second;
  const auto side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(n))));
  cache.emplace_back(n, std::make_unique<Data>(make_data(side, side, false)));
  return *cache.back().second;
}

// ---- The paths --------------------------------------------------------------------------------------------------

using Body = std::function<void(Data&)>;

// qmath's public API; the ISA path is chosen by the ScopedIsaOverride that run_case holds around the loop.
Body qmath_body(Op op) {
  switch (op) {
    case Op::quantize_tensor:
      return [](Data& d) { qmath::quantize(d.x.get(), d.n, d.tensor, d.out_codes.get()); };
    case Op::quantize_tensor_onnx:
      return [](Data& d) { qmath::quantize(d.x.get(), d.n, d.tensor_onnx, d.out_codes.get()); };
    case Op::quantize_axis0:
      return [](Data& d) { qmath::quantize(d.x.get(), d.shape, d.axis0.p, d.out_codes.get()); };
    case Op::quantize_axis1:
      return [](Data& d) { qmath::quantize(d.x.get(), d.shape, d.axis1.p, d.out_codes.get()); };
    case Op::dequantize_tensor:
      return [](Data& d) { qmath::dequantize(d.codes.get(), d.n, d.tensor, d.out_x.get()); };
    case Op::dequantize_axis0:
      return [](Data& d) { qmath::dequantize(d.codes.get(), d.shape, d.axis0.p, d.out_x.get()); };
    case Op::dequantize_axis1:
      return [](Data& d) { qmath::dequantize(d.codes.get(), d.shape, d.axis1.p, d.out_x.get()); };
  }
  return {};
}

float tensor_factor(const qmath::QParams<Code>& p) {
  return p.numerics == qmath::profile::pytorch ? 1.0f / p.scale[0] : p.scale[0];
}

// A plain loop as one would write it without SIMD: std::nearbyint (half to even under the default rounding mode).
template <bool Divide>
inline Code scalar_code(float x, float factor, float lo, float hi, int zero_point) {
  const float r = std::nearbyint(Divide ? x / factor : x * factor);
  return static_cast<Code>(static_cast<int>(std::min(std::max(r, lo), hi)) + zero_point);
}

template <bool Divide>
void scalar_quantize(const float* x, Code* y, std::size_t n, const qmath::QParams<Code>& p) {
  const float factor = tensor_factor(p);
  const int z = p.zero_point[0];
  const auto lo = static_cast<float>(p.qmin - z), hi = static_cast<float>(p.qmax - z);
  for (std::size_t i = 0; i < n; ++i) y[i] = scalar_code<Divide>(x[i], factor, lo, hi, z);
}

Body scalar_body(Op op) {
  switch (op) {
    case Op::quantize_tensor:
      return [](Data& d) { scalar_quantize<false>(d.x.get(), d.out_codes.get(), d.n, d.tensor); };
    case Op::quantize_tensor_onnx:
      return [](Data& d) { scalar_quantize<true>(d.x.get(), d.out_codes.get(), d.n, d.tensor_onnx); };
    case Op::quantize_axis0:
      return [](Data& d) {
        const auto& c = d.axis0;
        for (std::size_t r = 0; r < d.rows; ++r) {
          const auto k = static_cast<Eigen::Index>(r);
          const float* x = d.x.get() + r * d.cols;
          Code* y = d.out_codes.get() + r * d.cols;
          for (std::size_t i = 0; i < d.cols; ++i)
            y[i] = scalar_code<false>(x[i], c.factor(k), c.lo(k), c.hi(k), c.zero_point(k));
        }
      };
    case Op::quantize_axis1:
      return [](Data& d) {
        const auto& c = d.axis1;
        for (std::size_t r = 0; r < d.rows; ++r) {
          const float* x = d.x.get() + r * d.cols;
          Code* y = d.out_codes.get() + r * d.cols;
          for (std::size_t i = 0; i < d.cols; ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            y[i] = scalar_code<false>(x[i], c.factor(k), c.lo(k), c.hi(k), c.zero_point(k));
          }
        }
      };
    case Op::dequantize_tensor:
      return [](Data& d) {
        const float s = d.tensor.scale[0];
        const int z = d.tensor.zero_point[0];
        for (std::size_t i = 0; i < d.n; ++i) d.out_x[i] = static_cast<float>(d.codes[i] - z) * s;
      };
    case Op::dequantize_axis0:
      return [](Data& d) {
        for (std::size_t r = 0; r < d.rows; ++r) {
          const auto k = static_cast<Eigen::Index>(r);
          const float s = d.axis0.scale(k);
          const int z = d.axis0.zero_point(k);
          for (std::size_t i = r * d.cols; i < (r + 1) * d.cols; ++i)
            d.out_x[i] = static_cast<float>(d.codes[i] - z) * s;
        }
      };
    case Op::dequantize_axis1:
      return [](Data& d) {
        const float* s = d.axis1.scale.data();
        const int* z = d.axis1.zero_point.data();
        for (std::size_t r = 0; r < d.rows; ++r)
          for (std::size_t i = 0; i < d.cols; ++i)
            d.out_x[r * d.cols + i] = static_cast<float>(d.codes[r * d.cols + i] - z[i]) * s[i];
      };
  }
  return {};
}

// The Eigen expressions a user would write on Maps of the same buffers.
using ArrayRM = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CodesRM = Eigen::Array<Code, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CodesVec = Eigen::Array<Code, Eigen::Dynamic, 1>;

template <bool Divide>
void eigen_quantize_tensor(Data& d, const qmath::QParams<Code>& p) {
  const auto n = static_cast<Eigen::Index>(d.n);
  Eigen::Map<const Eigen::ArrayXf> x(d.x.get(), n);
  Eigen::Map<CodesVec> y(d.out_codes.get(), n);
  const float factor = tensor_factor(p);
  const int z = p.zero_point[0];
  const auto lo = static_cast<float>(p.qmin - z), hi = static_cast<float>(p.qmax - z);
  if constexpr (Divide) y = ((x / factor).rint().max(lo).min(hi).cast<int>() + z).cast<Code>();
  else y = ((x * factor).rint().max(lo).min(hi).cast<int>() + z).cast<Code>();
}

Body eigen_body(Op op) {
  switch (op) {
    case Op::quantize_tensor: return [](Data& d) { eigen_quantize_tensor<false>(d, d.tensor); };
    case Op::quantize_tensor_onnx: return [](Data& d) { eigen_quantize_tensor<true>(d, d.tensor_onnx); };
    case Op::quantize_axis0:
      return [](Data& d) {
        const auto R = static_cast<Eigen::Index>(d.rows), C = static_cast<Eigen::Index>(d.cols);
        Eigen::Map<const ArrayRM> x(d.x.get(), R, C);
        Eigen::Map<CodesRM> y(d.out_codes.get(), R, C);
        const auto& c = d.axis0;
        y = ((x.colwise() * c.factor).rint().max(c.lo.replicate(1, C)).min(c.hi.replicate(1, C)).cast<int>().colwise() +
             c.zero_point)
                .cast<Code>();
      };
    case Op::quantize_axis1:
      return [](Data& d) {
        const auto R = static_cast<Eigen::Index>(d.rows), C = static_cast<Eigen::Index>(d.cols);
        Eigen::Map<const ArrayRM> x(d.x.get(), R, C);
        Eigen::Map<CodesRM> y(d.out_codes.get(), R, C);
        const auto& c = d.axis1;
        y = ((x.rowwise() * c.factor).rint().max(c.lo.replicate(R, 1)).min(c.hi.replicate(R, 1)).cast<int>().rowwise() +
             c.zero_point)
                .cast<Code>();
      };
    case Op::dequantize_tensor:
      return [](Data& d) {
        const auto n = static_cast<Eigen::Index>(d.n);
        Eigen::Map<const CodesVec> q(d.codes.get(), n);
        Eigen::Map<Eigen::ArrayXf> x(d.out_x.get(), n);
        x = (q.cast<float>() - static_cast<float>(d.tensor.zero_point[0])) * d.tensor.scale[0];
      };
    case Op::dequantize_axis0:
      return [](Data& d) {
        const auto R = static_cast<Eigen::Index>(d.rows), C = static_cast<Eigen::Index>(d.cols);
        Eigen::Map<const CodesRM> q(d.codes.get(), R, C);
        Eigen::Map<ArrayRM> x(d.out_x.get(), R, C);
        x = (q.cast<float>().colwise() - d.axis0.zero_point_f).colwise() * d.axis0.scale;
      };
    case Op::dequantize_axis1:
      return [](Data& d) {
        const auto R = static_cast<Eigen::Index>(d.rows), C = static_cast<Eigen::Index>(d.cols);
        Eigen::Map<const CodesRM> q(d.codes.get(), R, C);
        Eigen::Map<ArrayRM> x(d.out_x.get(), R, C);
        x = (q.cast<float>().rowwise() - d.axis1.zero_point_f).rowwise() * d.axis1.scale;
      };
  }
  return {};
}

// The bare loops of one ISA, as function pointers, so one generic body serves AVX2 and AVX-512.
struct BareSet {
  const char* label;
  isa needs;
  void (*quantize)(const float*, Code*, std::size_t, const qmath_bench::BareQuantizeScalarParams&) noexcept;
  void (*quantize_each)(const float*, Code*, std::size_t, const float*, const std::int32_t*, std::int32_t,
                        std::int32_t) noexcept;
  void (*dequantize)(const Code*, float*, std::size_t, float, std::int32_t) noexcept;
  void (*dequantize_each)(const Code*, float*, std::size_t, const float*, const std::int32_t*) noexcept;
};

std::vector<BareSet> bare_sets() {
  std::vector<BareSet> sets;
#if defined(QMATH_BENCH_BARE_QUANTIZE_AVX2)
  sets.push_back({"bare-avx2", isa::avx2, &qmath_bench::bare_quantize_s8_avx2, &qmath_bench::bare_quantize_s8_each_avx2,
                  &qmath_bench::bare_dequantize_s8_avx2, &qmath_bench::bare_dequantize_s8_each_avx2});
#endif
#if defined(QMATH_BENCH_BARE_QUANTIZE_AVX512)
  sets.push_back({"bare-avx512", isa::avx512bw, &qmath_bench::bare_quantize_s8_avx512,
                  &qmath_bench::bare_quantize_s8_each_avx512, &qmath_bench::bare_dequantize_s8_avx512,
                  &qmath_bench::bare_dequantize_s8_each_avx512});
#endif
  return sets;
}

qmath_bench::BareQuantizeScalarParams bare_tensor_params(const qmath::QParams<Code>& p) {
  return {tensor_factor(p), p.zero_point[0], p.qmin, p.qmax, p.numerics != qmath::profile::pytorch};
}

// The per-channel bare bodies loop over rows exactly as qmath's for_each_run does: axis 0 is one broadcast run per
// row, axis 1 is one per-element run per row.
Body bare_body(const BareSet& b, Op op) {
  switch (op) {
    case Op::quantize_tensor:
      return [f = b.quantize](Data& d) { f(d.x.get(), d.out_codes.get(), d.n, bare_tensor_params(d.tensor)); };
    case Op::quantize_tensor_onnx:
      return [f = b.quantize](Data& d) { f(d.x.get(), d.out_codes.get(), d.n, bare_tensor_params(d.tensor_onnx)); };
    case Op::quantize_axis0:
      return [f = b.quantize](Data& d) {
        const auto& c = d.axis0;
        for (std::size_t r = 0; r < d.rows; ++r) {
          const auto k = static_cast<Eigen::Index>(r);
          f(d.x.get() + r * d.cols, d.out_codes.get() + r * d.cols, d.cols,
            {c.factor(k), c.zero_point(k), c.p.qmin, c.p.qmax, false});
        }
      };
    case Op::quantize_axis1:
      return [f = b.quantize_each](Data& d) {
        const auto& c = d.axis1;
        for (std::size_t r = 0; r < d.rows; ++r)
          f(d.x.get() + r * d.cols, d.out_codes.get() + r * d.cols, d.cols, c.factor.data(), c.zero_point.data(),
            c.p.qmin, c.p.qmax);
      };
    case Op::dequantize_tensor:
      return [f = b.dequantize](Data& d) {
        f(d.codes.get(), d.out_x.get(), d.n, d.tensor.scale[0], d.tensor.zero_point[0]);
      };
    case Op::dequantize_axis0:
      return [f = b.dequantize](Data& d) {
        for (std::size_t r = 0; r < d.rows; ++r) {
          const auto k = static_cast<Eigen::Index>(r);
          f(d.codes.get() + r * d.cols, d.out_x.get() + r * d.cols, d.cols, d.axis0.scale(k), d.axis0.zero_point(k));
        }
      };
    case Op::dequantize_axis1:
      return [f = b.dequantize_each](Data& d) {
        for (std::size_t r = 0; r < d.rows; ++r)
          f(d.codes.get() + r * d.cols, d.out_x.get() + r * d.cols, d.cols, d.axis1.scale.data(),
            d.axis1.zero_point.data());
      };
  }
  return {};
}

// ---- Validation ---------------------------------------------------------------------------------------------------

// The output of one op as raw bytes, for a bit-exact comparison (dequantize compares float bit patterns).
std::vector<unsigned char> output_of(const Data& d, const OpInfo& info) {
  const auto* begin = info.quantizes ? reinterpret_cast<const unsigned char*>(d.out_codes.get())
                                     : reinterpret_cast<const unsigned char*>(d.out_x.get());
  return {begin, begin + d.n * (info.quantizes ? sizeof(Code) : sizeof(float))};
}

void clear_outputs(Data& d) {
  std::memset(d.out_codes.get(), 0x5A, d.n * sizeof(Code));  // a pattern no correct path leaves behind everywhere
  std::memset(d.out_x.get(), 0x5A, d.n * sizeof(float));
}

[[noreturn]] void fail_validation(const char* what, const char* path, const OpInfo& info, const Data& d,
                                  const std::vector<unsigned char>& want, const std::vector<unsigned char>& got) {
  const std::size_t width = info.quantizes ? sizeof(Code) : sizeof(float);
  std::size_t at = 0;
  while (at < want.size() && want[at] == got[at]) ++at;
  const std::size_t element = at / width;
  std::fprintf(stderr,
               "bench_quantize: %s data, %s: path '%s' differs from qmath's reference codes at element %zu of %zu "
               "(x = %.9g, code = %d)\n",
               what, info.name, path, element, d.n, static_cast<double>(d.x[element]),
               static_cast<int>(d.codes[element]));
  std::abort();
}

// Every qmath path the CPU runs and every baseline must give the scalar reference's bytes. The scalar loop and
// Eigen are only checked on finite data (on NaN their float -> int conversion is undefined).
void validate(Data& d, const char* what, bool finite) {
  const std::vector<BareSet> bare = bare_sets();
  for (const OpInfo& info : kOps) {
    std::vector<unsigned char> want;
    {
      qmath::ScopedIsaOverride only_scalar(isa::scalar);
      clear_outputs(d);
      qmath_body(info.op)(d);
      want = output_of(d, info);
    }
    auto check = [&](const Body& body, const char* path) {
      clear_outputs(d);
      body(d);
      std::vector<unsigned char> got = output_of(d, info);
      if (got != want) fail_validation(what, path, info, d, want, got);
    };
    for (isa path : qmath::kAllIsas) {
      if (!qmath::has(qmath::kernels::compiled_isas(), path) || !qmath::has(qmath::supported_isas(), path)) continue;
      if (!qmath::kernels::quantize_kernels(path)) continue;
      qmath::ScopedIsaOverride only(path);
      check(qmath_body(info.op), qmath::isa_name(path));
    }
    for (const BareSet& b : bare)
      if (qmath::has(qmath::supported_isas(), b.needs)) check(bare_body(b, info.op), b.label);
    if (finite) {
      check(scalar_body(info.op), "scalar-loop");
      check(eigen_body(info.op), "eigen");
    }
  }
}

// ---- Registration -------------------------------------------------------------------------------------------------

struct Case {
  Body body;
  std::size_t in_bytes;
  isa needs;           // the CPU must have this ISA, or the row reports an error instead of a rate
  bool force_qmath;    // hold ScopedIsaOverride(needs) and check that dispatch picked that path
  std::string label;
};

void run_case(benchmark::State& state, const Case& c) {
  if (!qmath::has(qmath::supported_isas(), c.needs)) {
    state.SkipWithError(("cpu lacks " + std::string(qmath::isa_name(c.needs))).c_str());
    return;
  }
  std::optional<qmath::ScopedIsaOverride> only;
  if (c.force_qmath) {
    only.emplace(c.needs);
    if (qmath::kernels::active_quantize_kernels().path != c.needs) {
      state.SkipWithError(("dispatch did not select " + std::string(qmath::isa_name(c.needs))).c_str());
      return;
    }
  }
  Data& d = data_of(static_cast<std::size_t>(state.range(0)));
  c.body(d);  // warm-up outside the timing
  for (auto _ : state) {
    c.body(d);
    benchmark::ClobberMemory();  // the stores must count; nothing reads the output otherwise
  }
  state.SetLabel(c.label);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(d.n * c.in_bytes));
}

void add(const std::string& name, Case c) {
  benchmark::RegisterBenchmark(name.c_str(), [c = std::move(c)](benchmark::State& s) { run_case(s, c); })
      ->Arg(static_cast<std::int64_t>(qmath_bench::kL2N))
      ->Arg(static_cast<std::int64_t>(qmath_bench::kLargeN))
      ->Unit(benchmark::kMicrosecond);
}

void register_all() {
  const std::vector<BareSet> bare = bare_sets();
  for (const OpInfo& info : kOps) {
    const std::string prefix = std::string(info.name) + "/";
    for (const BareSet& b : bare)
      add(prefix + b.label, {bare_body(b, info.op), info.in_bytes, b.needs, false, b.label});
    add(prefix + "scalar-loop", {scalar_body(info.op), info.in_bytes, isa::scalar, false, "scalar-loop"});
    add(prefix + "eigen", {eigen_body(info.op), info.in_bytes, isa::scalar, false, "eigen"});
    // One row per compiled path, weakest first; a path the CPU cannot run reports "cpu lacks <isa>".
    for (isa path : qmath::kAllIsas) {
      if (!qmath::has(qmath::kernels::compiled_isas(), path) || !qmath::kernels::quantize_kernels(path)) continue;
      const char* name = qmath::isa_name(path);
      add(prefix + name, {qmath_body(info.op), info.in_bytes, path, true, name});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  {
    // 67 x 61: tails in every loop, and axis-0 runs shorter than qmath's broadcast threshold.
    Data adversarial = make_data(67, 61, true);
    validate(adversarial, "adversarial", false);
    // 65 x 1031: long runs with tails, and every code -> float on the dequantize side.
    Data long_rows = make_data(65, 1031, true);
    validate(long_rows, "adversarial long-row", false);
  }
  validate(data_of(qmath_bench::kL2N), "timed", true);
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
