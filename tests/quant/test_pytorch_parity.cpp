// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_pytorch_parity.cpp: qmath's pytorch profile against vectors recorded from torch 1.13, bit for bit.
//
// The vectors (tests/vectors/pytorch/*.txt, written by tests/vectors/gen_pytorch_vectors.py) hold, per case, the
// inputs as float bit patterns and what torch returned: quantize_per_tensor / quantize_per_channel codes
// (int_repr()) and dequantize() floats, and the scale / zero points of the MinMaxObserver and
// PerChannelMinMaxObserver. Quantize and dequantize are checked on every compiled ISA path this CPU runs.
//
// Cases tagged "divergence <reason>" are inputs where torch 1.13 and qmath knowingly disagree (see the generator's
// header and kDivergences below); the ordinary tests leave them out and the DISABLED_ tests run them, so that
// `--gtest_also_run_disabled_tests` shows the exact differences.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <unsupported/Eigen/CXX11/Tensor>

#include "qmath/core/cpu.hpp"
#include "qmath/format/bits.hpp"
#include "qmath/kernels/dispatch.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/quantize.hpp"
#include "support/isa_params.hpp"

namespace {

// ---- Vector files ------------------------------------------------------------------------------------------------

/// Why torch 1.13 and qmath differ on the tagged cases (printed by the DISABLED_ tests).
const std::map<std::string, std::string> kDivergences = {
    {"int64_overflow",
     "torch converts round(x * (1/S)) to int64 before clamping; from 2^63 up the conversion overflows to INT64_MIN "
     "and torch returns qmin, where qmath saturates to qmax"},
    {"qint32_float_add",
     "torch adds the qint32 zero point in float (zero_point + nearbyint(x * (1/S))), rounding the code once "
     "|code| > 2^24, and its qint32 dequantize computes q - Z in int32, wrapping around near the ends of the "
     "range; qmath adds and subtracts exactly"},
    {"custom_range_reduce",
     "with quant_min=-127, quant_max=127 and reduce_range torch halves the custom bounds to [-64, 63]; qmath's "
     "narrow_range + reduce_range is [-63, 63]"},
};

struct Case {
  std::string file;
  std::string name;
  std::map<std::string, std::vector<std::string>> fields;

  bool has(const std::string& key) const { return fields.count(key) != 0; }
  const std::vector<std::string>& tokens(const std::string& key) const {
    const auto it = fields.find(key);
    if (it == fields.end()) throw std::runtime_error(file + ": case " + name + " has no '" + key + "' line");
    return it->second;
  }
  std::string text(const std::string& key) const {
    std::string joined;
    for (const std::string& t : tokens(key)) joined += (joined.empty() ? "" : " ") + t;
    return joined;
  }
  std::vector<float> floats(const std::string& key) const {
    std::vector<float> out;
    for (const std::string& t : tokens(key))
      out.push_back(qmath::f32_from_bits(static_cast<std::uint32_t>(std::stoul(t, nullptr, 16))));
    return out;
  }
  std::vector<std::int64_t> ints(const std::string& key) const {
    std::vector<std::int64_t> out;
    for (const std::string& t : tokens(key)) out.push_back(std::stoll(t));
    return out;
  }
  std::int64_t integer(const std::string& key) const { return ints(key).at(0); }
  bool divergent() const { return text("divergence") != "none"; }
};

std::string vector_path(const std::string& file) { return std::string(QMATH_TESTS_DIR) + "/vectors/pytorch/" + file; }

/// The cases of one vector file; an empty result with `error` set when the file cannot be read or parsed.
std::vector<Case> load_cases(const std::string& file, std::string& error) {
  std::vector<Case> cases;
  const std::string path = vector_path(file);
  std::ifstream in(path);
  if (!in) {
    error = "cannot open " + path +
            " (it is part of the repository; regenerate with /usr/bin/python3 tests/vectors/gen_pytorch_vectors.py)";
    return {};
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key, token;
    words >> key;
    std::vector<std::string> values;
    while (words >> token) values.push_back(token);
    if (key == "case") {
      cases.push_back(Case{file, values.empty() ? std::string("?") : values[0], {}});
    } else if (cases.empty()) {
      error = path + ": '" + key + "' line before the first case";
      return {};
    } else {
      cases.back().fields[key] = values;
    }
  }
  if (cases.empty()) error = path + " holds no cases";
  return cases;
}

/// Loads `file` into `cases`, failing the current test (with the path) when it is missing or empty.
#define QMATH_LOAD_VECTORS(cases, file)                            \
  std::string load_error_;                                         \
  const std::vector<Case> cases = load_cases((file), load_error_); \
  ASSERT_TRUE(load_error_.empty()) << load_error_

/// Prints why a tagged case is expected to differ (the DISABLED_ tests run them).
void announce_divergence(const Case& c) {
  const std::string tag = c.text("divergence");
  const auto why = kDivergences.find(tag);
  std::printf("[qmath] %s: known divergence %s: %s\n", c.name.c_str(), tag.c_str(),
              why != kDivergences.end() ? why->second.c_str() : "(no explanation for this tag)");
}

std::string hex(float v) {
  std::ostringstream s;
  s << "0x" << std::hex << qmath::f32_bits(v);
  return s.str();
}

// ---- Comparison with a bounded report ---------------------------------------------------------------------------

/// Collects element mismatches of one case and reports the first few (input bits, torch, qmath).
class Mismatches {
 public:
  explicit Mismatches(std::string what) : what_(std::move(what)) {}
  void code(std::size_t i, float x, std::int64_t torch, std::int64_t ours) {
    if (torch == ours) return;
    if (++count_ <= kShown)
      detail_ << "\n  [" << i << "] x=" << hex(x) << " (" << x << "): torch code " << torch << ", qmath " << ours;
  }
  void value(std::size_t i, std::int64_t code, float torch, float ours) {
    if (qmath::f32_bits(torch) == qmath::f32_bits(ours)) return;
    if (++count_ <= kShown)
      detail_ << "\n  [" << i << "] code=" << code << ": torch " << hex(torch) << " (" << torch << "), qmath "
              << hex(ours) << " (" << ours << ")";
  }
  std::size_t count() const { return count_; }
  std::string report() const {
    std::ostringstream s;
    s << what_ << ": " << count_ << " element(s) differ from torch" << detail_.str();
    if (count_ > kShown) s << "\n  ...";
    return s.str();
  }

 private:
  static constexpr std::size_t kShown = 12;
  std::string what_;
  std::size_t count_ = 0;
  std::ostringstream detail_;
};

// ---- Quantize / dequantize ------------------------------------------------------------------------------------

/// Parameters of a quantize case (per tensor, per channel, or per channel with float zero points).
template <class Q>
qmath::QParams<Q> params_of(const Case& c, const qmath::Granularity& g) {
  qmath::QParams<Q> p;
  p.granularity = g;
  p.numerics = qmath::profile::pytorch;
  p.scale = c.floats("scale");
  if (c.has("float_zero_point")) {
    p.float_zero_point = c.floats("float_zero_point");
    p.zero_point.assign(p.scale.size(), 0);
  } else {
    p.zero_point.clear();
    for (std::int64_t z : c.ints("zero_point")) p.zero_point.push_back(static_cast<std::int32_t>(z));
  }
  return p;
}

/// Quantizes the case's x with `p` over `shape` and dequantizes torch's codes, comparing both with torch.
template <class Q>
void expect_quantize_matches(const Case& c, const qmath::TensorShape& shape, const qmath::QParams<Q>& p,
                             const std::string& label) {
  const std::vector<float> x = c.floats("x"), torch_dq = c.floats("dq");
  const std::vector<std::int64_t> torch_q = c.ints("q");
  ASSERT_EQ(static_cast<std::int64_t>(x.size()), c.integer("count")) << c.name;
  ASSERT_EQ(x.size(), torch_q.size()) << c.name;
  ASSERT_EQ(x.size(), torch_dq.size()) << c.name;

  std::vector<Q> codes(x.size());
  qmath::quantize(x.data(), shape, p, codes.data());
  Mismatches quantize_diff(c.file + " " + c.name + " quantize (" + label + ")");
  for (std::size_t i = 0; i < x.size(); ++i) quantize_diff.code(i, x[i], torch_q[i], codes[i]);
  EXPECT_EQ(quantize_diff.count(), 0u) << quantize_diff.report();

  // Dequantize torch's own codes, so a quantize difference does not hide or cause a dequantize one.
  std::vector<Q> torch_codes(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) torch_codes[i] = static_cast<Q>(torch_q[i]);
  std::vector<float> back(x.size());
  qmath::dequantize(torch_codes.data(), shape, p, back.data());
  Mismatches dequantize_diff(c.file + " " + c.name + " dequantize (" + label + ")");
  for (std::size_t i = 0; i < x.size(); ++i) dequantize_diff.value(i, torch_q[i], torch_dq[i], back[i]);
  EXPECT_EQ(dequantize_diff.count(), 0u) << dequantize_diff.report();
}

template <class Q>
void check_per_tensor_case(const Case& c) {
  const qmath::QParams<Q> p = params_of<Q>(c, qmath::per_tensor());
  const auto n = static_cast<std::int64_t>(c.integer("count"));
  expect_quantize_matches<Q>(c, qmath::TensorShape{{n}, qmath::storage_order::row_major}, p, "per tensor");
}

qmath::TensorShape row_major_shape(const Case& c) {
  return qmath::TensorShape{c.ints("shape"), qmath::storage_order::row_major};
}

/// Per channel on the recorded axis and on the same axis counted from the end.
template <class Q>
void check_per_channel_case(const Case& c) {
  const qmath::TensorShape shape = row_major_shape(c);
  const int axis = static_cast<int>(c.integer("axis"));
  const int negative = axis - static_cast<int>(shape.dims.size());
  expect_quantize_matches<Q>(c, shape, params_of<Q>(c, qmath::per_channel(axis)), "axis " + std::to_string(axis));
  expect_quantize_matches<Q>(c, shape, params_of<Q>(c, qmath::per_channel(negative)),
                             "axis " + std::to_string(negative));
}

/// Per channel through the Eigen::Tensor<float, 3, RowMajor> overloads (torch tensors are row-major).
template <class Q>
void check_eigen_tensor_case(const Case& c) {
  const std::vector<std::int64_t> dims = c.ints("shape");
  ASSERT_EQ(dims.size(), 3u);
  const std::vector<float> x = c.floats("x"), torch_dq = c.floats("dq");
  const std::vector<std::int64_t> torch_q = c.ints("q");
  const qmath::QParams<Q> p = params_of<Q>(c, qmath::per_channel(static_cast<int>(c.integer("axis"))));

  Eigen::Tensor<float, 3, Eigen::RowMajor> tensor(dims[0], dims[1], dims[2]);
  std::copy(x.begin(), x.end(), tensor.data());
  const Eigen::Tensor<Q, 3, Eigen::RowMajor> codes = qmath::quantize(tensor, p);
  Mismatches quantize_diff(c.name + " quantize (Eigen::Tensor)");
  for (std::size_t i = 0; i < x.size(); ++i) quantize_diff.code(i, x[i], torch_q[i], codes.data()[i]);
  EXPECT_EQ(quantize_diff.count(), 0u) << quantize_diff.report();

  Eigen::Tensor<Q, 3, Eigen::RowMajor> torch_codes(dims[0], dims[1], dims[2]);
  for (std::size_t i = 0; i < x.size(); ++i) torch_codes.data()[i] = static_cast<Q>(torch_q[i]);
  const Eigen::Tensor<float, 3, Eigen::RowMajor> back = qmath::dequantize(torch_codes, p);
  Mismatches dequantize_diff(c.name + " dequantize (Eigen::Tensor)");
  for (std::size_t i = 0; i < x.size(); ++i) dequantize_diff.value(i, torch_q[i], torch_dq[i], back.data()[i]);
  EXPECT_EQ(dequantize_diff.count(), 0u) << dequantize_diff.report();
}

/// Calls fn.template operator()<Q>() with the code type of a torch dtype name.
template <class Fn>
void with_code_type(const std::string& dtype, Fn&& fn) {
  if (dtype == "qint8")
    fn(std::int8_t{});
  else if (dtype == "quint8")
    fn(std::uint8_t{});
  else if (dtype == "qint32")
    fn(std::int32_t{});
  else
    ADD_FAILURE() << "unknown dtype '" << dtype << "' in the vectors";
}

/// Runs the quantize cases of `file` (divergent ones only when `divergent`), calling check(case, code tag).
template <class Check>
void run_quantize_file(const std::string& file, bool divergent, Check&& check) {
  QMATH_LOAD_VECTORS(cases, file);
  std::size_t ran = 0;
  for (const Case& c : cases) {
    if (c.divergent() != divergent) continue;
    SCOPED_TRACE(file + ": case " + c.name);
    if (divergent) announce_divergence(c);
    with_code_type(c.text("dtype"), [&](auto tag) { check(c, tag); });
    ++ran;
  }
  EXPECT_GT(ran, 0u) << file << " has no " << (divergent ? "divergent" : "ordinary") << " cases";
}

// ---- Per ISA path -------------------------------------------------------------------------------------------------

class PytorchParity : public ::testing::TestWithParam<qmath::isa> {
 protected:
  /// Forces GetParam()'s path for the public API; false (test skipped) when that cannot be done here.
  void SetUp() override {
    QMATH_SKIP_IF_UNSUPPORTED(GetParam());
    guard_ = std::make_unique<qmath::ScopedIsaOverride>(GetParam());
    if (&qmath::kernels::active_quantize_kernels() != qmath::kernels::quantize_kernels(GetParam()))
      GTEST_SKIP() << "QMATH_ISA excludes " << qmath::isa_name(GetParam()) << ": path not tested in this run";
  }
  void TearDown() override { guard_.reset(); }

 private:
  std::unique_ptr<qmath::ScopedIsaOverride> guard_;
};

TEST_P(PytorchParity, QuantizePerTensor) {
  run_quantize_file("quantize_per_tensor.txt", false,
                    [](const Case& c, auto tag) { check_per_tensor_case<decltype(tag)>(c); });
}

TEST_P(PytorchParity, QuantizePerChannel) {
  run_quantize_file("quantize_per_channel.txt", false,
                    [](const Case& c, auto tag) { check_per_channel_case<decltype(tag)>(c); });
}

TEST_P(PytorchParity, QuantizePerChannelEigenTensor) {
  run_quantize_file("quantize_per_channel.txt", false, [](const Case& c, auto tag) {
    if (c.ints("shape").size() == 3) check_eigen_tensor_case<decltype(tag)>(c);
  });
}

TEST_P(PytorchParity, QuantizePerChannelFloatZeroPoints) {
  run_quantize_file("float_qparams.txt", false, [](const Case& c, auto tag) {
    using Q = decltype(tag);
    ASSERT_TRUE((std::is_same<Q, std::uint8_t>::value)) << "float zero points come with quint8 in torch";
    check_per_channel_case<Q>(c);
  });
}

INSTANTIATE_TEST_SUITE_P(AllPaths, PytorchParity, ::testing::ValuesIn(qmath_test::compiled_isa_list()),
                         qmath_test::isa_param_name);

// The tagged cases, on the best path this CPU runs. Expected to fail until the lead decides what to do with them;
// run with --gtest_also_run_disabled_tests to see every difference.
TEST(PytorchParityDivergences, DISABLED_QuantizePerTensorKnownDivergences) {
  run_quantize_file("quantize_per_tensor.txt", true,
                    [](const Case& c, auto tag) { check_per_tensor_case<decltype(tag)>(c); });
}

// ---- Observers (ISA independent) -------------------------------------------------------------------------------

qmath::ChooseOptions options_of(const Case& c) {
  const std::string qscheme = c.text("qscheme"), range = c.text("quant_range");
  qmath::ChooseOptions o;
  o.numerics = qmath::profile::pytorch;
  o.kind = qscheme.find("symmetric") != std::string::npos ? qmath::scheme::symmetric : qmath::scheme::affine;
  o.float_zero_point = qscheme == "per_channel_affine_float_qparams";
  o.reduce_range = c.integer("reduce_range") != 0;
  // torch's customised range [-127, 127] for qint8 is qmath's narrow range; the generator writes no other.
  if (range == "-127 127")
    o.narrow_range = true;
  else
    EXPECT_EQ(range, "default") << c.name << ": a customised range qmath has no option for";
  return o;
}

template <class Q>
void expect_qparams_match(const Case& c, const qmath::QParams<Q>& p, const std::string& label) {
  const std::vector<float> scale = c.floats("scale");
  ASSERT_EQ(p.scale.size(), scale.size()) << label;
  const std::vector<std::int64_t> range = c.ints("resolved_range");
  EXPECT_EQ(p.qmin, range.at(0)) << label << ": quant_min";
  EXPECT_EQ(p.qmax, range.at(1)) << label << ": quant_max";
  for (std::size_t k = 0; k < scale.size(); ++k) {
    EXPECT_EQ(qmath::f32_bits(p.scale[k]), qmath::f32_bits(scale[k]))
        << label << ": scale[" << k << "] qmath " << hex(p.scale[k]) << " (" << p.scale[k] << "), torch "
        << hex(scale[k]) << " (" << scale[k] << ")";
  }
  if (c.has("float_zero_point")) {
    const std::vector<float> zf = c.floats("float_zero_point");
    ASSERT_EQ(p.float_zero_point.size(), zf.size()) << label;
    for (std::size_t k = 0; k < zf.size(); ++k)
      EXPECT_EQ(qmath::f32_bits(p.float_zero_point[k]), qmath::f32_bits(zf[k]))
          << label << ": float zero point[" << k << "] qmath " << hex(p.float_zero_point[k]) << " ("
          << p.float_zero_point[k] << "), torch " << hex(zf[k]) << " (" << zf[k] << ")";
  } else {
    const std::vector<std::int64_t> zp = c.ints("zero_point");
    ASSERT_EQ(p.zero_point.size(), zp.size()) << label;
    for (std::size_t k = 0; k < zp.size(); ++k)
      EXPECT_EQ(p.zero_point[k], zp[k]) << label << ": zero point[" << k << "]";
  }
}

/// One observer case: qparams from torch's recorded min / max, and from the data (which also checks that
/// minmax_ranges() finds torch's min / max).
template <class Q>
void check_observer_case(const Case& c) {
  const qmath::ChooseOptions o = options_of(c);
  const std::vector<float> mins = c.floats("min"), maxs = c.floats("max"), x = c.floats("x");
  const bool per_channel = c.text("observer") == "PerChannelMinMaxObserver";
  const qmath::Granularity g =
      per_channel ? qmath::per_channel(static_cast<int>(c.integer("ch_axis"))) : qmath::per_tensor();
  const qmath::TensorShape shape{c.ints("shape"), qmath::storage_order::row_major};

  if (per_channel) {
    expect_qparams_match(c, qmath::choose_qparams<Q>(mins, maxs, g, o), c.name + " (from min/max)");
  } else {
    ASSERT_EQ(mins.size(), 1u);
    expect_qparams_match(c, qmath::choose_qparams<Q>(mins[0], maxs[0], o), c.name + " (from min/max)");
  }
  const qmath::Ranges ranges = qmath::minmax_ranges(x.data(), shape, g);
  ASSERT_EQ(ranges.min.size(), mins.size());
  for (std::size_t k = 0; k < mins.size(); ++k) {
    EXPECT_EQ(qmath::f32_bits(ranges.min[k]), qmath::f32_bits(mins[k])) << c.name << ": min[" << k << "]";
    EXPECT_EQ(qmath::f32_bits(ranges.max[k]), qmath::f32_bits(maxs[k])) << c.name << ": max[" << k << "]";
  }
  expect_qparams_match(c, qmath::choose_qparams<Q>(x.data(), shape, g, o), c.name + " (from the data)");
}

void run_observer_cases(bool divergent) {
  QMATH_LOAD_VECTORS(cases, "observers.txt");
  std::size_t ran = 0;
  for (const Case& c : cases) {
    if (c.divergent() != divergent) continue;
    SCOPED_TRACE("observers.txt: case " + c.name);
    if (divergent) announce_divergence(c);
    with_code_type(c.text("dtype"), [&](auto tag) { check_observer_case<decltype(tag)>(c); });
    ++ran;
  }
  EXPECT_GT(ran, 0u) << "observers.txt has no " << (divergent ? "divergent" : "ordinary") << " cases";
}

TEST(PytorchParityObservers, ScaleAndZeroPointBitForBit) { run_observer_cases(false); }

TEST(PytorchParityObservers, FloatQParamsObserverOfTheQuantizeCases) {
  // The float_qparams quantize cases recorded the observer's min / max: choose_qparams must give back the
  // scale and float zero points torch quantized with.
  QMATH_LOAD_VECTORS(cases, "float_qparams.txt");
  qmath::ChooseOptions o;
  o.float_zero_point = true;
  for (const Case& c : cases) {
    SCOPED_TRACE("float_qparams.txt: case " + c.name);
    const qmath::QParams<std::uint8_t> p = qmath::choose_qparams<std::uint8_t>(
        c.floats("observed_min"), c.floats("observed_max"), qmath::per_channel(static_cast<int>(c.integer("axis"))), o);
    const std::vector<float> scale = c.floats("scale"), zf = c.floats("float_zero_point");
    ASSERT_EQ(p.scale.size(), scale.size());
    ASSERT_EQ(p.float_zero_point.size(), zf.size());
    for (std::size_t k = 0; k < scale.size(); ++k) {
      EXPECT_EQ(qmath::f32_bits(p.scale[k]), qmath::f32_bits(scale[k])) << "scale[" << k << "]";
      EXPECT_EQ(qmath::f32_bits(p.float_zero_point[k]), qmath::f32_bits(zf[k])) << "float zero point[" << k << "]";
    }
  }
}

TEST(PytorchParityDivergences, DISABLED_ObserverKnownDivergences) { run_observer_cases(true); }

}  // namespace
