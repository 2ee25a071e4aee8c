// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_fake_quant.cpp: fake quantize, its straight-through backward and the LSQ gradients against
// PyTorch 1.13 vectors, quantize / dequantize, finite differences and bad input.
//
// The vectors (tests/vectors/fake_quant/*.npy, written by tests/vectors/gen_fake_quant_vectors.py, layouts in its
// header) are compared bit for bit (NaN matches any NaN), except the LSQ scale / zero point gradients of tensors
// whose slots hold several elements: torch sums the per-element terms in its own vectorized order, so those match
// within a few ulps of the sum of |terms|, and bit for bit whenever a slot holds one element.
//
// What the finite-difference tests verify. The LSQ gradient is the straight-through one, not the derivative of the
// piecewise-constant fake quantize, so finite differences of L = sum(w * fq(x)) check only the parts that are true
// derivatives, with no element near a rounding or clamping boundary:
//   - scale, clamped elements: fq = (qmax - Z) * S (or qmin) is linear in S, so dL/dS = sum w (qmax - Z) exactly;
//   - scale, in-range elements: fq = (k - Z) * S with the code k fixed, so the difference quotient gives
//     sum w (k - Z), and LSQ's gradient must equal it minus the straight-through term sum w x / S;
//   - zero point, by integer steps Z +- 1: in-range elements do not move ((k + 1) - (Z + 1) = k - Z), clamped ones
//     move by -S, which is exactly LSQ's zero point gradient.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/io/npy.hpp"
#include "qmath/quant/fake_quant.hpp"
#include "qmath/quant/quantize.hpp"

namespace {

using qmath::TensorShape;

// ---- Helpers -------------------------------------------------------------------------------------------------------

std::uint32_t bits_of(float v) {
  std::uint32_t u = 0;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

/// Bit equality, any NaN matching any NaN (torch does not define NaN payloads or signs).
::testing::AssertionResult same_float(float expected, float actual) {
  if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
  if (bits_of(expected) == bits_of(actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << expected << " (0x" << std::hex << bits_of(expected)
                                       << "), got " << actual << " (0x" << bits_of(actual) << std::dec << ")";
}

/// Counts mismatches and reports the first few, so one bad formula does not print thousands of lines.
void expect_same_floats(const std::vector<float>& expected, const std::vector<float>& actual,
                        const std::vector<float>& x, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto same = same_float(expected[i], actual[i]);
    if (same) continue;
    if (++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "] x = " << (i < x.size() ? x[i] : 0.0f) << ": " << same.message();
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << expected.size() << " differ";
}

struct Vectors {
  std::vector<std::vector<float>> rows;
  std::vector<double> params;
};

Vectors load(const std::string& name) {
  const std::string dir = std::string(QMATH_TESTS_DIR) + "/vectors/fake_quant/";
  const qmath::NpyArray data = qmath::read_npy(dir + name + ".npy");
  const qmath::NpyArray params = qmath::read_npy(dir + name + ".params.npy");
  Vectors v;
  const std::vector<float> flat = data.values<float>();
  if (data.shape.size() != 2) throw std::runtime_error(name + ": expected a 2-D array");
  const auto rows = static_cast<std::size_t>(data.shape[0]), cols = static_cast<std::size_t>(data.shape[1]);
  for (std::size_t r = 0; r < rows; ++r)
    v.rows.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(r * cols),
                        flat.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
  v.params = params.values<double>();
  return v;
}

std::vector<std::uint8_t> mask_of(const std::vector<float>& row) {
  std::vector<std::uint8_t> m(row.size());
  for (std::size_t i = 0; i < row.size(); ++i) m[i] = row[i] != 0.0f ? 1 : 0;
  return m;
}

std::int32_t to_i32(double v) { return static_cast<std::int32_t>(v); }

/// Reads "rank, dims..., then `per_slot_arrays` arrays of dims[axis] doubles" starting at params[at].
struct ShapeAndSlots {
  TensorShape shape;
  std::size_t channels = 0;
  std::vector<std::vector<double>> arrays;
};
ShapeAndSlots read_shape_and_slots(const std::vector<double>& params, std::size_t at, int axis, int arrays) {
  ShapeAndSlots s;
  const auto rank = static_cast<std::size_t>(params.at(at));
  for (std::size_t k = 0; k < rank; ++k) s.shape.dims.push_back(static_cast<std::int64_t>(params.at(at + 1 + k)));
  const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + static_cast<int>(rank) : axis);
  s.channels = static_cast<std::size_t>(s.shape.dims[ax]);
  std::size_t next = at + 1 + rank;
  for (int a = 0; a < arrays; ++a) {
    s.arrays.emplace_back(params.begin() + static_cast<std::ptrdiff_t>(next),
                          params.begin() + static_cast<std::ptrdiff_t>(next + s.channels));
    next += s.channels;
  }
  EXPECT_EQ(next, params.size()) << "params layout";
  return s;
}

std::vector<float> as_floats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// ---- Forward, mask and straight-through backward vs torch ----------------------------------------------------------

template <class Q>
void check_qparams_forward(const std::vector<float>& x, const TensorShape& shape, const qmath::QParams<Q>& p,
                           const Vectors& v, const std::string& name) {
  std::vector<float> y(x.size());
  std::vector<std::uint8_t> mask(x.size(), 9);
  qmath::fake_quantize(x.data(), shape, p, y.data(), mask.data());
  expect_same_floats(v.rows[1], y, x, name + " QParams<" + qmath::int_traits<Q>::kName + "> y");
  EXPECT_EQ(mask_of(v.rows[2]), mask) << name << " QParams mask";
}

template <class Q>
qmath::QParams<Q> per_tensor_qparams(float scale, std::int32_t zero_point, std::int32_t qmin, std::int32_t qmax) {
  qmath::QParams<Q> p = qmath::make_qparams<Q>(scale, zero_point);
  p.qmin = qmin;
  p.qmax = qmax;
  return p;
}

TEST(FakeQuantTorch, PerTensorForwardMaskAndBackward) {
  for (const std::string name : {"u8", "i8", "u4", "i4", "i32", "tiny"}) {
    SCOPED_TRACE(name);
    const Vectors v = load("fwd_pt_" + name);
    const std::vector<float>& x = v.rows[0];
    const float scale = static_cast<float>(v.params[0]);
    const std::int32_t zp = to_i32(v.params[1]), qmin = to_i32(v.params[2]), qmax = to_i32(v.params[3]);
    std::vector<float> y(x.size()), gx(x.size());
    std::vector<std::uint8_t> mask(x.size(), 9);
    qmath::fake_quantize(x.data(), x.size(), scale, zp, qmin, qmax, y.data(), mask.data());
    expect_same_floats(v.rows[1], y, x, "fwd_pt_" + name + " y");
    EXPECT_EQ(mask_of(v.rows[2]), mask);
    qmath::fake_quantize_backward(v.rows[3].data(), mask.data(), x.size(), gx.data());
    expect_same_floats(v.rows[4], gx, x, "fwd_pt_" + name + " grad_x");

    // The same through QParams of the matching code type.
    const TensorShape shape{{static_cast<std::int64_t>(x.size())}};
    if (name == "u8" || name == "tiny")
      check_qparams_forward(x, shape, per_tensor_qparams<std::uint8_t>(scale, zp, qmin, qmax), v, name);
    if (name == "i8") check_qparams_forward(x, shape, per_tensor_qparams<std::int8_t>(scale, zp, qmin, qmax), v, name);
    if (name == "u4") check_qparams_forward(x, shape, per_tensor_qparams<qmath::uint4>(scale, zp, qmin, qmax), v, name);
    if (name == "i4") check_qparams_forward(x, shape, per_tensor_qparams<qmath::int4>(scale, zp, qmin, qmax), v, name);
    if (name == "i32")
      check_qparams_forward(x, shape, per_tensor_qparams<std::int32_t>(scale, zp, qmin, qmax), v, name);
  }
}

template <class Q>
void check_per_channel_case(const std::string& name) {
  SCOPED_TRACE(name);
  const Vectors v = load("fwd_pc_" + name);
  const std::vector<float>& x = v.rows[0];
  const int axis = static_cast<int>(v.params[0]);
  const std::int32_t qmin = to_i32(v.params[1]), qmax = to_i32(v.params[2]);
  const bool float_zp = v.params[3] != 0.0;
  const ShapeAndSlots s = read_shape_and_slots(v.params, 4, axis, 2);
  const std::vector<float> scale = as_floats(s.arrays[0]);

  qmath::QParams<Q> p;
  p.granularity = qmath::per_channel(axis);
  p.scale = scale;
  p.qmin = qmin;
  p.qmax = qmax;
  if (float_zp) {
    p.float_zero_point = as_floats(s.arrays[1]);
    p.zero_point.assign(s.channels, 0);
  } else {
    p.zero_point.assign(s.arrays[1].begin(), s.arrays[1].end());
    // The torch-style overload too.
    std::vector<float> y(x.size());
    std::vector<std::uint8_t> mask(x.size(), 9);
    qmath::fake_quantize(x.data(), s.shape, axis, scale, p.zero_point, qmin, qmax, y.data(), mask.data());
    expect_same_floats(v.rows[1], y, x, "fwd_pc_" + name + " y");
    EXPECT_EQ(mask_of(v.rows[2]), mask);
  }
  check_qparams_forward(x, s.shape, p, v, name);
  std::vector<float> y(x.size()), gx(x.size());
  std::vector<std::uint8_t> mask(x.size());
  qmath::fake_quantize(x.data(), s.shape, p, y.data(), mask.data());
  qmath::fake_quantize_backward(v.rows[3].data(), mask.data(), x.size(), gx.data());
  expect_same_floats(v.rows[4], gx, x, "fwd_pc_" + name + " grad_x");
}

TEST(FakeQuantTorch, PerChannelForwardMaskAndBackward) {
  check_per_channel_case<std::uint8_t>("u8_axis0");
  check_per_channel_case<std::int8_t>("i8_axis1");
  check_per_channel_case<qmath::int4>("i4_axis-1");
  check_per_channel_case<qmath::uint4>("u4_axis1");
  check_per_channel_case<std::uint8_t>("u8f_axis1");  // float zero points: fused multiply-add
  check_per_channel_case<std::int8_t>("i8f_axis-1");
}

// ---- LSQ vs torch --------------------------------------------------------------------------------------------------

double sum_abs(const std::vector<float>& v) {
  double s = 0.0;
  for (float f : v) s += std::fabs(static_cast<double>(f));
  return s;
}

/// torch's reduction order is its own: its float cascade sum of n terms is within about log2(n) float roundings of
/// sum |terms| of the exact sum, ours within one (the vectors show at most 4e-8 of sum |terms|).
void expect_close_sum(float torch_sum, float ours, double abs_terms, const std::string& what) {
  EXPECT_LE(std::fabs(static_cast<double>(torch_sum) - ours), 1e-6 * abs_terms + 1e-30)
      << what << ": torch " << torch_sum << ", qmath " << ours << ", sum |terms| " << abs_terms;
}

TEST(FakeQuantTorch, LearnablePerTensor) {
  for (const std::string name : {"u8", "i8", "u4", "i4", "i4b", "u8clamp", "i4negint"}) {
    SCOPED_TRACE(name);
    const Vectors v = load("lsq_pt_" + name);
    const std::vector<float>& x = v.rows[0];
    const std::vector<float>& dy = v.rows[1];
    qmath::LearnableQParams p;
    p.scale = {static_cast<float>(v.params[0])};
    p.zero_point = {static_cast<float>(v.params[1])};
    p.qmin = to_i32(v.params[2]);
    p.qmax = to_i32(v.params[3]);
    const float gf = static_cast<float>(v.params[4]);
    if (gf != 1.0f) {
      EXPECT_EQ(bits_of(gf), bits_of(qmath::lsq_grad_factor(x.size(), p.qmax)));
    }
    const TensorShape shape{{static_cast<std::int64_t>(x.size())}};

    std::vector<float> y(x.size());
    qmath::fake_quantize_learnable(x.data(), shape, p, y.data());
    expect_same_floats(v.rows[2], y, x, "lsq_pt_" + name + " y");
    const qmath::LearnableGradients g = qmath::fake_quantize_learnable_backward(dy.data(), x.data(), shape, p, gf);
    expect_same_floats(v.rows[3], g.grad_x, x, "lsq_pt_" + name + " grad_x");

    // Per element (one-element tensors, no reduction anywhere): bit exact.
    std::vector<float> each_scale(x.size()), each_zero(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto one = qmath::fake_quantize_learnable_backward(&dy[i], &x[i], TensorShape{{1}}, p, gf);
      each_scale[i] = one.grad_scale[0];
      each_zero[i] = one.grad_zero_point[0];
    }
    expect_same_floats(v.rows[4], each_scale, x, "lsq_pt_" + name + " grad_scale per element");
    expect_same_floats(v.rows[5], each_zero, x, "lsq_pt_" + name + " grad_zero_point per element");

    // Whole tensor: ours is torch's terms summed in double and rounded once; torch's within its cascade's error.
    double scale_sum = 0.0, zero_sum = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      scale_sum += v.rows[4][i];
      zero_sum += v.rows[5][i];
    }
    EXPECT_EQ(bits_of(static_cast<float>(scale_sum)), bits_of(g.grad_scale[0]));
    EXPECT_EQ(bits_of(static_cast<float>(zero_sum)), bits_of(g.grad_zero_point[0]));
    expect_close_sum(static_cast<float>(v.params[5]), g.grad_scale[0], sum_abs(v.rows[4]), "grad_scale");
    expect_close_sum(static_cast<float>(v.params[6]), g.grad_zero_point[0], sum_abs(v.rows[5]), "grad_zero_point");
  }
}

TEST(FakeQuantTorch, LearnablePerTensorZeroPointRounding) {
  // What the vectors show, spelled out: torch's forward rounds -3.0 to -3, its backward adds 0.5 and truncates
  // to -2, so with S = 0.5 the element at code 7 of the forward is outside [-8, 7] for the backward.
  qmath::LearnableQParams p;
  p.scale = {0.5f};
  p.zero_point = {-3.0f};
  p.qmin = -8;
  p.qmax = 7;
  const std::vector<float> x = {(7.0f + 3.0f) * 0.5f, (6.0f + 3.0f) * 0.5f};
  const std::vector<float> dy = {1.0f, 1.0f};
  std::vector<float> y(2);
  qmath::fake_quantize_learnable(x.data(), TensorShape{{2}}, p, y.data());
  EXPECT_EQ(y[0], 5.0f);  // code 7 in the forward
  const auto g = qmath::fake_quantize_learnable_backward(dy.data(), x.data(), TensorShape{{2}}, p);
  EXPECT_EQ(g.grad_x[0], 0.0f);
  EXPECT_EQ(g.grad_x[1], 1.0f);
  // Per channel both directions use -3.
  p.granularity = qmath::per_channel(0);
  p.scale = {0.5f, 0.5f};
  p.zero_point = {-3.0f, -3.0f};
  const auto gc = qmath::fake_quantize_learnable_backward(dy.data(), x.data(), TensorShape{{2}}, p);
  EXPECT_EQ(gc.grad_x[0], 1.0f);
  EXPECT_EQ(gc.grad_x[1], 1.0f);
}

TEST(FakeQuantTorch, LearnablePerChannel) {
  for (const std::string name : {"u8_axis1", "i8_axis0", "i4_axis-1", "u4_axis1", "each_u8", "each_i4"}) {
    SCOPED_TRACE(name);
    const Vectors v = load("lsq_pc_" + name);
    const std::vector<float>& x = v.rows[0];
    const std::vector<float>& dy = v.rows[1];
    const int axis = static_cast<int>(v.params[0]);
    qmath::LearnableQParams p;
    p.granularity = qmath::per_channel(axis);
    p.qmin = to_i32(v.params[1]);
    p.qmax = to_i32(v.params[2]);
    const float gf = static_cast<float>(v.params[3]);
    if (gf != 1.0f) {
      EXPECT_EQ(bits_of(gf), bits_of(qmath::lsq_grad_factor(x.size(), p.qmax)));
    }
    const ShapeAndSlots s = read_shape_and_slots(v.params, 4, axis, 4);
    p.scale = as_floats(s.arrays[0]);
    p.zero_point = as_floats(s.arrays[1]);
    const std::vector<float> torch_scale = as_floats(s.arrays[2]), torch_zero = as_floats(s.arrays[3]);

    std::vector<float> y(x.size());
    qmath::fake_quantize_learnable(x.data(), s.shape, p, y.data());
    expect_same_floats(v.rows[2], y, x, "lsq_pc_" + name + " y");
    const auto g = qmath::fake_quantize_learnable_backward(dy.data(), x.data(), s.shape, p, gf);
    expect_same_floats(v.rows[3], g.grad_x, x, "lsq_pc_" + name + " grad_x");

    if (s.channels == x.size()) {  // one element per channel: no reduction, bit exact
      expect_same_floats(torch_scale, g.grad_scale, x, "lsq_pc_" + name + " grad_scale");
      expect_same_floats(torch_zero, g.grad_zero_point, x, "lsq_pc_" + name + " grad_zero_point");
      continue;
    }
    // Several elements per channel: bound by the terms, each from a one-element call with its channel's parameters.
    std::vector<std::vector<float>> scale_terms(s.channels), zero_terms(s.channels);
    // Channel of element i in row-major storage.
    const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + static_cast<int>(s.shape.dims.size()) : axis);
    std::size_t inner = 1;
    for (std::size_t k = ax + 1; k < s.shape.dims.size(); ++k) inner *= static_cast<std::size_t>(s.shape.dims[k]);
    std::vector<std::size_t> slot(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) slot[i] = (i / inner) % s.channels;
    for (std::size_t i = 0; i < x.size(); ++i) {
      qmath::LearnableQParams one = p;
      one.granularity = qmath::per_channel(0);
      one.scale = {p.scale[slot[i]]};
      one.zero_point = {p.zero_point[slot[i]]};
      const auto t = qmath::fake_quantize_learnable_backward(&dy[i], &x[i], TensorShape{{1}}, one, gf);
      scale_terms[slot[i]].push_back(t.grad_scale[0]);
      zero_terms[slot[i]].push_back(t.grad_zero_point[0]);
    }
    for (std::size_t c = 0; c < s.channels; ++c) {
      expect_close_sum(torch_scale[c], g.grad_scale[c], sum_abs(scale_terms[c]),
                       "grad_scale[" + std::to_string(c) + "]");
      expect_close_sum(torch_zero[c], g.grad_zero_point[c], sum_abs(zero_terms[c]),
                       "grad_zero_point[" + std::to_string(c) + "]");
    }
  }
}

TEST(FakeQuant, LsqGradFactor) {
  EXPECT_EQ(qmath::lsq_grad_factor(256, 255), static_cast<float>(1.0 / std::sqrt(256.0 * 255.0)));
  EXPECT_EQ(qmath::lsq_grad_factor(4, 1), 0.5f);
}

// ---- Relation to quantize / dequantize -----------------------------------------------------------------------------

template <class Q>
std::vector<float> round_trip(const std::vector<float>& x, const TensorShape& shape, const qmath::QParams<Q>& p) {
  std::vector<typename qmath::int_traits<Q>::storage> q(qmath::int_traits<Q>::storage_size(x.size()));
  std::vector<float> back(x.size());
  qmath::quantize(x.data(), shape, p, q.data());
  qmath::dequantize(q.data(), shape, p, back.data());
  return back;
}

/// Inputs around every code of the range: ties (k + 0.5) * S with float neighbours, codes, random values, and the
/// finite extremes that both conventions saturate alike.
std::vector<float> inputs_for(float scale, std::int32_t zp, std::int32_t qmin, std::int32_t qmax, std::mt19937& rng) {
  std::vector<float> x;
  const std::int64_t lo = std::max<std::int64_t>(qmin - 3, zp - 300), hi = std::min<std::int64_t>(qmax + 3, zp + 300);
  for (std::int64_t k = lo; k <= hi; ++k)
    for (double d : {0.5, -0.5, 0.0, 0.3}) {
      const float v = static_cast<float>((static_cast<double>(k - zp) + d) * scale);
      x.push_back(v);
      x.push_back(std::nextafter(v, 1e30f));
      x.push_back(std::nextafter(v, -1e30f));
    }
  std::normal_distribution<float> normal(0.0f, scale * static_cast<float>(qmax - qmin) / 3.0f);
  for (int i = 0; i < 200; ++i) x.push_back(normal(rng));
  for (float v : {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, 1.2e-38f, -1e30f, -3.4e38f, -INFINITY, 1e9f, -1e9f})
    x.push_back(v);
  return x;
}

template <class Q>
void check_round_trip_equality(std::mt19937& rng) {
  SCOPED_TRACE(qmath::int_traits<Q>::kName);
  std::int32_t qmin = 0, qmax = 0;
  qmath::code_range<Q>(false, false, qmin, qmax);
  for (float scale : {0.1f, 0.0173f, 0.25f, 3.0f}) {
    for (std::int32_t zp : {qmin, qmax, static_cast<std::int32_t>((qmin + qmax) / 2)}) {
      const std::vector<float> x = inputs_for(scale, zp, qmin, qmax, rng);
      const TensorShape shape{{static_cast<std::int64_t>(x.size())}};
      qmath::QParams<Q> p = qmath::make_qparams<Q>(scale, zp);
      std::vector<float> y(x.size());
      qmath::fake_quantize(x.data(), shape, p, y.data());
      expect_same_floats(round_trip(x, shape, p), y, x, "fake_quantize vs dequantize(quantize)");
    }
  }
  // Per channel and per group on a 2-D tensor.
  const std::vector<float> row = inputs_for(0.05f, 0, qmin, qmax, rng);
  const std::int64_t cols = static_cast<std::int64_t>(row.size());
  std::vector<float> x;
  for (int r = 0; r < 4; ++r)
    for (float v : row) x.push_back(v * (1.0f + 0.37f * static_cast<float>(r)));
  const TensorShape shape{{4, cols}};
  qmath::QParams<Q> p;
  p.granularity = qmath::per_channel(0);
  p.scale = {0.05f, 0.07f, 0.011f, 0.3f};
  p.zero_point = {qmin, qmax, 0 < qmin ? qmin : 0, (qmin + qmax) / 2};
  std::vector<float> y(x.size());
  qmath::fake_quantize(x.data(), shape, p, y.data());
  expect_same_floats(round_trip(x, shape, p), y, x, "per channel");
  p.granularity = qmath::per_group(1, 64);
  const std::size_t groups = static_cast<std::size_t>(4 * ((cols + 63) / 64));
  p.scale.resize(groups);
  p.zero_point.resize(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    p.scale[g] = 0.01f + 0.013f * static_cast<float>(g);
    p.zero_point[g] = qmin + static_cast<std::int32_t>(g % static_cast<std::size_t>(qmax - qmin + 1));
  }
  qmath::fake_quantize(x.data(), shape, p, y.data());
  expect_same_floats(round_trip(x, shape, p), y, x, "per group");
}

TEST(FakeQuant, EqualsDequantizeOfQuantizeUpTo16BitCodes) {
  std::mt19937 rng(7);
  check_round_trip_equality<std::int8_t>(rng);
  check_round_trip_equality<std::uint8_t>(rng);
  check_round_trip_equality<std::int16_t>(rng);
  check_round_trip_equality<std::uint16_t>(rng);
  check_round_trip_equality<qmath::int4>(rng);
  check_round_trip_equality<qmath::uint4>(rng);
}

TEST(FakeQuant, WhereItDiffersFromDequantizeOfQuantize) {
  // NaN and huge positive inputs: torch's int64 conversion overflows to qmin, quantize maps NaN to Z and
  // saturates to qmax.
  const qmath::QParams<std::uint8_t> p = qmath::make_qparams<std::uint8_t>(0.1f, 3);
  const std::vector<float> x = {NAN, INFINITY, 1e30f, 3.4e38f};
  const TensorShape shape{{4}};
  std::vector<float> y(4);
  std::vector<std::uint8_t> mask(4, 9);
  qmath::fake_quantize(x.data(), shape, p, y.data(), mask.data());
  const std::vector<float> back = round_trip(x, shape, p);
  const float at_qmin = static_cast<float>(-3.0 * 0.1f), at_qmax = static_cast<float>(252.0 * 0.1f);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(y[i], at_qmin) << i;
    EXPECT_EQ(mask[i], 0) << i;
  }
  EXPECT_EQ(back[0], 0.0f);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(back[i], at_qmax) << i;

  // int32 codes: torch adds the zero point in float. 2^24 + 2 plus 1 is a tie that rounds to 2^24 + 4.
  const qmath::QParams<std::int32_t> p32 = qmath::make_qparams<std::int32_t>(1.0f, 1);
  const float big = 16777218.0f;
  float y32 = 0.0f;
  qmath::fake_quantize(&big, TensorShape{{1}}, p32, &y32);
  EXPECT_EQ(y32, 16777220.0f);  // code 2^24 + 4, minus Z = 2^24 + 3, rounded to float
  EXPECT_EQ(round_trip({big}, TensorShape{{1}}, p32)[0], 16777218.0f);
}

TEST(FakeQuant, OtherProfilesAreDequantizeOfQuantize) {
  std::mt19937 rng(11);
  for (qmath::profile prof : {qmath::profile::onnx, qmath::profile::tflite}) {
    SCOPED_TRACE(qmath::profile_name(prof));
    qmath::QParams<std::int8_t> p = qmath::make_qparams<std::int8_t>(0.0173f, -5, prof);
    std::vector<float> x = inputs_for(0.0173f, -5, -128, 127, rng);
    for (float v : {NAN, INFINITY, 1e30f}) x.push_back(v);
    const TensorShape shape{{static_cast<std::int64_t>(x.size())}};
    std::vector<float> y(x.size());
    std::vector<std::uint8_t> mask(x.size());
    qmath::fake_quantize(x.data(), shape, p, y.data(), mask.data());
    expect_same_floats(round_trip(x, shape, p), y, x, "round trip");
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double t = std::isnan(x[i]) ? 0.0 : static_cast<double>(x[i] / 0.0173f);
      const double r = prof == qmath::profile::onnx ? std::nearbyint(t) : std::round(t);
      const bool inside = r - 5.0 >= -128.0 && r - 5.0 <= 127.0;
      ASSERT_EQ(mask[i], inside ? 1 : 0) << "x = " << x[i];
    }
    // Float zero points as well.
    p.float_zero_point = {-4.6f};
    qmath::fake_quantize(x.data(), shape, p, y.data(), mask.data());
    expect_same_floats(round_trip(x, shape, p), y, x, "round trip, float zero point");
  }
}

// ---- Layouts and aliasing ------------------------------------------------------------------------------------------

TEST(FakeQuant, GranularitiesUseTheirSlot) {
  // Every element must get exactly the per-tensor result of its own slot, in both storage orders.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (qmath::storage_order order : {qmath::storage_order::row_major, qmath::storage_order::col_major}) {
    const TensorShape shape{{3, 5, 7}, order};
    std::vector<float> x(105);
    for (float& v : x) v = normal(rng);
    // Index of element (a, b, c) in storage.
    auto at = [&](std::size_t a, std::size_t b, std::size_t c) {
      return order == qmath::storage_order::row_major ? (a * 5 + b) * 7 + c : a + 3 * (b + 5 * c);
    };
    for (int axis : {0, 1, 2, -1, -3}) {
      const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
      const std::size_t channels = static_cast<std::size_t>(shape.dims[ax]);
      std::vector<float> scale(channels);
      std::vector<std::int32_t> zp(channels);
      for (std::size_t c = 0; c < channels; ++c) {
        scale[c] = 0.02f + 0.01f * static_cast<float>(c);
        zp[c] = static_cast<std::int32_t>(c * 7) - 10;
      }
      std::vector<float> y(x.size());
      std::vector<std::uint8_t> mask(x.size());
      qmath::fake_quantize(x.data(), shape, axis, scale, zp, -128, 127, y.data(), mask.data());
      for (std::size_t a = 0; a < 3; ++a)
        for (std::size_t b = 0; b < 5; ++b)
          for (std::size_t c = 0; c < 7; ++c) {
            const std::size_t i = at(a, b, c), ch = ax == 0 ? a : ax == 1 ? b : c;
            float expected = 0.0f;
            std::uint8_t expected_mask = 0;
            qmath::fake_quantize(&x[i], 1, scale[ch], zp[ch], -128, 127, &expected, &expected_mask);
            ASSERT_EQ(bits_of(expected), bits_of(y[i])) << "axis " << axis << " at " << a << "," << b << "," << c;
            ASSERT_EQ(expected_mask, mask[i]);
          }
    }
    // Per group of 3 along axis 2 (groups 0..2, the last one partial).
    qmath::QParams<std::int8_t> p;
    p.granularity = qmath::per_group(2, 3);
    p.scale.resize(45);
    p.zero_point.resize(45);
    for (std::size_t k = 0; k < 45; ++k) {
      p.scale[k] = 0.03f + 0.002f * static_cast<float>(k);
      p.zero_point[k] = static_cast<std::int32_t>(k) - 20;
    }
    std::vector<float> y(x.size());
    qmath::fake_quantize(x.data(), shape, p, y.data());
    for (std::size_t a = 0; a < 3; ++a)
      for (std::size_t b = 0; b < 5; ++b)
        for (std::size_t c = 0; c < 7; ++c) {
          const std::size_t i = at(a, b, c);
          // Parameter tensor dims (3, 5, 3) in the same storage order.
          const std::size_t g = c / 3;
          const std::size_t slot = order == qmath::storage_order::row_major ? (a * 5 + b) * 3 + g : a + 3 * (b + 5 * g);
          float expected = 0.0f;
          qmath::fake_quantize(&x[i], 1, p.scale[slot], p.zero_point[slot], -128, 127, &expected);
          ASSERT_EQ(bits_of(expected), bits_of(y[i])) << "per group at " << a << "," << b << "," << c;
        }
  }
}

TEST(FakeQuant, InPlaceAndEmpty) {
  std::vector<float> x = {-1.0f, 0.26f, 0.35f, 100.0f};
  std::vector<float> expected(4);
  qmath::fake_quantize(x.data(), 4, 0.1f, 3, 0, 255, expected.data());
  qmath::fake_quantize(x.data(), 4, 0.1f, 3, 0, 255, x.data());
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(bits_of(expected[i]), bits_of(x[i]));
  qmath::fake_quantize(nullptr, 0, 0.1f, 3, 0, 255, nullptr);
  qmath::fake_quantize_backward(nullptr, nullptr, 0, nullptr);
  qmath::LearnableQParams p;
  const auto g = qmath::fake_quantize_learnable_backward(nullptr, nullptr, TensorShape{{0}}, p);
  EXPECT_TRUE(g.grad_x.empty());
  ASSERT_EQ(g.grad_scale.size(), 1u);
  EXPECT_EQ(g.grad_scale[0], 0.0f);
  EXPECT_EQ(g.grad_zero_point[0], 0.0f);
}

TEST(FakeQuantBackward, MultipliesByTheMask) {
  const std::vector<float> gy = {2.0f, -2.0f, NAN, INFINITY, -3.0f, 5.0f};
  const std::vector<std::uint8_t> mask = {1, 0, 0, 0, 7, 0};
  std::vector<float> gx(gy.size());
  qmath::fake_quantize_backward(gy.data(), mask.data(), gy.size(), gx.data());
  EXPECT_EQ(gx[0], 2.0f);
  EXPECT_EQ(bits_of(gx[1]), bits_of(-0.0f));  // -2 * 0: torch's multiply keeps the sign
  EXPECT_TRUE(std::isnan(gx[2]));
  EXPECT_TRUE(std::isnan(gx[3]));  // Inf * 0
  EXPECT_EQ(gx[4], -3.0f);         // any nonzero byte passes
  EXPECT_EQ(bits_of(gx[5]), bits_of(0.0f));
}

// ---- Finite differences of the LSQ loss ----------------------------------------------------------------------------

/// L = sum(w * fake_quantize_learnable(x)) in double.
double lsq_loss(const std::vector<float>& x, const std::vector<float>& w, const TensorShape& shape,
                const qmath::LearnableQParams& p) {
  std::vector<float> y(x.size());
  qmath::fake_quantize_learnable(x.data(), shape, p, y.data());
  double loss = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) loss += static_cast<double>(w[i]) * y[i];
  return loss;
}

struct FdCase {
  std::vector<float> x, w;
  double ste_term = 0.0;   // sum over in-range elements of w * x / S
  double abs_scale = 0.0;  // sum of |w| * (|code - Z| + |x / S|): the size of the terms
};

/// n elements per tensor with codes at least `margin` codes inside [qmin, qmax] (a quarter code at most from an
/// integer) or at least `margin` codes beyond it; `clamped_share` of them beyond.
FdCase make_fd_case(float scale, std::int32_t zp, std::int32_t qmin, std::int32_t qmax, int margin,
                    double clamped_share, std::mt19937& rng) {
  FdCase c;
  std::uniform_int_distribution<std::int32_t> inside(qmin + margin, qmax - margin);
  std::uniform_int_distribution<std::int32_t> beyond(margin, margin + 40);
  std::uniform_real_distribution<float> frac(-0.25f, 0.25f), weight(-1.0f, 1.0f), share(0.0f, 1.0f);
  for (int i = 0; i < 400; ++i) {
    const bool clamp = share(rng) < clamped_share;
    std::int32_t code = inside(rng);
    if (clamp) code = (i % 2 == 0) ? qmax + beyond(rng) : qmin - beyond(rng);
    const float x = (static_cast<float>(code - zp) + frac(rng)) * scale;
    const float w = weight(rng);
    c.x.push_back(x);
    c.w.push_back(w);
    if (!clamp) c.ste_term += static_cast<double>(w) * x / scale;
    c.abs_scale += std::fabs(w) * (std::fabs(static_cast<double>(code - zp)) + std::fabs(x / scale));
  }
  return c;
}

/// Tolerance of a difference quotient with step h = scale / steps. For a power-of-two scale every fq and both steps
/// are exact floats, leaving only the float roundings of LSQ's own terms (observed: 1e-9 of sum |terms|); else each
/// fq carries half an ulp, |w| |k| S 2^-24, twice, divided by 2h: at most steps 2^-24 sum |w k| (observed: 4e-6).
double fd_tolerance(float scale, double steps, double abs_scale) {
  int exponent = 0;
  const bool power_of_two = std::frexp(scale, &exponent) == 0.5f;
  return (power_of_two ? 1e-7 : steps * 0x1p-24) * abs_scale;
}

TEST(LsqFiniteDifference, ScaleGradient) {
  std::mt19937 rng(5);
  // Codes are at most 175 from Z and a quarter code from a boundary: a relative step of 2^-12 moves x / S by at
  // most 0.043 code, so no code changes.
  const double steps = 4096.0;
  for (float scale : {0.25f, 0.0173f}) {
    for (double clamped_share : {1.0, 0.0, 0.3}) {
      const std::int32_t zp = 3, qmin = -128, qmax = 127;
      const FdCase c = make_fd_case(scale, zp, qmin, qmax, 4, clamped_share, rng);
      const TensorShape shape{{static_cast<std::int64_t>(c.x.size())}};
      qmath::LearnableQParams p;
      p.scale = {scale};
      p.zero_point = {static_cast<float>(zp)};
      p.qmin = qmin;
      p.qmax = qmax;
      qmath::LearnableQParams up = p, down = p;
      up.scale = {scale + scale / static_cast<float>(steps)};
      down.scale = {scale - scale / static_cast<float>(steps)};
      const double fd = (lsq_loss(c.x, c.w, shape, up) - lsq_loss(c.x, c.w, shape, down)) /
                        (static_cast<double>(up.scale[0]) - static_cast<double>(down.scale[0]));
      const auto g = qmath::fake_quantize_learnable_backward(c.w.data(), c.x.data(), shape, p);
      // LSQ = true derivative of the fixed-code loss - the straight-through term of the in-range elements.
      EXPECT_NEAR(g.grad_scale[0], fd - c.ste_term, fd_tolerance(scale, steps, c.abs_scale))
          << "scale " << scale << ", clamped share " << clamped_share << ", fd " << fd;
      // grad_factor scales it (each term is multiplied once, before the sum).
      const auto gs = qmath::fake_quantize_learnable_backward(c.w.data(), c.x.data(), shape, p, 0.125f);
      EXPECT_NEAR(gs.grad_scale[0], 0.125 * g.grad_scale[0], 1e-6 * c.abs_scale);
    }
  }
}

TEST(LsqFiniteDifference, ScaleGradientPerChannel) {
  std::mt19937 rng(6);
  const std::vector<float> scales = {0.25f, 0.0173f, 0.5f};
  const std::vector<std::int32_t> zps = {0, 100, 255};
  std::vector<FdCase> cases;
  for (std::size_t c = 0; c < 3; ++c) cases.push_back(make_fd_case(scales[c], zps[c], 0, 255, 4, 0.3, rng));
  // Layout (400, 3) with the channel last.
  std::vector<float> x, w;
  for (std::size_t i = 0; i < 400; ++i)
    for (std::size_t c = 0; c < 3; ++c) {
      x.push_back(cases[c].x[i]);
      w.push_back(cases[c].w[i]);
    }
  const TensorShape shape{{400, 3}};
  qmath::LearnableQParams p;
  p.granularity = qmath::per_channel(-1);
  p.scale = scales;
  p.zero_point = {0.0f, 100.0f, 255.0f};
  const auto g = qmath::fake_quantize_learnable_backward(w.data(), x.data(), shape, p);
  const double steps = 8192.0;  // codes up to 300 from Z: x / S moves by 0.037 code at most
  for (std::size_t c = 0; c < 3; ++c) {
    qmath::LearnableQParams up = p, down = p;
    up.scale[c] += scales[c] / static_cast<float>(steps);
    down.scale[c] -= scales[c] / static_cast<float>(steps);
    const double fd = (lsq_loss(x, w, shape, up) - lsq_loss(x, w, shape, down)) /
                      (static_cast<double>(up.scale[c]) - static_cast<double>(down.scale[c]));
    EXPECT_NEAR(g.grad_scale[c], fd - cases[c].ste_term, fd_tolerance(scales[c], steps, cases[c].abs_scale))
        << "channel " << c;
  }
}

TEST(LsqFiniteDifference, ZeroPointGradientByIntegerSteps) {
  std::mt19937 rng(8);
  for (bool per_channel : {false, true}) {
    for (float gf : {1.0f, 0.03125f}) {
      const float scale = 0.25f;  // every fq is an exact float: the differences are exact
      const std::int32_t zp = 40, qmin = 0, qmax = 255;
      const FdCase c = make_fd_case(scale, zp, qmin, qmax, 3, 0.4, rng);
      const TensorShape shape{{static_cast<std::int64_t>(c.x.size())}};
      qmath::LearnableQParams p;
      p.granularity = per_channel ? qmath::per_channel(0) : qmath::per_tensor();
      const std::size_t slots = per_channel ? c.x.size() : 1;
      p.scale.assign(slots, scale);
      p.zero_point.assign(slots, static_cast<float>(zp));
      p.qmin = qmin;
      p.qmax = qmax;
      const auto g = qmath::fake_quantize_learnable_backward(c.w.data(), c.x.data(), shape, p, gf);
      qmath::LearnableQParams up = p, down = p;
      double total = 0.0;
      if (per_channel) {
        // Every element is its own channel: step each channel alone.
        for (std::size_t i = 0; i < slots; ++i) {
          up.zero_point = p.zero_point;
          down.zero_point = p.zero_point;
          up.zero_point[i] += 1.0f;
          down.zero_point[i] -= 1.0f;
          const double fd = (lsq_loss(c.x, c.w, shape, up) - lsq_loss(c.x, c.w, shape, down)) / 2.0;
          ASSERT_NEAR(g.grad_zero_point[i], gf * fd, 1e-6 * std::fabs(fd)) << "element " << i;
          total += fd;
        }
      } else {
        up.zero_point = {static_cast<float>(zp + 1)};
        down.zero_point = {static_cast<float>(zp - 1)};
        total = (lsq_loss(c.x, c.w, shape, up) - lsq_loss(c.x, c.w, shape, down)) / 2.0;
        EXPECT_NEAR(g.grad_zero_point[0], gf * total, 1e-6 * std::fabs(total));
      }
      EXPECT_NE(total, 0.0);  // some elements were clamped
    }
  }
}

// ---- Bad input -----------------------------------------------------------------------------------------------------

template <class F>
void expect_error_without_writing(F&& call, const std::vector<float>& out, const char* what) {
  const std::vector<float> before = out;
  EXPECT_THROW(call(), qmath::error) << what;
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(bits_of(before[i]), bits_of(out[i])) << what;
}

TEST(FakeQuantBadInput, TorchStyle) {
  const std::vector<float> x = {0.5f, -0.25f, 1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<float> out(6, 42.0f);
  std::vector<std::uint8_t> mask(6, 9);
  for (float bad : {0.0f, -1.0f, NAN, INFINITY, 1e-45f}) {
    expect_error_without_writing([&] { qmath::fake_quantize(x.data(), 6, bad, 0, 0, 255, out.data(), mask.data()); },
                                 out, "bad scale");
  }
  expect_error_without_writing([&] { qmath::fake_quantize(x.data(), 6, 0.1f, 0, 5, 3, out.data()); }, out,
                               "qmin > qmax");
  expect_error_without_writing([&] { qmath::fake_quantize(x.data(), 6, 0.1f, 300, 0, 255, out.data()); }, out,
                               "zp above");
  expect_error_without_writing([&] { qmath::fake_quantize(x.data(), 6, 0.1f, -1, 0, 255, out.data()); }, out,
                               "zp below");
  EXPECT_THROW(qmath::fake_quantize(nullptr, 6, 0.1f, 0, 0, 255, out.data()), qmath::error);
  EXPECT_THROW(qmath::fake_quantize(x.data(), 6, 0.1f, 0, 0, 255, nullptr), qmath::error);

  const TensorShape shape{{2, 3}};
  const std::vector<float> s3 = {0.1f, 0.2f, 0.3f};
  const std::vector<std::int32_t> z3 = {0, 1, 2};
  auto per_channel = [&](int axis, const std::vector<float>& s, const std::vector<std::int32_t>& z, std::int32_t qmin,
                         std::int32_t qmax) {
    qmath::fake_quantize(x.data(), shape, axis, s, z, qmin, qmax, out.data());
  };
  expect_error_without_writing([&] { per_channel(1, {0.1f, 0.2f}, {0, 1}, 0, 255); }, out, "lengths vs dims");
  expect_error_without_writing([&] { per_channel(1, s3, {0, 1}, 0, 255); }, out, "zero point length");
  expect_error_without_writing([&] { per_channel(2, s3, z3, 0, 255); }, out, "axis too large");
  expect_error_without_writing([&] { per_channel(-3, s3, z3, 0, 255); }, out, "axis too small");
  expect_error_without_writing([&] { per_channel(1, {0.1f, 0.0f, 0.3f}, z3, 0, 255); }, out, "zero scale");
  expect_error_without_writing([&] { per_channel(1, s3, {0, 1, 2}, 1, 255); }, out, "zero point below qmin");
  expect_error_without_writing([&] { per_channel(1, s3, z3, 3, 2); }, out, "qmin > qmax");
  expect_error_without_writing(
      [&] {
        qmath::fake_quantize(x.data(), TensorShape{{2, -3}}, 1, s3, z3, 0, 255, out.data());
      },
      out, "negative dim");
}

TEST(FakeQuantBadInput, QParams) {
  const std::vector<float> x = {0.5f, -0.25f, 1.0f, 2.0f};
  std::vector<float> out(4, 42.0f);
  const TensorShape shape{{4}};
  auto run = [&](const qmath::QParams<std::int8_t>& p) { qmath::fake_quantize(x.data(), shape, p, out.data()); };
  qmath::QParams<std::int8_t> p = qmath::make_qparams<std::int8_t>(0.1f, 0);
  p.qmin = -127;
  p.zero_point = {-128};  // in int8 but outside [qmin, qmax]
  expect_error_without_writing([&] { run(p); }, out, "zero point outside [qmin, qmax]");
  p = qmath::make_qparams<std::int8_t>(0.1f, 0);
  p.qmin = 5;
  p.qmax = 4;
  expect_error_without_writing([&] { run(p); }, out, "qmin > qmax");
  p = qmath::make_qparams<std::int8_t>(-0.1f, 0);
  expect_error_without_writing([&] { run(p); }, out, "negative scale");
  p = qmath::make_qparams<std::int8_t>(0.1f, 0);
  p.scale = {0.1f, 0.2f};
  expect_error_without_writing([&] { run(p); }, out, "too many scales");
  p = qmath::make_qparams<std::int8_t>(0.1f, 0);
  p.float_zero_point = {NAN};
  expect_error_without_writing([&] { run(p); }, out, "NaN float zero point");
}

TEST(FakeQuantBadInput, Learnable) {
  const std::vector<float> x = {0.5f, -0.25f, 1.0f, 2.0f};
  const std::vector<float> dy = {1.0f, 1.0f, 1.0f, 1.0f};
  std::vector<float> out(4, 42.0f), gs(1, 42.0f), gz(1, 42.0f);
  const TensorShape shape{{4}};
  auto forward = [&](const qmath::LearnableQParams& p) {
    qmath::fake_quantize_learnable(x.data(), shape, p, out.data());
  };
  auto backward = [&](const qmath::LearnableQParams& p, float gf) {
    qmath::fake_quantize_learnable_backward(dy.data(), x.data(), shape, p, gf, out.data(), gs.data(), gz.data());
  };
  qmath::LearnableQParams p;
  const qmath::LearnableQParams good = p;
  const auto both = [&](const qmath::LearnableQParams& bad, const char* what) {
    expect_error_without_writing([&] { forward(bad); }, out, what);
    expect_error_without_writing([&] { backward(bad, 1.0f); }, out, what);
    EXPECT_EQ(gs[0], 42.0f) << what;
  };
  p.scale = {0.0f};
  both(p, "zero scale");
  p = good;
  p.scale = {INFINITY};
  both(p, "infinite scale");
  p = good;
  p.zero_point = {NAN};
  both(p, "NaN zero point");
  p = good;
  p.qmin = 10;
  p.qmax = 9;
  both(p, "qmin > qmax");
  p = good;
  p.qmax = (1 << 24) + 1;
  both(p, "qmax beyond 2^24");
  p = good;
  p.scale = {0.1f, 0.2f};
  both(p, "scale length");
  p = good;
  p.zero_point = {};
  both(p, "zero point length");
  p = good;
  p.granularity = qmath::per_channel(1);
  both(p, "axis out of range");
  expect_error_without_writing([&] { backward(good, NAN); }, out, "NaN grad_factor");
  EXPECT_THROW(
      qmath::fake_quantize_learnable_backward(dy.data(), x.data(), shape, good, 1.0f, out.data(), nullptr, gz.data()),
      qmath::error);
  EXPECT_THROW(qmath::fake_quantize_learnable(nullptr, shape, good, out.data()), qmath::error);
  EXPECT_THROW(qmath::lsq_grad_factor(0, 255), qmath::error);
  EXPECT_THROW(qmath::lsq_grad_factor(10, 0), qmath::error);
  EXPECT_THROW(qmath::fake_quantize_backward(nullptr, nullptr, 3, out.data()), qmath::error);
  // A zero point outside [qmin, qmax] is not an error here: the learnable ops clamp it, as torch does.
  p = good;
  p.zero_point = {300.2f};
  EXPECT_NO_THROW(forward(p));
}

}  // namespace
