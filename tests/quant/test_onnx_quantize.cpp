// SPDX-License-Identifier: Apache-2.0
// tests/quant/test_onnx_quantize.cpp: the ONNX project's QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear
// conformance vectors (../shared/conformance/onnx/node) through the public qmath API with profile::onnx, bit for
// bit, on every compiled ISA path this CPU runs (float8 through quant/scaled_fp8.hpp). Vectors for types qmath does
// not quantize to (float4, 2-bit, float16 outputs) are listed and skipped visibly; a census test fails if the data holds a vector of these
// ops that is in neither list.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <ostream>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "qmath/qmath.hpp"
#include "support/isa_params.hpp"
#include "support/onnx_vectors.hpp"

namespace {

using qmath_test::as_vector;
using qmath_test::OnnxTensor;
using qmath_test::OnnxTest;

// ---- Which vectors -------------------------------------------------------------------------------------------

const char* const kQuantizeTests[] = {
    "test_quantizelinear",      "test_quantizelinear_axis",   "test_quantizelinear_blocked_asymmetric",
    "test_quantizelinear_blocked_symmetric",
    "test_quantizelinear_int16", "test_quantizelinear_uint16", "test_quantizelinear_int4", "test_quantizelinear_uint4",
};
const char* const kDequantizeTests[] = {
    "test_dequantizelinear",       "test_dequantizelinear_axis",   "test_dequantizelinear_blocked",
    "test_dequantizelinear_int16", "test_dequantizelinear_uint16", "test_dequantizelinear_int4",
    "test_dequantizelinear_uint4",
};
// float8 codes: qmath's scaled fp8 (quant/scaled_fp8.hpp).
const char* const kFp8Tests[] = {
    "test_quantizelinear_e4m3fn",   "test_quantizelinear_e5m2",   "test_dequantizelinear_e4m3fn",
    "test_dequantizelinear_e4m3fn_zero_point", "test_dequantizelinear_e5m2",
};
const char* const kDynamicTests[] = {
    "test_dynamicquantizelinear",
    "test_dynamicquantizelinear_max_adjusted",
    "test_dynamicquantizelinear_min_adjusted",
};

/// A vector qmath cannot run: `dtype` is the ONNX type of one of its tensors that qmath has no code type for.
struct UnsupportedCase {
  const char* test;
  const char* dtype;
  const char* what;
};
const UnsupportedCase kUnsupported[] = {
    {"test_quantizelinear_float4e2m1", "float4e2m1", "float4e2m1 outputs"},
    {"test_quantizelinear_int2", "int2", "int2 codes"},
    {"test_quantizelinear_uint2", "uint2", "uint2 codes"},
    {"test_dequantizelinear_e4m3fn_float16", "float16", "float8e4m3fn codes with float16 scale and output"},
    {"test_dequantizelinear_float4e2m1", "float4e2m1", "float4e2m1 codes"},
    {"test_dequantizelinear_int2", "int2", "int2 codes"},
    {"test_dequantizelinear_uint2", "uint2", "uint2 codes"},
};

// ---- Reading the vectors --------------------------------------------------------------------------------------

std::string missing_data_message() {
  return "ONNX conformance data not found under " + qmath_test::onnx_dir() +
         " (the shared/ folder beside the checkout): test not run";
}

std::string data_file(const std::string& test, const std::string& file) {
  return qmath_test::onnx_dir() + "/node/" + test + "/data_set_0/" + file;
}

std::int64_t int_attribute(const OnnxTest& t, const std::string& name, std::int64_t fallback) {
  const auto it = t.attributes.find(name);
  return it == t.attributes.end() ? fallback : std::stoll(it->second);
}

std::size_t element_count(const std::vector<std::int64_t>& dims) {
  std::size_t n = 1;
  for (std::int64_t d : dims) n *= static_cast<std::size_t>(d);
  return n;
}

template <class T>
struct type_tag {
  using type = T;
};

/// Calls fn(type_tag<Q>) for the qmath code type named by an ONNX dtype; false when qmath has none.
template <class Fn>
bool with_code_type(const std::string& dtype, Fn&& fn) {
  if (dtype == "int8") fn(type_tag<std::int8_t>{});
  else if (dtype == "uint8") fn(type_tag<std::uint8_t>{});
  else if (dtype == "int16") fn(type_tag<std::int16_t>{});
  else if (dtype == "uint16") fn(type_tag<std::uint16_t>{});
  else if (dtype == "int4") fn(type_tag<qmath::int4>{});
  else if (dtype == "uint4") fn(type_tag<qmath::uint4>{});
  else return false;
  return true;
}

/// ONNX TensorProto element type number of a dtype (for the output_dtype attribute).
int onnx_elem_type(const std::string& dtype) {
  if (dtype == "uint8") return 2;
  if (dtype == "int8") return 3;
  if (dtype == "uint16") return 4;
  if (dtype == "int16") return 5;
  if (dtype == "uint4") return 21;
  if (dtype == "int4") return 22;
  return -1;
}

/// The codes of an unpacked ONNX tensor of code type Q (4-bit codes come one per byte, sign-extended for int4).
template <class Q>
std::vector<std::int32_t> codes_of(const OnnxTensor& t) {
  using Traits = qmath::int_traits<Q>;
  using Container = std::conditional_t<Traits::kPacked, std::conditional_t<Traits::kSigned, std::int8_t, std::uint8_t>,
                                       typename Traits::storage>;
  const std::vector<Container> raw = as_vector<Container>(t);
  return std::vector<std::int32_t>(raw.begin(), raw.end());
}

/// Code i of a buffer in qmath's storage, decoded here (not with qmath's own nibble helpers) so the packed layout is
/// checked independently: element 2k in the low nibble of byte k.
template <class Q>
std::int32_t code_at(const std::vector<typename qmath::int_traits<Q>::storage>& buffer, std::size_t i) {
  using Traits = qmath::int_traits<Q>;
  if constexpr (Traits::kPacked) {
    const unsigned nibble = (i % 2 == 0 ? buffer[i / 2] : buffer[i / 2] >> 4) & 0x0Fu;
    return Traits::kSigned && nibble >= 8 ? static_cast<std::int32_t>(nibble) - 16 : static_cast<std::int32_t>(nibble);
  } else {
    return static_cast<std::int32_t>(buffer[i]);
  }
}

/// ONNX granularity -> qmath granularity: a block_size makes it blocked (qmath per_group, whose slot order is the
/// row-major order of ONNX's blocked scale tensor), a one-element scale is per tensor, a 1-D scale per axis.
/// Also checks that the scale tensor has the shape ONNX prescribes for that granularity.
::testing::AssertionResult granularity_of(const OnnxTest& t, const std::vector<std::int64_t>& x_dims,
                                          const OnnxTensor& scale, qmath::Granularity& g) {
  const auto axis = static_cast<int>(int_attribute(t, "axis", 1));
  const std::int64_t block = int_attribute(t, "block_size", 0);
  const auto rank = static_cast<int>(x_dims.size());
  const std::size_t axis_index = static_cast<std::size_t>(axis < 0 ? axis + rank : axis);
  if (block > 0) {
    g = qmath::per_group(axis, block);
    std::vector<std::int64_t> want = x_dims;
    want.at(axis_index) = (want[axis_index] + block - 1) / block;
    if (scale.shape != want) return ::testing::AssertionFailure() << "blocked scale has an unexpected shape";
  } else if (element_count(scale.shape) == 1) {
    g = qmath::per_tensor();
  } else {
    g = qmath::per_channel(axis);
    if (scale.shape.size() != 1 || scale.shape[0] != x_dims.at(axis_index))
      return ::testing::AssertionFailure() << "per-axis scale must be 1-D with dims[axis] entries";
  }
  return ::testing::AssertionSuccess();
}

/// The parameters an ONNX node describes: scale in slot 1, optional zero point in slot 2 (absent -> 0).
template <class Q>
::testing::AssertionResult params_of(const OnnxTest& t, const std::vector<std::int64_t>& x_dims,
                                     qmath::QParams<Q>& p) {
  const OnnxTensor& scale = t.inputs.at(1);
  if (scale.dtype != "float32") return ::testing::AssertionFailure() << "scale is " << scale.dtype;
  const ::testing::AssertionResult shape_ok = granularity_of(t, x_dims, scale, p.granularity);
  if (!shape_ok) return shape_ok;
  p.scale = as_vector<float>(scale);
  const auto zp = t.inputs.find(2);
  if (zp != t.inputs.end()) {
    if (zp->second.dtype != qmath::int_traits<Q>::kName)
      return ::testing::AssertionFailure() << "zero point is " << zp->second.dtype;
    if (zp->second.shape != scale.shape && element_count(zp->second.shape) != 1)
      return ::testing::AssertionFailure() << "zero point and scale shapes differ";
    p.zero_point = codes_of<Q>(zp->second);
  } else {
    p.zero_point.assign(p.scale.size(), 0);
  }
  p.numerics = qmath::profile::onnx;
  return ::testing::AssertionSuccess();
}

// ---- The checks, one per operator -----------------------------------------------------------------------------

template <class Q>
void check_quantize_linear(const OnnxTest& t) {
  using Traits = qmath::int_traits<Q>;
  const OnnxTensor& x_tensor = t.inputs.at(0);
  ASSERT_EQ(x_tensor.dtype, "float32");
  const std::vector<float> x = as_vector<float>(x_tensor);
  const std::size_t n = x.size();
  ASSERT_EQ(n, element_count(x_tensor.shape));
  qmath::QParams<Q> p;
  ASSERT_TRUE(params_of<Q>(t, x_tensor.shape, p)) << t.name;
  const qmath::TensorShape shape{x_tensor.shape, qmath::storage_order::row_major};

  std::vector<typename Traits::storage> got(Traits::storage_size(n));
  qmath::quantize(x.data(), shape, p, got.data());

  const std::vector<std::int32_t> want = codes_of<Q>(t.outputs.at(0));
  ASSERT_EQ(want.size(), n);
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_EQ(code_at<Q>(got, i), want[i]) << t.name << " element " << i << " x=" << x[i];

  if constexpr (Traits::kPacked) {
    const std::string packed_file = data_file(t.name, "output_0.packed.bin");
    ASSERT_TRUE(qmath_test::file_exists(packed_file)) << packed_file;
    const std::vector<std::uint8_t> want_packed = qmath_test::read_bytes(packed_file);
    ASSERT_EQ(want_packed.size(), got.size());
    for (std::size_t k = 0; k < got.size(); ++k)
      EXPECT_EQ(int{got[k]}, int{want_packed[k]}) << t.name << " packed byte " << k;
  }
}

template <class Q>
void check_dequantize_linear(const OnnxTest& t) {
  using Traits = qmath::int_traits<Q>;
  const OnnxTensor& q_tensor = t.inputs.at(0);
  const std::vector<std::int32_t> codes = codes_of<Q>(q_tensor);
  const std::size_t n = codes.size();
  ASSERT_EQ(n, element_count(q_tensor.shape));
  qmath::QParams<Q> p;
  ASSERT_TRUE(params_of<Q>(t, q_tensor.shape, p)) << t.name;
  const qmath::TensorShape shape{q_tensor.shape, qmath::storage_order::row_major};

  // qmath reads ONNX's packed bytes as they are; they must hold the same codes as the unpacked file.
  std::vector<typename Traits::storage> q;
  if constexpr (Traits::kPacked) {
    const std::string packed_file = data_file(t.name, "input_0.packed.bin");
    ASSERT_TRUE(qmath_test::file_exists(packed_file)) << packed_file;
    q = qmath_test::read_bytes(packed_file);
    ASSERT_EQ(q.size(), Traits::storage_size(n));
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(code_at<Q>(q, i), codes[i]) << "packed input element " << i;
  } else {
    q = as_vector<typename Traits::storage>(q_tensor);
  }

  const OnnxTensor& y_tensor = t.outputs.at(0);
  ASSERT_EQ(y_tensor.dtype, "float32");
  const std::vector<std::uint32_t> want = as_vector<std::uint32_t>(y_tensor);
  ASSERT_EQ(want.size(), n);
  std::vector<float> got(n);
  qmath::dequantize(q.data(), shape, p, got.data());
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_EQ(qmath::f32_bits(got[i]), want[i])
        << t.name << " element " << i << " code=" << codes[i] << " got " << got[i] << " want "
        << qmath::f32_from_bits(want[i]);
}

void check_dynamic_quantize_linear(const OnnxTest& t) {
  const OnnxTensor& x_tensor = t.inputs.at(0);
  ASSERT_EQ(x_tensor.dtype, "float32");
  const std::vector<float> x = as_vector<float>(x_tensor);
  ASSERT_FALSE(x.empty());
  const qmath::TensorShape shape{x_tensor.shape, qmath::storage_order::row_major};

  const qmath::Ranges range = qmath::minmax_ranges(x.data(), shape, qmath::per_tensor());
  ASSERT_EQ(range.min.size(), 1u);
  EXPECT_EQ(range.min[0], *std::min_element(x.begin(), x.end()));
  EXPECT_EQ(range.max[0], *std::max_element(x.begin(), x.end()));
  qmath::ChooseOptions options;
  options.kind = qmath::scheme::affine;
  options.numerics = qmath::profile::onnx;
  const qmath::QParams<std::uint8_t> p = qmath::choose_qparams<std::uint8_t>(range.min[0], range.max[0], options);
  ASSERT_EQ(p.scale.size(), 1u);
  ASSERT_EQ(p.zero_point.size(), 1u);
  EXPECT_TRUE(p.numerics == qmath::profile::onnx) << qmath::profile_name(p.numerics);

  const OnnxTensor& y_scale = t.outputs.at(1);
  const OnnxTensor& y_zero_point = t.outputs.at(2);
  ASSERT_EQ(y_scale.dtype, "float32");
  ASSERT_EQ(y_zero_point.dtype, "uint8");
  const std::uint32_t want_scale = as_vector<std::uint32_t>(y_scale).at(0);
  const std::int32_t want_zero_point = as_vector<std::uint8_t>(y_zero_point).at(0);
  EXPECT_EQ(qmath::f32_bits(p.scale[0]), want_scale)
      << t.name << " scale got " << p.scale[0] << " want " << qmath::f32_from_bits(want_scale);
  EXPECT_EQ(p.zero_point[0], want_zero_point) << t.name;

  // The tensor form of choose_qparams must agree with the range form.
  const qmath::QParams<std::uint8_t> from_data =
      qmath::choose_qparams<std::uint8_t>(x.data(), shape, qmath::per_tensor(), options);
  EXPECT_EQ(qmath::f32_bits(from_data.scale.at(0)), qmath::f32_bits(p.scale[0]));
  EXPECT_EQ(from_data.zero_point.at(0), p.zero_point[0]);

  const std::vector<std::uint8_t> want = as_vector<std::uint8_t>(t.outputs.at(0));
  ASSERT_EQ(want.size(), x.size());
  std::vector<std::uint8_t> got(x.size());
  qmath::quantize(x.data(), shape, p, got.data());
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(int{got[i]}, int{want[i]}) << t.name << " element " << i << " x=" << x[i];
}

// ---- Parameterised over (vector, ISA path) --------------------------------------------------------------------

/// One vector run on one ISA path.
struct VectorOnPath {
  const char* test;
  qmath::isa path;
};
void PrintTo(const VectorOnPath& v, std::ostream* os) { *os << v.test << " on " << qmath::isa_name(v.path); }
void PrintTo(const UnsupportedCase& c, std::ostream* os) { *os << c.test << " (" << c.dtype << ")"; }

template <std::size_t N>
std::vector<VectorOnPath> on_every_path(const char* const (&tests)[N]) {
  std::vector<VectorOnPath> all;
  for (const char* test : tests)
    for (qmath::isa path : qmath_test::compiled_isa_list()) all.push_back({test, path});
  return all;
}

std::string vector_on_path_name(const ::testing::TestParamInfo<VectorOnPath>& info) {
  return std::string(info.param.test) + "_" + qmath::isa_name(info.param.path);
}

// Forces `path` for the rest of the enclosing test body, or skips (visibly) when this CPU cannot run it.
#define ONNX_ENTER_PATH(chosen)                                                                          \
  QMATH_SKIP_IF_UNSUPPORTED(chosen);                                                                      \
  if (qmath::kernels::quantize_kernels(chosen) == nullptr)                                               \
    GTEST_SKIP() << qmath::isa_name(chosen) << " has no quantize kernels: covered by the next lower path"; \
  qmath::ScopedIsaOverride guard(chosen);                                                                 \
  if (!qmath::has(qmath::allowed_isas(), chosen))                                                        \
    GTEST_SKIP() << "the QMATH_ISA environment variable excludes " << qmath::isa_name(chosen);           \
  ASSERT_TRUE(qmath::kernels::active_quantize_kernels().path == (chosen))                                \
      << "dispatch did not pick " << qmath::isa_name(chosen)

#define ONNX_LOAD(name, test)                                                      \
  OnnxTest test;                                                                   \
  if (!qmath_test::load_onnx_test("node", name, test)) GTEST_SKIP() << missing_data_message()

class OnnxQuantizeLinear : public ::testing::TestWithParam<VectorOnPath> {};
class OnnxDequantizeLinear : public ::testing::TestWithParam<VectorOnPath> {};
class OnnxDynamicQuantizeLinear : public ::testing::TestWithParam<VectorOnPath> {};

TEST_P(OnnxQuantizeLinear, MatchesBitForBit) {
  const std::string name = GetParam().test;
  ONNX_LOAD(name, test);
  ONNX_ENTER_PATH(GetParam().path);
  ASSERT_EQ(test.op, "QuantizeLinear");
  // ONNX's output type: output_dtype if given, else the zero point's type, else uint8.
  const std::string out_dtype = test.outputs.at(0).dtype;
  const auto zp = test.inputs.find(2);
  if (test.attributes.count("output_dtype"))
    ASSERT_EQ(int_attribute(test, "output_dtype", 0), onnx_elem_type(out_dtype));
  else if (zp != test.inputs.end())
    ASSERT_EQ(zp->second.dtype, out_dtype);
  else
    ASSERT_EQ(out_dtype, "uint8");
  const bool known = with_code_type(out_dtype, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    check_quantize_linear<Q>(test);
  });
  ASSERT_TRUE(known) << name << ": output type " << out_dtype << " has no qmath code type";
}

TEST_P(OnnxDequantizeLinear, MatchesBitForBit) {
  const std::string name = GetParam().test;
  ONNX_LOAD(name, test);
  ONNX_ENTER_PATH(GetParam().path);
  ASSERT_EQ(test.op, "DequantizeLinear");
  ASSERT_FALSE(test.attributes.count("output_dtype")) << "only float32 outputs (the scale's type) are run here";
  const std::string in_dtype = test.inputs.at(0).dtype;
  const bool known = with_code_type(in_dtype, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    check_dequantize_linear<Q>(test);
  });
  ASSERT_TRUE(known) << name << ": input type " << in_dtype << " has no qmath code type";
}

TEST_P(OnnxDynamicQuantizeLinear, MatchesBitForBit) {
  const std::string name = GetParam().test;
  ONNX_LOAD(name, test);
  ONNX_ENTER_PATH(GetParam().path);
  ASSERT_EQ(test.op, "DynamicQuantizeLinear");
  check_dynamic_quantize_linear(test);
}

INSTANTIATE_TEST_SUITE_P(Conformance, OnnxQuantizeLinear,
                         ::testing::ValuesIn(on_every_path(kQuantizeTests)),
                         vector_on_path_name);
INSTANTIATE_TEST_SUITE_P(Conformance, OnnxDequantizeLinear,
                         ::testing::ValuesIn(on_every_path(kDequantizeTests)),
                         vector_on_path_name);
INSTANTIATE_TEST_SUITE_P(Conformance, OnnxDynamicQuantizeLinear,
                         ::testing::ValuesIn(on_every_path(kDynamicTests)),
                         vector_on_path_name);

// ---- float8: QuantizeLinear / DequantizeLinear through quant/scaled_fp8.hpp ------------------------------------

class OnnxFp8Linear : public ::testing::TestWithParam<VectorOnPath> {};

TEST_P(OnnxFp8Linear, MatchesBitForBit) {
  const std::string name = GetParam().test;
  ONNX_LOAD(name, test);
  QMATH_SKIP_IF_UNSUPPORTED(GetParam().path);
  qmath::ScopedIsaOverride guard(GetParam().path);  // the fp8 conversions dispatch as convert.hpp's do
  const bool quantize = test.op == "QuantizeLinear";
  ASSERT_TRUE(quantize || test.op == "DequantizeLinear") << test.op;
  const OnnxTensor& codes_tensor = quantize ? test.outputs.at(0) : test.inputs.at(0);
  const OnnxTensor& values_tensor = quantize ? test.inputs.at(0) : test.outputs.at(0);
  ASSERT_EQ(values_tensor.dtype, "float32");
  qmath::Fp8Params p;
  if (codes_tensor.dtype == "float8e4m3fn") p.format = qmath::fp8_format::e4m3fn;
  else if (codes_tensor.dtype == "float8e5m2") p.format = qmath::fp8_format::e5m2;
  else FAIL() << "codes of type " << codes_tensor.dtype;
  ASSERT_TRUE(granularity_of(test, values_tensor.shape, test.inputs.at(1), p.granularity));
  p.scale = as_vector<float>(test.inputs.at(1));
  const auto zp = test.inputs.find(2);
  if (zp != test.inputs.end()) {
    ASSERT_EQ(zp->second.dtype, codes_tensor.dtype);
    p.zero_point.clear();
    for (std::uint8_t code : as_vector<std::uint8_t>(zp->second)) p.zero_point.push_back(qmath::fp8_to_f32(code, p.format));
  }
  p.overflow = int_attribute(test, "saturate", 1) ? qmath::overflow_mode::saturate : qmath::overflow_mode::to_infinity;
  const qmath::TensorShape shape{values_tensor.shape};
  const std::vector<std::uint8_t> codes = as_vector<std::uint8_t>(codes_tensor);
  const std::vector<float> values = as_vector<float>(values_tensor);
  ASSERT_EQ(codes.size(), values.size());
  if (quantize) {
    std::vector<std::uint8_t> got(values.size(), 0xAA);
    qmath::quantize_fp8(values.data(), shape, p, got.data());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(static_cast<int>(got[i]), static_cast<int>(codes[i])) << name << " element " << i << " (x = " << values[i] << ")";
  } else {
    std::vector<float> got(values.size(), -1.0f);
    qmath::dequantize_fp8(codes.data(), shape, p, got.data());
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(values[i])) EXPECT_TRUE(std::isnan(got[i])) << name << " element " << i;
      else EXPECT_EQ(qmath::f32_bits(got[i]), qmath::f32_bits(values[i])) << name << " element " << i << ": " << got[i] << " vs " << values[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Conformance, OnnxFp8Linear, ::testing::ValuesIn(on_every_path(kFp8Tests)), vector_on_path_name);

// ---- Vectors qmath cannot run: reported as skipped, not left out ---------------------------------------------

class OnnxUnsupportedType : public ::testing::TestWithParam<UnsupportedCase> {};

TEST_P(OnnxUnsupportedType, SkippedWithReason) {
  const UnsupportedCase c = GetParam();
  ONNX_LOAD(c.test, test);
  // The type given as the reason must really be in the vector, or this list has gone stale.
  bool found = false;
  for (const auto* tensors : {&test.inputs, &test.outputs})
    for (const auto& slot : *tensors) found = found || slot.second.dtype == c.dtype;
  ASSERT_TRUE(found) << c.test << " holds no " << c.dtype << " tensor";
  GTEST_SKIP() << "qmath quantize does not support " << c.what << " (" << test.op << " " << c.test
               << "): vector not run";
}

INSTANTIATE_TEST_SUITE_P(Conformance, OnnxUnsupportedType, ::testing::ValuesIn(kUnsupported),
                         [](const ::testing::TestParamInfo<UnsupportedCase>& info) {
                           return std::string(info.param.test);
                         });

// Every quantization vector in the data's index is either run above or skipped with a reason.
TEST(OnnxQuantizeCensus, EveryQuantizationVectorIsAccountedFor) {
  const std::string index_file = qmath_test::onnx_dir() + "/index.txt";
  std::ifstream index(index_file);
  if (!index) GTEST_SKIP() << missing_data_message();
  std::set<std::string> listed;
  for (const char* name : kQuantizeTests) listed.insert(name);
  for (const char* name : kDequantizeTests) listed.insert(name);
  for (const char* name : kDynamicTests) listed.insert(name);
  for (const char* name : kFp8Tests) listed.insert(name);
  for (const UnsupportedCase& c : kUnsupported) listed.insert(c.test);
  std::size_t seen = 0;
  for (std::string line; std::getline(index, line);) {
    std::istringstream words(line);
    std::string path, op;
    words >> path >> op;
    if (op != "QuantizeLinear" && op != "DequantizeLinear" && op != "DynamicQuantizeLinear") continue;
    ++seen;
    const std::string name = path.substr(path.find('/') + 1);
    EXPECT_TRUE(listed.count(name)) << name << " (" << op << ") is neither run nor skipped by this file";
  }
  EXPECT_EQ(seen, listed.size()) << "a listed vector is missing from " << index_file;
}

}  // namespace
